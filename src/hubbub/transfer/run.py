"""What the two commands do, given a database URL: read an input of either
kind (told apart by its first bytes), store it, or export the database."""

from __future__ import annotations

import io
import sys
from collections import Counter
from pathlib import Path

from hubbub.core.ports import Store
from hubbub.store import open_store
from hubbub.transfer.apply import apply_plan
from hubbub.transfer.export import Write, export_workspace
from hubbub.transfer.load import read_jsonl
from hubbub.transfer.records import Plan
from hubbub.transfer.report import Refused, Report
from hubbub.transfer.slack import read_slack_export

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def read_input(path: str) -> Plan:
    """The plan for a Slack export ZIP or a hubbub JSON-lines file (`-`:
    standard input); raise Refused if it is neither or cannot be used."""
    label = "standard input" if path == "-" else path
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
            head = data[:4]
        else:
            with Path(path).open("rb") as f:
                head = f.read(4)
            data = b""
    except IsADirectoryError:
        raise Refused(
            f"{label} is a directory: give the export's file (a .zip or .jsonl)"
        ) from None
    except OSError as exc:
        raise Refused(f"cannot read {label}: {exc.strerror or exc}") from None
    if head.startswith(ZIP_MAGIC) or path.lower().endswith(".zip"):
        return read_slack_export(io.BytesIO(data) if path == "-" else Path(path), label)
    if path != "-":
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise Refused(f"cannot read {label}: {exc.strerror or exc}") from None
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return read_jsonl(data, label)
    raise Refused(
        f"{label} is neither a ZIP archive (a Slack export) nor JSON lines (a hubbub "
        "export); nothing was stored"
    )


async def _opened(url: str) -> Store:
    store = open_store(url)
    try:
        await store.open()
    except BaseException:
        await store.close()
        raise
    return store


async def import_plan(url: str, plan: Plan) -> Report:
    store = await _opened(url)
    try:
        return await apply_plan(store, plan)
    finally:
        await store.close()


async def export_database(url: str, write: Write, *, generator: str = "") -> Counter[str]:
    store = await _opened(url)
    try:
        return await export_workspace(store, write, generator=generator)
    finally:
        await store.close()
