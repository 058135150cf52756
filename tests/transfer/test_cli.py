"""`hubbub import` and `hubbub export` as real processes, on SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from transfer.helpers import jsonl_without_seqs, opened, snapshot
from transfer.slack_fixture import build_slack_export, slack_export_files, write_zip


def hubbub(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBBUB_")}
    r = subprocess.run(
        [sys.executable, "-m", "hubbub", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=300,
    )
    return subprocess.CompletedProcess(
        r.args, r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode()
    )


def refused(r: subprocess.CompletedProcess[str]) -> str:
    """Assert `r` failed in one clear line, no traceback; return it."""
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: refused: "), r.stderr
    return lines[0]


def _truncated(source: Path, path: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


@pytest.fixture(scope="module")
def export_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slack") / "slack export.zip"
    summary = build_slack_export(path, channels=3, users=5, messages=300)
    assert summary.path == path
    return path


async def test_import_export_import_end_to_end(export_zip: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = hubbub("import", str(export_zip), "--data-dir", str(data))
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert f"Slack export {export_zip}: 5 users, 3 channels, 300 messages" in out
    assert "users: 5 created" in out and "1 of the created ones deactivated" in out
    assert "messages: 300 stored" in out
    assert "system messages (channel_join)" in out  # skipped, and said so
    url = f"sqlite:///{data / 'hubbub.db'}"
    async with opened(url) as store:
        imported = await snapshot(store)

    second = hubbub("import", str(export_zip), "--database-url", url)
    assert second.returncode == 0, second.stderr
    assert "messages: 0 stored (0 thread replies), 300 already there" in second.stdout
    async with opened(url) as store:
        assert await snapshot(store) == imported

    dump = tmp_path / "out" / "workspace.jsonl"
    dump.parent.mkdir()
    exported = hubbub("export", "--data-dir", str(data), "--output", str(dump))
    assert exported.returncode == 0, exported.stderr
    assert exported.stderr.startswith("exported 5 users, 3 channels, ")
    assert "300 messages to" in exported.stderr
    assert exported.stdout == ""
    assert list(dump.parent.iterdir()) == [dump]  # no partial file left behind
    stdout = hubbub("export", "--data-dir", str(data))
    assert stdout.returncode == 0
    assert jsonl_without_seqs(stdout.stdout.encode()) == jsonl_without_seqs(dump.read_bytes())

    other = f"sqlite:///{tmp_path / 'other' / 'hubbub.db'}"
    back = hubbub("import", str(dump), "--database-url", other)
    assert back.returncode == 0, back.stderr
    assert f"hubbub export {dump}: 5 users, 3 channels, 300 messages" in back.stdout
    assert "skipped: nothing" in back.stdout
    piped = hubbub("import", "-", "--database-url", other, stdin=dump.read_bytes())
    assert piped.returncode == 0, piped.stderr
    assert "300 already there" in piped.stdout
    again = hubbub("export", "--database-url", other)
    assert jsonl_without_seqs(again.stdout.encode()) == jsonl_without_seqs(dump.read_bytes())


def test_dry_run_stores_nothing(export_zip: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = hubbub("import", "--dry-run", str(export_zip), "--data-dir", str(data))
    assert r.returncode == 0, r.stderr
    assert "dry run: the input is valid; nothing was stored" in r.stdout
    assert "300 messages" in r.stdout
    assert not data.exists()


async def test_a_truncated_zip_is_refused_and_nothing_stored(
    export_zip: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'hubbub.db'}"
    async with opened(url) as store:
        await store.create_user("ann", "Ann", "$argon2id$x")
        before = await snapshot(store)
    cut = _truncated(export_zip, tmp_path / "cut.zip")
    line = refused(hubbub("import", str(cut), "--data-dir", str(data)))
    assert "not a readable ZIP archive" in line and "nothing was stored" in line
    async with opened(url) as store:
        assert await snapshot(store) == before


def test_invalid_json_in_a_day_file_is_refused_naming_it(tmp_path: Path) -> None:
    files, _ = slack_export_files(messages=50)
    day = sorted(n for n in files if n.startswith("dev/"))[0]
    files[day] = b'[{"type": "message", "user": "U1000", "text": "hi", "ts": "1"},'
    path = write_zip(tmp_path / "bad.zip", files)
    data = tmp_path / "data"
    line = refused(hubbub("import", str(path), "--data-dir", str(data)))
    assert f"invalid JSON in {day}" in line
    assert not data.exists()  # the database was not even opened


def test_other_refusals(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert "neither a ZIP archive" in refused(hubbub("import", str(notes)))
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_text('{"type": "workspace", "format": "hubbub", "version": 1}\n{"type": ')
    assert "line 2 is not valid JSON" in refused(hubbub("import", str(jsonl)))
    r = hubbub("export", "--data-dir", str(tmp_path / "nowhere"))
    assert r.returncode == 1 and "Error: no database at" in r.stderr
    assert not (tmp_path / "nowhere").exists()


def test_help_names_both_commands() -> None:
    r = hubbub("--help")
    assert "export" in r.stdout and "import" in r.stdout
    r = hubbub("import", "--help")
    assert "--dry-run" in r.stdout and "Slack export ZIP" in r.stdout
    records = hubbub("export", "--help")
    assert "--output" in records.stdout
