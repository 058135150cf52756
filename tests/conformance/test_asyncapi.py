"""docs/asyncapi.json passes the official AsyncAPI parser, `@asyncapi/parser`
(pinned by tests/conformance/asyncapi/package-lock.json, installed into
.cache/asyncapi by scripts/ensure-asyncapi), and that parser does reject broken
copies of it, so a pass means something.

Without node and npm (or when the parser cannot be installed) these tests skip
with the reason; under CI (CI=true) they fail instead."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hubbub import docgen as doc

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "asyncapi"
ENSURE = ROOT / "scripts" / "ensure-asyncapi"
MODULES = Path(os.environ.get("HUBBUB_ASYNCAPI_DIR") or ROOT / ".cache" / "asyncapi")

pytestmark = pytest.mark.timeout(300)  # a first install downloads the parser


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " - required under CI")
    pytest.skip(reason)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit of a copy of the document: `value` at the '/'-separated `path`."""

    def edit(document: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = document
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value

    return edit


# Broken copies: the edit, and the error (rule code, path) the parser must report.
BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "unknown_action": (
        _set("operations/nativeReceiveAuth/action", "publish"),
        "asyncapi-document-resolved",
        "operations/nativeReceiveAuth/action",
    ),
    "dangling_ref": (
        _set("components/messages/Auth/payload", {"$ref": "#/components/schemas/NoSuchFrame"}),
        "invalid-ref",
        "components/messages/Auth/payload/$ref",
    ),
    "message_of_another_channel": (
        _set(
            "operations/tutorialReceivePing/messages/0",
            {"$ref": "#/channels/native/messages/Auth"},
        ),
        "asyncapi3-operation-messages-from-referred-channel",
        "operations/tutorialReceivePing/messages/0",
    ),
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The parser's verdict on docs/asyncapi.json ("committed") and on each of
    BROKEN, from one `node validate.mjs` run; "parser" is its version."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        _unavailable("node and npm are not installed (the AsyncAPI parser runs on Node)")
    assert node is not None
    try:
        ensure = subprocess.run(
            [str(ENSURE)], capture_output=True, text=True, timeout=240, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        _unavailable("scripts/ensure-asyncapi took over 240 s")
    installed = MODULES / "node_modules" / "@asyncapi" / "parser" / "package.json"
    if ensure.returncode != 0 or not installed.exists():
        _unavailable(
            f"@asyncapi/parser is not installed in {MODULES} (scripts/ensure-asyncapi "
            f"exited {ensure.returncode}):\n{ensure.stderr[-2000:]}"
        )

    tmp = tmp_path_factory.mktemp("asyncapi")
    files = {"committed": ROOT / doc.ASYNCAPI_PATH}
    for name, (edit, _, _) in BROKEN.items():
        broken = copy.deepcopy(doc.asyncapi())
        edit(broken)
        files[name] = tmp / f"{name}.json"
        files[name].write_text(json.dumps(broken, indent=2), encoding="utf-8")
    proc = subprocess.run(
        [node, str(HERE / "validate.mjs"), str(MODULES), *map(str, files.values())],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"validate.mjs failed ({proc.returncode}):\n{proc.stderr}"
    out = json.loads(proc.stdout)
    return {"parser": out["parser"], **{n: out["results"][str(p)] for n, p in files.items()}}


def _show(diagnostics: list[dict[str, str]]) -> str:
    return "\n".join(
        f"  {d['severity']} {d['code']} at {d['path'] or '(root)'}: {d['message']}"
        for d in diagnostics
    )


def test_the_parser_is_the_pinned_one(report: dict[str, Any]) -> None:
    pinned = json.loads((HERE / "package.json").read_text(encoding="utf-8"))
    assert report["parser"] == pinned["dependencies"]["@asyncapi/parser"]


def test_the_document_is_the_generated_one() -> None:
    path = ROOT / doc.ASYNCAPI_PATH
    assert path.exists(), f"{path} is missing: run `python -m hubbub.docgen`"
    assert path.read_text(encoding="utf-8") == doc.asyncapi_text(), (
        f"{path} is out of date: run `python -m hubbub.docgen` (or `hubbub protocol-doc`)"
    )


def test_the_document_is_valid(report: dict[str, Any]) -> None:
    result = report["committed"]
    errors = [d for d in result["diagnostics"] if d["severity"] == "error"]
    assert result["parsed"] and not errors, (
        f"@asyncapi/parser {report['parser']} rejects {doc.ASYNCAPI_PATH}:\n"
        + _show(result["diagnostics"])
    )


def test_the_document_has_no_warnings(report: dict[str, Any]) -> None:
    warnings = [d for d in report["committed"]["diagnostics"] if d["severity"] == "warning"]
    assert not warnings, f"{doc.ASYNCAPI_PATH}:\n{_show(warnings)}"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_copy_is_rejected(report: dict[str, Any], name: str) -> None:
    _, code, path = BROKEN[name]
    result = report[name]
    errors = [d for d in result["diagnostics"] if d["severity"] == "error"]
    assert not result["parsed"], f"{name}: parsed despite\n{_show(errors)}"
    assert any(d["code"] == code and d["path"] == path for d in errors), (
        f"{name}: expected error {code} at {path}, got:\n{_show(result['diagnostics'])}"
    )
