"""The `hubbub` command."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import shlex
import socket
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import click

from hubbub import __version__
from hubbub.config import Settings, origin_of, parse_limits

if TYPE_CHECKING:
    from hubbub.client.sdk import Client


def database_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--data-dir and --database-url: where a command finds the database."""
    f = click.option(
        "--database-url",
        envvar="HUBBUB_DATABASE_URL",
        default=None,
        help="sqlite:///path, postgresql://... or dynamodb://... [default: sqlite in --data-dir]",
    )(f)
    return click.option(
        "--data-dir",
        envvar="HUBBUB_DATA_DIR",
        default="data",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Where the default SQLite database lives.",
    )(f)


_allow_guests = click.option(
    "--allow-guests/--no-allow-guests",
    envvar="HUBBUB_ALLOW_GUESTS",
    default=False,
    show_default=True,
    help="Allow anonymous S1-tutorial connections (?room_name=).",
)
_guest_rooms = click.option(
    "--guest-rooms",
    envvar="HUBBUB_GUEST_ROOMS",
    type=click.Choice(["existing", "create"]),
    default="existing",
    show_default=True,
    help="Guests may enter only existing public channels, or also create rooms "
    "by naming them (which reveals which names are taken; see docs/protocol.md).",
)


def guests_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--allow-guests and --guest-rooms."""
    return _allow_guests(_guest_rooms(f))


class OneLineUsageError(click.ClickException):
    """A usage error shown as one line (`Error: ... (see `hubbub send --help`)`),
    not click's usage block; the exit status stays 2, as for any usage error."""

    exit_code = 2


def _one_line(exc: click.UsageError) -> click.ClickException:
    if type(exc).__name__ == "NoArgsIsHelpError":  # plain `hubbub`: the help, as usual
        return exc
    hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    return OneLineUsageError(exc.format_message() + hint)


class Main(click.Group):
    """The `hubbub` group: every failure, usage errors included, is one line."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _one_line(exc) from None


def _listen_failed(exc: OSError, host: str, port: int) -> click.ClickException:
    """`serve` / `aws-local` could not bind: one line, not a traceback."""
    return click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def _is_listen_error(exc: OSError) -> bool:
    """Binding the port failed (taken, not ours, no such address or host name)."""
    return isinstance(exc, socket.gaierror) or exc.errno in (
        errno.EADDRINUSE,
        errno.EADDRNOTAVAIL,
        errno.EACCES,
    )


def _store_url(data_dir: Path, database_url: str | None) -> str:
    """The database URL these options name, checked enough to fail in one line."""
    url = Settings(data_dir=data_dir, database_url=database_url).store_url
    scheme = url.partition("://")[0].partition("+")[0]
    if "://" not in url or scheme not in ("sqlite", "postgresql", "postgres", "dynamodb"):
        raise click.BadParameter(
            f"{url!r}: expected sqlite:///path, postgresql://... or dynamodb://...",
            param_hint="--database-url",
        )
    return url


def _check_blob_url(url: str) -> None:
    """Fail in one line on a blob URL that cannot work (bad, or s3:// without boto3)."""
    from hubbub.blobs import open_blobs

    try:
        open_blobs(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--blob-url") from None
    except ImportError:
        raise click.BadParameter(
            "s3:// needs boto3: pip install 'hubbub[aws]'", param_hint="--blob-url"
        ) from None


@click.group(cls=Main)
@click.version_option(__version__)
def main() -> None:
    """hubbub: a self-hostable, Slack-like real-time chat server."""


@main.command()
@click.option("--host", envvar="HUBBUB_HOST", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    envvar="HUBBUB_PORT",
    default=8000,
    show_default=True,
    type=int,
    help="0 picks a free port (printed on start).",
)
@database_options
@click.option(
    "--bus-url",
    envvar="HUBBUB_BUS_URL",
    default="memory://",
    show_default=True,
    help="memory:// (one process) or redis://...",
)
@click.option(
    "--blob-url",
    envvar="HUBBUB_BLOB_URL",
    metavar="URL",
    help="Where uploaded files are kept: file:///dir or "
    "s3://bucket/prefix?region=...&endpoint=... [default: file://DATA_DIR/files].",
)
@guests_option
@click.option(
    "--registration",
    envvar="HUBBUB_REGISTRATION",
    type=click.Choice(["open", "invite", "closed"]),
    default="invite",
    show_default=True,
    help="Who may create an account: anyone, only with an invite link, or nobody "
    "(accounts from `hubbub admin create-user`). The first account is always the owner's.",
)
@click.option(
    "--member-invites/--no-member-invites",
    envvar="HUBBUB_MEMBER_INVITES",
    default=False,
    show_default=True,
    help="Let members (not only admins) create invite links.",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    envvar="HUBBUB_ALLOWED_ORIGIN",
    multiple=True,
    help="Extra browser Origin allowed on /ws (repeatable; "
    "the --public-url origins always are; '*' allows any).",
)
@click.option(
    "--public-url",
    "public_urls",
    envvar="HUBBUB_PUBLIC_URL",
    multiple=True,
    metavar="URL",
    help="Where browsers reach this server, e.g. https://chat.example.com behind a "
    "proxy (repeatable or comma-separated): only pages from these origins may open "
    "/ws [default: where it listens: http://HOST:PORT, and localhost for 127.0.0.1; "
    "for 0.0.0.0 or :: the loopback names only].",
)
@click.option(
    "--limit",
    "limits",
    envvar="HUBBUB_LIMIT",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a limit, e.g. --limit messages_per_second=50 (see docs/protocol.md).",
)
@click.option(
    "--outbound-allow",
    "outbound_allow",
    envvar="HUBBUB_OUTBOUND_ALLOW",
    multiple=True,
    metavar="CIDR",
    help="Addresses that custom commands and webhooks may call although they are "
    "loopback or private, e.g. 10.0.0.0/8 or 127.0.0.1 (repeatable or comma-separated) "
    "[default: public addresses only].",
)
@click.option(
    "--smtp-url",
    envvar="HUBBUB_SMTP_URL",
    default=None,
    metavar="URL",
    help="Send e-mail digests of unread mentions and DMs to offline users through this "
    "SMTP server: smtp://[user:password@]host[:port] (smtp+starttls://...) "
    "[default: none, no e-mail is sent]. Set it on one node of a cluster.",
)
@click.option(
    "--smtp-from",
    envvar="HUBBUB_SMTP_FROM",
    default="hubbub@localhost",
    show_default=True,
    help="The From address of digests.",
)
@click.option(
    "--digest-delay",
    envvar="HUBBUB_DIGEST_DELAY",
    type=click.FloatRange(min=0),
    default=600.0,
    show_default=True,
    help="Seconds an unread mention or DM waits before it goes in an e-mail digest.",
)
@click.option("--log-level", envvar="HUBBUB_LOG_LEVEL", default="info", show_default=True)
@click.option(
    "--access-log/--no-access-log",
    envvar="HUBBUB_ACCESS_LOG",
    default=False,
    show_default=True,
    help="log every HTTP request (off: connections, closes and errors only)",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    database_url: str | None,
    bus_url: str,
    blob_url: str | None,
    allow_guests: bool,
    guest_rooms: Literal["existing", "create"],
    registration: Literal["open", "invite", "closed"],
    member_invites: bool,
    allowed_origins: tuple[str, ...],
    public_urls: tuple[str, ...],
    limits: tuple[str, ...],
    outbound_allow: tuple[str, ...],
    smtp_url: str | None,
    smtp_from: str,
    digest_delay: float,
    log_level: str,
    access_log: bool,
) -> None:
    """Run the server (HTTP and WebSocket on one port)."""
    from hubbub.outbound import parse_allow
    from hubbub.server.run import run

    try:
        allowed = parse_allow(outbound_allow)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--outbound-allow") from None

    try:
        parsed = parse_limits(limits)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--limit") from None
    origins = tuple(o for item in allowed_origins for o in item.split() if o)
    urls = tuple(u for item in public_urls for u in re.split(r"[\s,]+", item) if u)
    try:
        for url in urls:
            origin_of(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--public-url") from None
    _store_url(data_dir, database_url)
    if blob_url is not None:
        _check_blob_url(blob_url)
    if smtp_url is not None:
        from hubbub.mailer import check_smtp_url

        try:
            check_smtp_url(smtp_url)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--smtp-url") from None
    try:
        run(
            Settings(
                host=host,
                port=port,
                data_dir=data_dir,
                database_url=database_url,
                bus_url=bus_url,
                blob_url=blob_url,
                allow_guests=allow_guests,
                guest_rooms=guest_rooms,
                registration=registration,
                members_may_invite=member_invites,
                allowed_origins=origins,
                public_urls=urls,
                limits=parsed,
                outbound_allow=tuple(str(net) for net in allowed),
                smtp_url=smtp_url,
                smtp_from=smtp_from,
                digest_delay=digest_delay,
                log_level=log_level,
                access_log=access_log,
            )
        )
    except OSError as exc:
        if not _is_listen_error(exc):
            raise
        raise _listen_failed(exc, host, port) from None


@main.command()
@database_options
def migrate(data_dir: Path, database_url: str | None) -> None:
    """Bring the database schema up to date, then exit (every `serve` also does
    this on start; run it once before rolling out several nodes)."""
    from hubbub.store import StoreError, open_store

    url = _store_url(data_dir, database_url)

    async def go() -> tuple[str | None, str | None] | None:
        store = open_store(url)
        try:
            await store.open()
        finally:
            await store.close()
        revisions: tuple[str | None, str | None] | None = getattr(store, "schema_revisions", None)
        return revisions

    try:
        revisions = asyncio.run(go())
    except (StoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except ImportError as exc:  # a backend's extra (asyncpg, boto3)
        raise click.ClickException(f"{url.partition(':')[0]} needs {exc.name}: {exc}") from None
    click.echo(migrate_message(revisions))


def migrate_message(revisions: tuple[str | None, str | None] | None) -> str:
    """What `migrate` did, in one line."""
    if revisions is None:  # DynamoDB: tables, no schema revisions
        return "database tables are ready (no schema migrations for this backend)"
    before, after = revisions
    if before is None:
        return f"created the database schema at revision {after}"
    if before == after:
        return f"database schema already at revision {after}: nothing to do"
    return f"upgraded the database schema from revision {before} to {after}"


def _transfer_failed(url: str, exc: Exception) -> click.ClickException:
    """A database failure during `export` / `import`, in one line."""
    if isinstance(exc, ImportError):  # a backend's extra (asyncpg, boto3)
        return click.ClickException(f"{url.partition(':')[0]} needs {exc.name}: {exc}")
    return click.ClickException(str(exc))


@main.command("export")
@database_options
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write here (written whole, then renamed into place) [default: standard output].",
)
def export_command(data_dir: Path, database_url: str | None, output: Path) -> None:
    """Write the workspace as JSON lines: users (without password hashes),
    channels, memberships and messages with their state. `hubbub import`
    reads it back. See docs/import-export.md."""
    from hubbub import __version__
    from hubbub.store import StoreError
    from hubbub.transfer.run import export_database

    url = _store_url(data_dir, database_url)
    sqlite = url.partition(":///")[2].partition("?")[0] if url.startswith("sqlite") else ""
    if sqlite and not Path(sqlite).is_file():
        raise click.ClickException(f"no database at {sqlite} (see --data-dir, --database-url)")
    generator = f"hubbub {__version__}"
    try:
        if str(output) == "-":
            counts = asyncio.run(export_database(url, sys.stdout.buffer.write, generator=generator))
            sys.stdout.flush()
        else:
            partial = output.with_name(f".{output.name}.partial")
            try:
                with partial.open("wb") as f:
                    counts = asyncio.run(export_database(url, f.write, generator=generator))
                partial.replace(output)
            finally:
                partial.unlink(missing_ok=True)
    except (StoreError, ValueError, ImportError) as exc:
        raise _transfer_failed(url, exc) from None
    except BrokenPipeError:  # `hubbub export | head`
        sys.stderr.close()
        sys.exit(0)
    where = "standard output" if str(output) == "-" else str(output)
    click.echo(
        f"exported {counts['user']} users, {counts['channel']} channels, "
        f"{counts['membership']} memberships, {counts['message']} messages to {where}",
        err=True,
    )


@main.command("import")
@database_options
@click.argument("path", metavar="FILE")
@click.option(
    "--dry-run", is_flag=True, help="Read and check FILE, say what it holds; store nothing."
)
def import_command(data_dir: Path, database_url: str | None, path: str, dry_run: bool) -> None:
    """Import FILE: a Slack export ZIP, or JSON lines from `hubbub export`
    (`-`: standard input). It is checked whole before anything is stored
    (refused whole if unreadable), then imported idempotently: running it
    again stores nothing twice. Prints what was imported and what was
    skipped, and why. See docs/import-export.md."""
    from hubbub.store import StoreError
    from hubbub.transfer.report import Refused
    from hubbub.transfer.run import import_plan, read_input

    url = _store_url(data_dir, database_url)
    try:
        plan = read_input(path)
    except Refused as exc:
        raise click.ClickException(f"refused: {exc}") from None
    if dry_run:
        click.echo("\n".join(plan.report.lines(stored=False)))
        return
    try:
        report = asyncio.run(import_plan(url, plan))
    except (StoreError, ValueError, ImportError) as exc:
        raise click.ClickException(
            f"{_transfer_failed(url, exc).message}; run the same import again to finish it "
            "(it stores only what is missing)"
        ) from None
    click.echo("\n".join(report.lines(stored=True)))


@main.group()
def admin() -> None:
    """Run the workspace from the database, without a web browser: create
    accounts, set roles, deactivate, reset passwords. Each action is in the
    audit log (by the operator). With --bus-url (the servers' Redis), open
    connections of a deactivated account close at once; without it, its
    tokens are refused within a second and its connections close when their
    server next checks (docs/deploy.md)."""


def _admin_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--bus-url",
        envvar="HUBBUB_BUS_URL",
        default="memory://",
        show_default=True,
        help="The servers' bus (redis://...), to reach their open connections.",
    )(f)
    return database_options(f)


def _run_admin(
    data_dir: Path, database_url: str | None, bus_url: str, action: Callable[[Any], Any]
) -> Any:
    """Run `action(hub)` on a hub over the database (and bus), in one line on failure."""
    from hubbub.bus import open_bus
    from hubbub.core.hub import Hub
    from hubbub.protocol.errors import ChatError
    from hubbub.protocol.limits import Limits
    from hubbub.store import StoreError, open_store

    url = _store_url(data_dir, database_url)

    async def go() -> Any:
        hub = Hub(open_store(url), open_bus(bus_url), Limits())
        await hub.start()
        try:
            return await action(hub)
        finally:
            await hub.stop()
            await hub.bus.close()

    try:
        return asyncio.run(go())
    except ChatError as err:
        raise click.ClickException(f"{err.message} ({err.code.name})") from None
    except (StoreError, ValueError, ImportError) as exc:
        raise _transfer_failed(url, exc) from None


_ROLES = click.Choice(["owner", "admin", "member", "guest"])


def _new_password(ctx: click.Context, param: click.Parameter, value: bool) -> str:
    """The new password: a line of standard input with --password-stdin (for
    scripts), else asked twice (never an argument: it would be in `ps`)."""
    if value:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("New password", hide_input=True, confirmation_prompt=True))


_password_option = click.option(
    "--password-stdin",
    "password",
    is_flag=True,
    callback=_new_password,
    help="Read the password from the first line of standard input.",
)


@admin.command("create-user")
@_admin_options
@click.argument("username")
@click.option("--role", type=_ROLES, default="member", show_default=True)
@click.option("--display-name", default="", help="[default: the username]")
@_password_option
def admin_create_user(
    data_dir: Path,
    database_url: str | None,
    bus_url: str,
    username: str,
    role: str,
    display_name: str,
    password: str,
) -> None:
    """Create an account (whatever --registration says)."""
    user = _run_admin(
        data_dir,
        database_url,
        bus_url,
        lambda hub: hub.admin.create_user(username, password, display_name, role),
    )
    click.echo(f"created {user.username} ({user.role})")


@admin.command("set-role")
@_admin_options
@click.argument("username")
@click.argument("role", type=_ROLES)
def admin_set_role(
    data_dir: Path, database_url: str | None, bus_url: str, username: str, role: str
) -> None:
    """Give USERNAME a role (the last active owner stays one)."""
    user = _run_admin(
        data_dir, database_url, bus_url, lambda hub: hub.admin.set_role(None, username, role)
    )
    click.echo(f"{user.username} is now {user.role}")


@admin.command("deactivate")
@_admin_options
@click.argument("username")
def admin_deactivate(data_dir: Path, database_url: str | None, bus_url: str, username: str) -> None:
    """Deactivate an account: its sessions end, its messages stay."""
    _run_admin(
        data_dir, database_url, bus_url, lambda hub: hub.admin.set_active(None, username, False)
    )
    click.echo(f"deactivated {username}")


@admin.command("reactivate")
@_admin_options
@click.argument("username")
def admin_reactivate(data_dir: Path, database_url: str | None, bus_url: str, username: str) -> None:
    """Let a deactivated account log in again."""
    _run_admin(
        data_dir, database_url, bus_url, lambda hub: hub.admin.set_active(None, username, True)
    )
    click.echo(f"reactivated {username}")


@admin.command("reset-password")
@_admin_options
@click.argument("username")
@_password_option
def admin_reset_password(
    data_dir: Path, database_url: str | None, bus_url: str, username: str, password: str
) -> None:
    """Set a new password for USERNAME; every session of it ends."""
    _run_admin(
        data_dir, database_url, bus_url, lambda hub: hub.admin.reset_password(username, password)
    )
    click.echo(f"new password set for {username}; its sessions ended")


@admin.command("users")
@_admin_options
def admin_users(data_dir: Path, database_url: str | None, bus_url: str) -> None:
    """List the accounts: username, role, and whether deactivated."""

    async def every(hub: Any) -> list[Any]:
        out: list[Any] = []
        after = None
        while True:
            page = await hub.store.search_users("", after, 500)
            out += page
            if len(page) < 500:
                return out
            after = page[-1].username

    for u in _run_admin(data_dir, database_url, bus_url, every):
        state = "" if u.active else "  (deactivated)"
        click.echo(f"{u.username:32} {u.role:7} {u.display_name}{state}")


@main.command("aws-local")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3001, show_default=True, type=int, help="0 picks a free port.")
@click.option("--stage", default="local", show_default=True, help="The API's stage name.")
@click.option(
    "--dynamodb-endpoint",
    envvar="HUBBUB_DYNAMODB_ENDPOINT",
    default=None,
    help="Use this DynamoDB (e.g. http://127.0.0.1:8001) [default: start moto here].",
)
@click.option("--prefix", default="hubbub-", show_default=True, help="Table name prefix.")
@guests_option
@click.option("--limit", "limits", multiple=True, metavar="NAME=VALUE", help="As for serve.")
@click.option("--workers", default=8, show_default=True, help="Concurrent Lambda invocations.")
@click.option("--log-level", default="warning", show_default=True)
@click.option(
    "--blob-url",
    envvar="HUBBUB_BLOB_URL",
    metavar="URL",
    help="Files in this S3 bucket (s3://bucket/prefix?endpoint=...&create=1), uploaded "
    "through presigned forms [default: no files].",
)
@click.option(
    "--outbound-allow",
    "outbound_allow",
    multiple=True,
    metavar="CIDR",
    help="As for serve: loopback or private addresses custom commands and webhooks may call.",
)
@click.option(
    "--schedule-seconds",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Run the scheduled functions (outgoing webhooks' deliveries) this often "
    "[default: their own rate, once a minute].",
)
def aws_local(
    host: str,
    port: int,
    stage: str,
    dynamodb_endpoint: str | None,
    prefix: str,
    allow_guests: bool,
    guest_rooms: str,
    limits: tuple[str, ...],
    workers: int,
    log_level: str,
    blob_url: str | None,
    outbound_allow: tuple[str, ...],
    schedule_seconds: float | None,
) -> None:
    """Run the Lambda handlers behind a local API Gateway (WebSocket API,
    Management API, GET /ping) and EventBridge (the scheduled functions) on
    DynamoDB served by moto. See docs/deploy-aws.md."""
    if blob_url is not None:
        if not blob_url.startswith("s3://"):
            # As on Lambda (aws/runtime.py): a container's disk is not shared.
            raise click.BadParameter("must be an s3:// URL on Lambda", param_hint="--blob-url")
        _check_blob_url(blob_url)
    try:
        parse_limits(limits)
        from hubbub.aws.local import LocalSettings, run
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--limit") from None
    except ImportError as exc:
        raise click.ClickException(
            f"hubbub aws-local needs {exc.name or exc} (the aws-local extra: boto3 and moto), "
            f"which is not installed; {aws_local_hint()}"
        ) from None
    try:
        run(
            LocalSettings(
                host=host,
                port=port,
                stage=stage,
                dynamodb_endpoint=dynamodb_endpoint,
                prefix=prefix,
                allow_guests=allow_guests,
                guest_rooms=guest_rooms,
                limits=limits,
                workers=workers,
                log_level=log_level,
                blob_url=blob_url,
                outbound_allow=outbound_allow,
                schedule_seconds=schedule_seconds,
            )
        )
    except OSError as exc:
        if not _is_listen_error(exc):
            raise
        raise _listen_failed(exc, host, port) from None


def aws_local_hint() -> str:
    """The exact command that installs the extra and runs what was asked."""
    argv = sys.argv[1:]
    args = argv[argv.index("aws-local") + 1 :] if "aws-local" in argv else []
    rest = "".join(" " + shlex.quote(a) for a in args)
    # A source checkout (src/hubbub/cli.py): its script sets up .venv with the extra.
    root = Path(__file__).resolve().parents[2]
    script = root / "scripts" / "aws-local"
    if (root / "pyproject.toml").is_file() and script.is_file():
        shown = "./scripts/aws-local" if Path.cwd().resolve() == root else shlex.quote(str(script))
        return f"run {shown}{rest} (it installs the extra into .venv first)"
    pip = f"{shlex.quote(sys.executable)} -m pip install 'hubbub[aws-local]'"
    return f"run {pip} && hubbub aws-local{rest}"


# --- client commands ---------------------------------------------------------

server_option = click.option(
    "--server",
    envvar="HUBBUB_SERVER",
    default=None,
    help="Server URL [default: the profile's, saved by `hubbub login`, else http://127.0.0.1:8000].",
)


def _check_profile(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    from hubbub.client import config

    try:
        return config.profile_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


profile_option = click.option(
    "--profile",
    envvar="HUBBUB_PROFILE",
    default=None,
    callback=_check_profile,
    help="Which saved login to use or save, so several users on one machine keep "
    "theirs [default: $HUBBUB_PROFILE, else 'default'].",
)

TARGET_HELP = "#channel (or channel), @user for the DM with them, @user1,user2 for a group DM."


def _check_server_url(url: str) -> None:
    """`--server` must be an http(s) URL: one line now, not an odd failure later."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and " " not in url
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        ok = False
    if not ok:
        raise click.ClickException(
            f"bad server URL {url!r}: expected http://HOST[:PORT] or https://HOST[:PORT]"
        )


def _login_hint(profile: str) -> str:
    from hubbub.client import config

    return "hubbub login" + ("" if profile == config.DEFAULT_PROFILE else f" --profile {profile}")


# --- notification preferences (docs/notifications.md) ------------------------------------


@main.group()
def notify() -> None:
    """Your notification preferences, the same on every device: do not
    disturb, and each channel's level and mute."""


def _show_settings(s: Any) -> str:
    import time

    now = int(time.time() * 1000)
    parts = []
    if s.dnd_until is not None and s.dnd_until > now:
        parts.append(f"do not disturb for {max(1, round((s.dnd_until - now) / 60_000))} more min")
    elif s.dnd:
        parts.append("do not disturb (your schedule)")
    else:
        parts.append("do not disturb off")
    if s.schedule is not None:
        parts.append(f"every day {s.schedule.start}-{s.schedule.end} ({s.schedule.tz})")
    parts.append(f"e-mail digests {'on' if s.email_digest else 'off'}")
    if s.email:
        parts.append(f"to {s.email}")
    return ", ".join(parts)


@notify.command("show")
@server_option
@profile_option
@click.argument("channel", required=False)
def notify_show(server: str | None, profile: str, channel: str | None) -> None:
    """Your settings, or with CHANNEL (`#ops`) your level and mute there."""

    async def go(client: Client) -> None:
        if channel is None:
            click.echo(_show_settings(await client.notifications()))
            return
        p = await client.channel_notifications(channel.lstrip("#"))
        click.echo(f"#{p.channel}: {p.level}{', muted' if p.muted else ''}")

    _run_client(go, server, profile)


@notify.command("dnd")
@server_option
@profile_option
@click.argument("duration")
def notify_dnd(server: str | None, profile: str, duration: str) -> None:
    """Do not disturb for DURATION (`30m`, `2h`, `1d`, `90` minutes), or `off`."""
    from hubbub.core.commands import dnd_minutes
    from hubbub.protocol.errors import ChatError

    if duration.lower() == "off":
        changes: dict[str, Any] = {"dnd_until": None}
    else:
        try:
            changes = {"dnd_minutes": dnd_minutes(duration)}
        except ChatError as exc:
            why = (
                "30m, 2h, 1d, 90 (minutes) or off"
                if exc.message.startswith("usage")
                else exc.message
            )
            raise click.BadParameter(why, param_hint="DURATION") from None

    async def go(client: Client) -> None:
        click.echo(_show_settings(await client.set_notifications(**changes)))

    _run_client(go, server, profile)


@notify.command("channel")
@server_option
@profile_option
@click.argument("channel")
@click.option("--level", type=click.Choice(["all", "mentions", "nothing"]), default=None)
@click.option("--mute/--unmute", default=None, help="Mute it, or unmute it.")
def notify_channel(
    server: str | None, profile: str, channel: str, level: str | None, mute: bool | None
) -> None:
    """Set your level (--level) or mute (--mute/--unmute) in CHANNEL."""
    if level is None and mute is None:
        raise click.UsageError("give --level, --mute or --unmute")

    async def go(client: Client) -> None:
        p = await client.set_channel_notifications(channel.lstrip("#"), level=level, muted=mute)
        click.echo(f"#{p.channel}: {p.level}{', muted' if p.muted else ''}")

    _run_client(go, server, profile)


def _run_client(
    coro_fn: Callable[[Client], Coroutine[Any, Any, None]],
    server: str | None,
    profile: str,
    *,
    need_token: bool = True,
) -> None:
    """Run a client command; turn every failure into one clear line (exit 1)."""
    from hubbub.client import config
    from hubbub.client.sdk import Client as _Client
    from hubbub.client.sdk import HubbubError

    saved = config.load(profile)
    url = (server or saved.get("server") or config.DEFAULT_SERVER).rstrip("/")
    _check_server_url(url)
    token = os.environ.get("HUBBUB_TOKEN") or (
        saved.get("token") if saved.get("server") == url else None
    )
    if need_token and not token:
        if saved.get("server"):
            why = f" (profile {profile!r} is {saved.get('username')} on {saved['server']})"
        else:
            why = "" if profile == config.DEFAULT_PROFILE else f" (no profile {profile!r} yet)"
        raise click.ClickException(
            f"not logged in to {url}{why}: run `{_login_hint(profile)}` first"
        )

    async def go() -> None:
        async with _Client(url, token) as client:
            await coro_fn(client)

    try:
        asyncio.run(go())
    except HubbubError as exc:
        hint = (
            f" (run `{_login_hint(profile)}` again)"
            if exc.code in ("token_expired", "token_invalid", "auth_failed")
            else ""
        )
        raise click.ClickException(f"{exc.message}{hint}") from None
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `hubbub tail | head`
        sys.stderr.close()
        sys.exit(0)
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if os.environ.get("HUBBUB_DEBUG"):
            raise
        raise click.ClickException(
            f"unexpected error: {exc!r} (HUBBUB_DEBUG=1 shows the traceback)"
        ) from None


def _account_command(action: str) -> Callable[..., None]:
    @server_option
    @profile_option
    @click.option("-u", "--username", prompt=True)
    @click.option(
        "-p",
        "--password",
        envvar="HUBBUB_PASSWORD",
        prompt=True,
        hide_input=True,
        confirmation_prompt=action == "register",
    )
    def command(server: str | None, profile: str, username: str, password: str) -> None:
        from hubbub.client import config

        async def go(client: Client) -> None:
            if action == "register":
                await client.register(username, password)
            else:
                await client.login(username, password)
            before = config.load(profile)
            path = config.save(
                {"server": client.server, "username": username, "token": client.token}, profile
            )
            click.echo(
                f"{action} ok: {username} on {client.server} "
                f"(profile {profile!r}; token saved in {path})"
            )
            old = (before.get("username"), before.get("server"))
            if old[0] and old != (username, client.server):
                click.echo(
                    f"note: profile {profile!r} was {old[0]} on {old[1]} and is now {username}; "
                    "keep several logins with --profile NAME or HUBBUB_PROFILE",
                    err=True,
                )

        _run_client(go, server, profile, need_token=False)

    return command


main.command(
    "register", help="Create an account and save its token (in the profile: see --profile)."
)(_account_command("register"))
main.command(
    "login",
    help="Log in and save the token for the other commands (in the profile: see --profile).",
)(_account_command("login"))


@main.command()
@server_option
@profile_option
@click.option("-c", "--channel", required=True, metavar="TARGET", help=TARGET_HELP)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@click.option(
    "--thread",
    "thread_root",
    type=click.IntRange(min=1),
    default=None,
    metavar="SEQ",
    help="Reply in the thread of message SEQ (as `tail` shows it: `#12`).",
)
@click.option(
    "--broadcast", is_flag=True, help="With --thread: also show the reply in the channel."
)
@click.option(
    "-f",
    "--file",
    "paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
    help="Attach this file (repeat for several): one message with TEXT, if given, and the files.",
)
@click.argument("text", required=False)
def send(
    server: str | None,
    profile: str,
    channel: str,
    quiet: bool,
    thread_root: int | None,
    broadcast: bool,
    paths: tuple[Path, ...],
    text: str | None,
) -> None:
    """Send TEXT to a channel or DM, or each line of standard input as one message;
    then say where it went (`sent to #general (seq 12)`, on stderr). With
    --file, one message with the files (and TEXT, if given)."""
    from hubbub.client.lines import send_files, send_lines, sent_line
    from hubbub.client.targets import open_target, parse_target

    if text is not None and not text.strip() and not paths:
        raise click.ClickException("nothing to send: TEXT is blank")
    if broadcast and thread_root is None:
        raise OneLineUsageError("--broadcast needs --thread SEQ (see `hubbub send --help`)")

    async def go(client: Client) -> None:
        target = parse_target(channel)
        name = (
            target.channel
            if target.channel is not None
            else (await open_target(client, target))["name"]
        )
        if paths:
            one = await send_files(
                client, name, paths, text or "", thread_root=thread_root, broadcast=broadcast
            )
            sent = [one]
        else:
            lines = [text] if text is not None else sys.stdin
            sent = await send_lines(
                client, name, lines, thread_root=thread_root, broadcast=broadcast
            )
        if not quiet:
            click.echo(sent_line(sent, target.label), err=True)

    _run_client(go, server, profile)


# --- API tokens and bots (a login's, not a token's: docs/integrations.md) -----------------


@main.group()
def token() -> None:
    """Long-lived API tokens for scripts and CI (yours, or a bot's with --bot).
    Use one with `HUBBUB_TOKEN=hbt... hubbub send ...` or `Authorization: Bearer`."""


bot_option = click.option("--bot", default=None, help="A bot you manage: its tokens, not yours.")


@token.command("create")
@server_option
@profile_option
@bot_option
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(["read", "write", "admin"]),
    help="What it may do (repeat it) [default: read and write].",
)
@click.argument("name")
def token_create(
    server: str | None, profile: str, bot: str | None, scopes: tuple[str, ...], name: str
) -> None:
    """Make a token called NAME and print it (shown this once)."""

    async def go(client: Client) -> None:
        made = await client.create_token(name, scopes=list(scopes) or None, bot=bot)
        click.echo(made["token"])
        click.echo(f"token {made['id']} ({', '.join(made['scopes'])}): keep it secret", err=True)

    _run_client(go, server, profile)


@token.command("list")
@server_option
@profile_option
@bot_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def token_list(server: str | None, profile: str, bot: str | None, as_json: bool) -> None:
    """Your standing tokens (never their secrets), the most recently used first."""

    async def go(client: Client) -> None:
        for t in await client.tokens(bot=bot):
            if as_json:
                click.echo(json.dumps(t))
                continue
            used = "never used" if t["last_used_at"] is None else _when(t["last_used_at"])
            click.echo(f"{t['id']}  {t['name']}  [{','.join(t['scopes'])}]  {used}")

    _run_client(go, server, profile)


@token.command("revoke")
@server_option
@profile_option
@bot_option
@click.argument("token_id")
def token_revoke(server: str | None, profile: str, bot: str | None, token_id: str) -> None:
    """End the token TOKEN_ID (as `token list` shows it): refused from now on."""

    async def go(client: Client) -> None:
        await client.revoke_token(token_id, bot=bot)
        click.echo(f"revoked {token_id}", err=True)

    _run_client(go, server, profile)


@main.group()
def bot() -> None:
    """Bot accounts: no password, owned by you, used through API tokens."""


@bot.command("create")
@server_option
@profile_option
@click.option("--display-name", default="", help="[default: the username]")
@click.argument("username")
def bot_create(server: str | None, profile: str, display_name: str, username: str) -> None:
    """Make a bot called USERNAME; then `hubbub token create --bot USERNAME NAME`."""

    async def go(client: Client) -> None:
        made = await client.create_bot(username, display_name)
        click.echo(f"bot {made['username']} created (owner {made['owner']})", err=True)

    _run_client(go, server, profile)


@bot.command("list")
@server_option
@profile_option
def bot_list(server: str | None, profile: str) -> None:
    """The bots you manage (an admin: every bot)."""

    async def go(client: Client) -> None:
        for b in await client.bots():
            gone = "  (deactivated)" if b.get("deactivated") else ""
            click.echo(f"{b['username']}  {b['display_name']}  owner {b['owner']}{gone}")

    _run_client(go, server, profile)


@bot.command("deactivate")
@server_option
@profile_option
@click.argument("username")
def bot_deactivate(server: str | None, profile: str, username: str) -> None:
    """Deactivate the bot USERNAME: its tokens end, its connections close."""

    async def go(client: Client) -> None:
        await client.set_bot_active(username, False)
        click.echo(f"deactivated {username}", err=True)

    _run_client(go, server, profile)


# --- webhooks (a login's: docs/integrations.md) -------------------------------------------


@main.group()
def hook() -> None:
    """Webhooks: incoming (a URL that posts Slack's webhook JSON into a channel)
    and outgoing (a channel's messages POSTed to a URL)."""


@hook.command("create")
@server_option
@profile_option
@click.option("--bot", default=None, help="Post as this bot of yours (added to the channel).")
@click.argument("channel")
@click.argument("name")
def hook_create(server: str | None, profile: str, bot: str | None, channel: str, name: str) -> None:
    """Make an incoming hook called NAME into CHANNEL and print its URL (shown this once)."""

    async def go(client: Client) -> None:
        made = await client.create_hook(channel.lstrip("#"), name, bot=bot)
        click.echo(made["url"])
        click.echo(
            f"hook {made['id']} posts into #{made['channel']} as {made['poster']}: "
            "keep the URL secret",
            err=True,
        )

    _run_client(go, server, profile)


@hook.command("create-outgoing")
@server_option
@profile_option
@click.option("--bot", default=None, help="Answer as this bot of yours (added to the channel).")
@click.option(
    "--trigger",
    "triggers",
    multiple=True,
    help="Only messages starting with this word (repeatable) [default: every message].",
)
@click.option(
    "--format",
    "body_format",
    type=click.Choice(["form", "json"]),
    default="form",
    show_default=True,
    help="Slack's form-encoded payload, or the same fields as JSON.",
)
@click.argument("channel")
@click.argument("name")
@click.argument("url")
def hook_create_outgoing(
    server: str | None,
    profile: str,
    bot: str | None,
    triggers: tuple[str, ...],
    body_format: str,
    channel: str,
    name: str,
    url: str,
) -> None:
    """Make an outgoing hook called NAME that POSTs CHANNEL's messages to URL;
    print its signing secret (what its receiver checks X-Slack-Signature with)."""

    async def go(client: Client) -> None:
        made = await client.create_outgoing_hook(
            channel.lstrip("#"), name, url, triggers=triggers, format=body_format, bot=bot
        )
        click.echo(made["signing_secret"])
        click.echo(
            f"hook {made['id']} sends #{made['channel']}'s messages to {made['url']}; "
            f"answers are posted as {made['poster']}",
            err=True,
        )

    _run_client(go, server, profile)


@hook.command("list")
@server_option
@profile_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def hook_list(server: str | None, profile: str, as_json: bool) -> None:
    """The hooks you made (an admin: every one), never incoming ones' URLs;
    an outgoing one with where its deliveries stand."""

    async def go(client: Client) -> None:
        incoming = [{**h, "kind": "incoming"} for h in await client.hooks()]
        outgoing = [{**h, "kind": "outgoing"} for h in await client.outgoing_hooks()]
        for h in incoming + outgoing:
            if as_json:
                click.echo(json.dumps(h))
            elif h["kind"] == "incoming":
                click.echo(f"{h['id']}  {h['name']}  #{h['channel']}  as {h['poster']}")
            else:
                d = h["delivery"]
                state = f"{d['delivered']} delivered, {d['dead']} given up"
                if d["attempts"]:
                    state += f", retrying ({d['attempts']} failed: {d['last_error']})"
                click.echo(f"{h['id']}  {h['name']}  #{h['channel']} -> {h['url']}  {state}")

    _run_client(go, server, profile)


@hook.command("delete")
@server_option
@profile_option
@click.argument("hook_id")
def hook_delete(server: str | None, profile: str, hook_id: str) -> None:
    """Delete the hook HOOK_ID (as `hook list` shows it): an incoming one's
    URL answers 404, an outgoing one sends nothing more."""

    async def go(client: Client) -> None:
        if any(h["id"] == hook_id for h in await client.outgoing_hooks()):
            await client.delete_outgoing_hook(hook_id)
        else:
            await client.delete_hook(hook_id)
        click.echo(f"deleted {hook_id}", err=True)

    _run_client(go, server, profile)


# --- custom slash commands (admins, with a login: docs/integrations.md) ------------------


@main.group()
def command() -> None:
    """Custom slash commands (admins): /name runs by POSTing Slack's payload to a URL."""


@command.command("create")
@server_option
@profile_option
@click.option("--description", default="", help="What it does, for /help and the web app.")
@click.option("--usage", default="", help="Its arguments, e.g. '[service] [env]'.")
@click.argument("name")
@click.argument("url")
def command_create(
    server: str | None, profile: str, description: str, usage: str, name: str, url: str
) -> None:
    """Register /NAME to POST Slack's slash-command payload to URL; print the
    signing secret its server checks X-Slack-Signature with."""

    async def go(client: Client) -> None:
        made = await client.create_custom_command(name, url, description=description, usage=usage)
        click.echo(made["signing_secret"])
        click.echo(f"{made['command']} POSTs to {made['url']}", err=True)

    _run_client(go, server, profile)


@command.command("list")
@server_option
@profile_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (secrets too).")
def command_list(server: str | None, profile: str, as_json: bool) -> None:
    """Every custom command: its name and usage, URL and description."""

    async def go(client: Client) -> None:
        for c in await client.custom_commands():
            if as_json:
                click.echo(json.dumps(c))
            else:
                line = f"{c['command']} {c['usage']}".strip()
                click.echo(f"{line}  {c['url']}  {c['description']}".rstrip())

    _run_client(go, server, profile)


@command.command("delete")
@server_option
@profile_option
@click.argument("name")
def command_delete(server: str | None, profile: str, name: str) -> None:
    """Remove /NAME: it is an unknown command from now on."""

    async def go(client: Client) -> None:
        await client.delete_custom_command(name)
        click.echo(f"deleted /{name.lstrip('/')}", err=True)

    _run_client(go, server, profile)


def _when(ms: int) -> str:
    return "last used " + time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


@main.command()
@server_option
@profile_option
@click.option("--thumbnail", is_flag=True, help="The image's thumbnail instead of the file.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to save it: a file, or a directory to save it in under its own name "
    "(the default: the current directory).",
)
@click.argument("file_id")
def download(
    server: str | None, profile: str, thumbnail: bool, output: Path | None, file_id: str
) -> None:
    """Save the file FILE_ID (as `tail` and the chat show it: `id ...`)."""

    async def go(client: Client) -> None:
        dest = await client.download(file_id, output or Path("."), thumbnail=thumbnail)
        click.echo(f"saved {dest} ({dest.stat().st_size} bytes)", err=True)

    _run_client(go, server, profile)


@main.command()
@server_option
@profile_option
@click.option("-c", "--channel", required=True, metavar="TARGET", help=TARGET_HELP)
@click.option("--since", type=int, default=None, help="Also print messages after this seq.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail(server: str | None, profile: str, channel: str, since: int | None, as_json: bool) -> None:
    """Print a channel's or DM's messages as they arrive (Ctrl+C to stop)."""
    from hubbub.client.lines import tail as run_tail
    from hubbub.client.targets import open_target

    async def go(client: Client) -> None:
        body = await open_target(client, channel)
        await run_tail(client, body["name"], since, as_json)

    _run_client(go, server, profile)


@main.command()
@server_option
@profile_option
@click.option(
    "--order",
    type=click.Choice(["newest", "relevance"]),
    default="newest",
    show_default=True,
    help="Newest first, or best match first.",
)
@click.option("-n", "--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0, 10_000), default=0, help="Matches to skip.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.argument("query")
def search(
    server: str | None,
    profile: str,
    order: Literal["newest", "relevance"],
    limit: int,
    offset: int,
    as_json: bool,
    query: str,
) -> None:
    """Search every message you may read: words, "phrases", in:#channel,
    from:@user, before:/after:/on:YYYY-MM-DD, during:YYYY-MM, has:file,
    has:link, is:thread (quote QUERY for the shell). Dates are in this
    machine's time zone."""
    from hubbub.client.results import format_result

    async def go(client: Client) -> None:
        found, following = await client.search(query, order=order, offset=offset, limit=limit)
        bold = not as_json and sys.stdout.isatty()
        for r in found:
            click.echo(format_result(r, as_json=as_json, bold=bold))
        if not found:
            click.echo("no messages found", err=True)
        elif following is not None:
            click.echo(f"more: --offset {following}", err=True)

    _run_client(go, server, profile)


@main.command()
@server_option
@profile_option
@click.option(
    "-c",
    "--channel",
    default=None,
    metavar="TARGET",
    help="Open this first: " + TARGET_HELP + " A public channel you are not in is joined.",
)
def chat(server: str | None, profile: str, channel: str | None) -> None:
    """Chat full-screen in the terminal (/help inside; Ctrl+Q or /quit to leave)."""
    from hubbub.client.chat import run_chat

    async def go(client: Client) -> None:
        await run_chat(client, channel)

    _run_client(go, server, profile)


@main.command("protocol-doc")
@click.option("--check", is_flag=True, help="Exit 1 if a file is out of date instead of writing.")
@click.option(
    "--root",
    default=".",
    type=click.Path(exists=True, file_okay=False),
    help="Repository root.",
)
def protocol_doc(check: bool, root: str) -> None:
    """Write docs/protocol.md and docs/protocol.schema.json from the schemas."""
    from hubbub.docgen import main as write_docs

    sys.exit(write_docs(["--root", root, *(["--check"] if check else [])]))
