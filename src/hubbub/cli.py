"""The `hubbub` command."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hubbub import __version__
from hubbub.config import Settings, parse_limits


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
@click.option(
    "--data-dir",
    envvar="HUBBUB_DATA_DIR",
    default="data",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the default SQLite database lives.",
)
@click.option(
    "--database-url",
    envvar="HUBBUB_DATABASE_URL",
    default=None,
    help="sqlite:///path or postgresql://... [default: sqlite in --data-dir]",
)
@click.option(
    "--bus-url",
    envvar="HUBBUB_BUS_URL",
    default="memory://",
    show_default=True,
    help="memory:// (one process) or redis://...",
)
@click.option(
    "--allow-guests/--no-allow-guests",
    envvar="HUBBUB_ALLOW_GUESTS",
    default=False,
    show_default=True,
    help="Allow anonymous S1-tutorial connections (?room_name=).",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    envvar="HUBBUB_ALLOWED_ORIGIN",
    multiple=True,
    help="Extra browser Origin allowed on /ws (repeatable; "
    "same-origin is always allowed; '*' allows any).",
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
def serve(
    host: str,
    port: int,
    data_dir: Path,
    database_url: str | None,
    bus_url: str,
    allow_guests: bool,
    allowed_origins: tuple[str, ...],
    limits: tuple[str, ...],
    log_level: str,
) -> None:
    """Run the server (HTTP and WebSocket on one port)."""
    from hubbub.server.run import run

    try:
        parsed = parse_limits(limits)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--limit") from None
    origins = tuple(o for item in allowed_origins for o in item.split() if o)
    run(
        Settings(
            host=host,
            port=port,
            data_dir=data_dir,
            database_url=database_url,
            bus_url=bus_url,
            allow_guests=allow_guests,
            allowed_origins=origins,
            limits=parsed,
            log_level=log_level,
        )
    )


@main.command("protocol-doc")
@click.option("--check", is_flag=True, help="Exit 1 if a file is out of date instead of writing.")
@click.option("--root", default=".", type=click.Path(file_okay=False), help="Repository root.")
def protocol_doc(check: bool, root: str) -> None:
    """Write docs/protocol.md and docs/protocol.schema.json from the schemas."""
    from hubbub.protocol.doc import main as write_docs

    sys.exit(write_docs(["--root", root, *(["--check"] if check else [])]))
