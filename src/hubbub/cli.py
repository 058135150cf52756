"""The `hubbub` command."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

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


@click.group()
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
@guests_option
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
    allow_guests: bool,
    guest_rooms: Literal["existing", "create"],
    allowed_origins: tuple[str, ...],
    public_urls: tuple[str, ...],
    limits: tuple[str, ...],
    log_level: str,
    access_log: bool,
) -> None:
    """Run the server (HTTP and WebSocket on one port)."""
    from hubbub.server.run import run

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
    run(
        Settings(
            host=host,
            port=port,
            data_dir=data_dir,
            database_url=database_url,
            bus_url=bus_url,
            allow_guests=allow_guests,
            guest_rooms=guest_rooms,
            allowed_origins=origins,
            public_urls=urls,
            limits=parsed,
            log_level=log_level,
            access_log=access_log,
        )
    )


@main.command()
@database_options
def migrate(data_dir: Path, database_url: str | None) -> None:
    """Bring the database schema up to date, then exit (every `serve` also does
    this on start; run it once before rolling out several nodes)."""
    from hubbub.store import StoreError, open_store

    async def go() -> None:
        store = open_store(Settings(data_dir=data_dir, database_url=database_url).store_url)
        try:
            await store.open()
        finally:
            await store.close()

    try:
        asyncio.run(go())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("database schema is up to date")


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
) -> None:
    """Run the Lambda handlers behind a local API Gateway (WebSocket API,
    Management API, GET /ping) on DynamoDB served by moto. See docs/deploy-aws.md."""
    try:
        parse_limits(limits)
        from hubbub.aws.local import LocalSettings, run
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--limit") from None
    except ImportError as exc:
        raise click.ClickException(f"{exc}: pip install 'hubbub[aws-local]'") from None
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
        )
    )


# --- client commands ---------------------------------------------------------

server_option = click.option(
    "--server",
    envvar="HUBBUB_SERVER",
    default=None,
    help="Server URL [default: the one saved by `hubbub login`, else http://127.0.0.1:8000].",
)


def _run_client(
    coro_fn: Callable[[Client], Coroutine[Any, Any, None]],
    server: str | None,
    *,
    need_token: bool = True,
) -> None:
    """Run a client command; turn every expected failure into one clear line."""
    from hubbub.client import config
    from hubbub.client.sdk import Client as _Client
    from hubbub.client.sdk import HubbubError

    saved = config.load()
    url = server or saved.get("server") or config.DEFAULT_SERVER
    token = os.environ.get("HUBBUB_TOKEN") or (
        saved.get("token") if saved.get("server") == url else None
    )
    if need_token and not token:
        raise click.ClickException(f"not logged in to {url}: run `hubbub login` first")

    async def go() -> None:
        async with _Client(url, token) as client:
            await coro_fn(client)

    try:
        asyncio.run(go())
    except HubbubError as exc:
        hint = {
            "token_expired": " (run `hubbub login` again)",
            "token_invalid": " (run `hubbub login` again)",
            "auth_failed": " (run `hubbub login` again)",
        }.get(exc.code, "")
        raise click.ClickException(f"{exc.message}{hint}") from None
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `hubbub tail | head`
        sys.stderr.close()
        sys.exit(0)


def _account_command(action: str) -> Callable[..., None]:
    @server_option
    @click.option("-u", "--username", prompt=True)
    @click.option(
        "-p",
        "--password",
        envvar="HUBBUB_PASSWORD",
        prompt=True,
        hide_input=True,
        confirmation_prompt=action == "register",
    )
    def command(server: str | None, username: str, password: str) -> None:
        from hubbub.client import config

        async def go(client: Client) -> None:
            if action == "register":
                await client.register(username, password)
            else:
                await client.login(username, password)
            path = config.save(
                {"server": client.server, "username": username, "token": client.token}
            )
            click.echo(f"{action} ok: {username} on {client.server} (token saved in {path})")

        _run_client(go, server, need_token=False)

    return command


main.command("register", help="Create an account and save its token.")(_account_command("register"))
main.command("login", help="Log in and save the token for the other commands.")(
    _account_command("login")
)


@main.command()
@server_option
@click.option("-c", "--channel", required=True, help="Channel (or DM) name.")
@click.argument("text", required=False)
def send(server: str | None, channel: str, text: str | None) -> None:
    """Send TEXT to a channel, or each line of standard input as one message."""
    from hubbub.client.lines import send_lines

    async def go(client: Client) -> None:
        lines = [text] if text is not None else sys.stdin
        n = await send_lines(client, channel, lines)
        if text is None:
            click.echo(f"sent {n} message(s) to {channel}", err=True)

    _run_client(go, server)


@main.command()
@server_option
@click.option("-c", "--channel", required=True, help="Channel (or DM) name.")
@click.option("--since", type=int, default=None, help="Also print messages after this seq.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail(server: str | None, channel: str, since: int | None, as_json: bool) -> None:
    """Print a channel's messages as they arrive (Ctrl+C to stop)."""
    from hubbub.client.lines import tail as run_tail

    async def go(client: Client) -> None:
        await run_tail(client, channel, since, as_json)

    _run_client(go, server)


@main.command()
@server_option
@click.option("-c", "--channel", default=None, help="Channel (or DM) to open first.")
def chat(server: str | None, channel: str | None) -> None:
    """Chat full-screen in the terminal (/help inside; Ctrl+Q or /quit to leave)."""
    from hubbub.client.chat import run_chat

    async def go(client: Client) -> None:
        await run_chat(client, channel)

    _run_client(go, server)


@main.command("protocol-doc")
@click.option("--check", is_flag=True, help="Exit 1 if a file is out of date instead of writing.")
@click.option("--root", default=".", type=click.Path(file_okay=False), help="Repository root.")
def protocol_doc(check: bool, root: str) -> None:
    """Write docs/protocol.md and docs/protocol.schema.json from the schemas."""
    from hubbub.docgen import main as write_docs

    sys.exit(write_docs(["--root", root, *(["--check"] if check else [])]))
