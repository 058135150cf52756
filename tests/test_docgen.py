"""docs/protocol.md, docs/protocol.schema.json and docs/asyncapi.json are
generated from the code and must not drift; every code, action, frame and limit
the server has is in them. (tests/conformance/test_asyncapi.py runs the official
AsyncAPI parser on docs/asyncapi.json.)"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from hubbub import __version__
from hubbub import docgen as doc
from hubbub.protocol import frames as f
from hubbub.protocol.codec import decode_client
from hubbub.protocol.errors import CLOSE_DOCS, CloseCode, ErrorCode
from hubbub.protocol.limits import Limits

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "hubbub"
REGENERATE = "out of date: run `python -m hubbub.docgen` (or `hubbub protocol-doc`)"


@pytest.fixture(scope="module")
def text() -> str:
    return doc.render()


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return doc.json_schema()


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return doc.asyncapi()


# --- drift ---------------------------------------------------------------------------


def test_markdown_matches_the_code(text: str) -> None:
    path = ROOT / doc.MD_PATH
    assert path.exists(), f"{path} is missing: run `python -m hubbub.docgen`"
    assert path.read_text(encoding="utf-8") == text, f"{path} is {REGENERATE}"


def test_schema_matches_the_code() -> None:
    path = ROOT / doc.SCHEMA_PATH
    assert path.exists(), f"{path} is missing: run `python -m hubbub.docgen`"
    assert path.read_text(encoding="utf-8") == doc.schema_text(), f"{path} is {REGENERATE}"


def test_asyncapi_matches_the_code() -> None:
    path = ROOT / doc.ASYNCAPI_PATH
    assert path.exists(), f"{path} is missing: run `python -m hubbub.docgen`"
    assert path.read_text(encoding="utf-8") == doc.asyncapi_text(), f"{path} is {REGENERATE}"


def test_render_is_deterministic(text: str) -> None:
    assert doc.render() == text
    assert doc.schema_text() == doc.schema_text()
    assert doc.asyncapi_text() == doc.asyncapi_text()


def test_main_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert doc.main(["--check", "--root", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert doc.main(["--root", str(tmp_path)]) == 0
    assert (tmp_path / doc.MD_PATH).read_text(encoding="utf-8") == doc.render()
    assert json.loads((tmp_path / doc.SCHEMA_PATH).read_text(encoding="utf-8")) == (
        doc.json_schema()
    )
    assert json.loads((tmp_path / doc.ASYNCAPI_PATH).read_text(encoding="utf-8")) == (
        doc.asyncapi()
    )
    assert doc.main(["--check", "--root", str(tmp_path)]) == 0
    (tmp_path / doc.SCHEMA_PATH).write_text("{}\n", encoding="utf-8")
    assert doc.main(["--check", "--root", str(tmp_path)]) == 1
    capsys.readouterr()
    assert doc.main(["--root", str(tmp_path)]) == 0
    (tmp_path / doc.ASYNCAPI_PATH).write_text("{}\n", encoding="utf-8")
    assert doc.main(["--check", "--root", str(tmp_path)]) == 1
    assert str(doc.ASYNCAPI_PATH) in capsys.readouterr().err


def test_committed_docs_pass_check() -> None:
    assert doc.main(["--check", "--root", str(ROOT)]) == 0


def test_header_says_generated(text: str) -> None:
    head = "\n".join(text.splitlines()[:4])
    assert "hubbub protocol-doc" in head and "do not edit by hand" in head
    assert "[asyncapi.json](asyncapi.json)" in head


# --- completeness --------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.name)
def test_every_error_code_is_documented(text: str, code: ErrorCode) -> None:
    assert code.doc.strip(), f"ErrorCode.{code.name} has no doc"
    assert f"| `{code.name}` | {code.status} | {code.doc} |" in text


@pytest.mark.parametrize("code", list(CloseCode), ids=lambda c: c.name)
def test_every_close_code_is_documented(text: str, code: CloseCode) -> None:
    assert CLOSE_DOCS.get(code, "").strip(), f"CloseCode.{code.name} has no CLOSE_DOCS entry"
    assert f"| {int(code)} | `{code.name}` | {CLOSE_DOCS[code]} |" in text


def test_close_docs_has_no_stray_entries() -> None:
    assert set(CLOSE_DOCS) == set(CloseCode)


@pytest.mark.parametrize("action", sorted(f.ACTIONS))
def test_every_action_is_documented(text: str, action: str) -> None:
    assert f"### action `{action}`" in text
    assert f"[`{action}`](#action-{action.lower()})" in text  # in the summary table


@pytest.mark.parametrize("model", f.SERVER_FRAMES, ids=lambda m: m.__name__)
def test_every_server_frame_is_documented(text: str, model: type[f.ServerFrame]) -> None:
    field = model.model_fields.get("type")
    if field is None:
        assert '### `{"messages": [...]}` (no `type`)' in text
        return
    for literal in field.annotation.__args__:  # type: ignore[union-attr]
        assert re.search(rf"^### type .*`{literal}`", text, re.M), literal


@pytest.mark.parametrize("model", [*f.CLIENT_FRAMES, *f.SERVER_FRAMES], ids=lambda m: m.__name__)
def test_every_field_is_documented(text: str, model: type[f.ClientFrame | f.ServerFrame]) -> None:
    for name in model.model_fields:
        assert f"| `{name}` |" in text, f"{model.__name__}.{name}"


@pytest.mark.parametrize("limit", dataclasses.fields(Limits), ids=lambda fl: fl.name)
def test_every_limit_is_documented(text: str, limit: dataclasses.Field[Any]) -> None:
    default = getattr(Limits(), limit.name)
    assert f"| `{limit.name}` | `{default!r}` |" in text
    assert doc.LIMIT_DOCS[limit.name].strip()


def test_limit_docs_have_no_stray_entries() -> None:
    assert set(doc.LIMIT_DOCS) == {fl.name for fl in dataclasses.fields(Limits)}


def test_limit_overrides_are_explained(text: str) -> None:
    assert "--limit name=value" in text and "HUBBUB_LIMIT" in text


def test_notes_cover_exactly_the_frames() -> None:
    assert set(doc.CLIENT_EXAMPLES) == set(f.CLIENT_FRAMES)
    assert set(doc.CLIENT_REPLIES) == set(f.CLIENT_FRAMES)
    assert set(doc.SERVER_EXAMPLES) == set(f.SERVER_FRAMES)
    assert set(doc.SERVER_SENT) == set(f.SERVER_FRAMES)


@pytest.mark.parametrize("model", f.CLIENT_FRAMES, ids=lambda m: m.__name__)
def test_client_examples_decode(model: type[f.ClientFrame]) -> None:
    example = doc.CLIENT_EXAMPLES[model]
    assert type(decode_client(json.dumps(example).encode())) is model


@pytest.mark.parametrize("model", f.SERVER_FRAMES, ids=lambda m: m.__name__)
def test_server_examples_validate(model: type[f.ServerFrame]) -> None:
    model.model_validate(doc.SERVER_EXAMPLES[model])


def test_key_rules_are_stated(text: str) -> None:
    for phrase in [
        "ws://HOST:PORT/ws",
        "?token=",
        "token=[redacted]",
        "`auth_timeout`",
        "`404`",
        "`403`",
        "binary frames",
        "`id`",
        "`recovered: false`",
        "`resume_limit`",
        "?room_name=",
        "--allow-guests",
        "`sendMessage`",
        "`getRecentMessages`",
        '{"messages": [{"user_name": ..., "content": ...}]}',
        "not in message dict",
        "`username`",
    ]:
        assert phrase in text, phrase


def test_internal_links_resolve(text: str) -> None:
    anchors: set[str] = set()
    for line in text.splitlines():
        if m := re.match(r"#+ (.*)", line):
            anchor = doc._anchor(m.group(1))
            assert anchor not in anchors, f"two headings share #{anchor}"
            anchors.add(anchor)
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links
    assert not [link for link in links if link not in anchors]


# --- the codes the server uses exist ---------------------------------------------------------


def _references(kind: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for m in re.finditer(rf"\b{kind}\.(\w+)", path.read_text(encoding="utf-8")):
            found.setdefault(m.group(1), []).append(str(path.relative_to(ROOT)))
    return found


def test_every_error_code_used_in_the_source_exists() -> None:
    used = _references("ErrorCode")
    assert used, "the scan found no ErrorCode.<name> at all"
    unknown = {name: where for name, where in used.items() if name not in ErrorCode.__members__}
    assert not unknown, f"ErrorCode members used but not defined: {unknown}"


def test_every_close_code_used_in_the_source_exists() -> None:
    used = _references("CloseCode")
    assert used, "the scan found no CloseCode.<name> at all"
    unknown = {name: where for name, where in used.items() if name not in CloseCode.__members__}
    assert not unknown, f"CloseCode members used but not defined: {unknown}"


# --- the JSON Schema ---------------------------------------------------------------------------


def test_schema_lists_every_frame(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    client = [r["$ref"] for r in defs["ClientFrame"]["oneOf"]]
    server = [r["$ref"] for r in defs["ServerFrame"]["oneOf"]]
    assert client == [f"#/$defs/{m.__name__}" for m in f.CLIENT_FRAMES]
    assert server == [f"#/$defs/{m.__name__}" for m in f.SERVER_FRAMES]
    mapping = defs["ClientFrame"]["discriminator"]["mapping"]
    assert {a: r.rsplit("/", 1)[-1] for a, r in mapping.items()} == {
        a: m.__name__ for a, m in f.ACTIONS.items()
    }
    for model in f.CLIENT_FRAMES:
        assert "action" in defs[model.__name__]["required"]
    assert schema["$schema"].endswith("/2020-12/schema")


def test_schema_refs_resolve(schema: dict[str, Any]) -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert refs
    for ref in refs:
        assert ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in schema["$defs"]


def test_schema_is_plain_json(schema: dict[str, Any]) -> None:
    assert json.loads(doc.schema_text()) == schema


# --- the AsyncAPI document ---------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def test_asyncapi_head(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["version"] == __version__
    server = asyncapi["servers"]["selfHosted"]
    assert server["protocol"] == "ws" and server["host"] == "{host}:{port}"
    assert set(server["variables"]) == {"host", "port"}
    assert "Lambda" in server["description"]
    # which side the operations are written from is said
    assert "operations are the server's" in asyncapi["info"]["description"]


def test_asyncapi_refs_resolve(asyncapi: dict[str, Any]) -> None:
    refs = _refs(asyncapi)
    assert refs
    assert not [r for r in refs if "$defs" in r]
    for ref in refs:
        _resolve(asyncapi, ref)


def test_asyncapi_payloads_are_the_frame_schemas(
    asyncapi: dict[str, Any], schema: dict[str, Any]
) -> None:
    schemas = asyncapi["components"]["schemas"]
    messages = asyncapi["components"]["messages"]
    models = [*f.CLIENT_FRAMES, *f.SERVER_FRAMES]
    assert list(messages) == [m.__name__ for m in models]
    for model in models:
        message = messages[model.__name__]
        assert message["payload"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        for example in message["examples"]:
            model.model_validate(example["payload"])
    # the same schemas as protocol.schema.json, only the $ref paths differ
    as_json = json.dumps(schemas).replace("#/components/schemas/", "#/$defs/")
    defs = {k: v for k, v in schema["$defs"].items() if k not in ("ClientFrame", "ServerFrame")}
    assert json.loads(as_json) == defs


def _operations(asyncapi: dict[str, Any], channel: str, action: str) -> list[str]:
    """The message names of `channel`'s operations with `action`."""
    names = []
    for op in asyncapi["operations"].values():
        if op["channel"]["$ref"] == f"#/channels/{channel}" and op["action"] == action:
            names += [r["$ref"].rsplit("/", 1)[-1] for r in op["messages"]]
    return names


def test_asyncapi_native_channel(asyncapi: dict[str, Any]) -> None:
    channel = asyncapi["channels"]["native"]
    assert channel["address"] == "/ws"
    assert set(channel["bindings"]["ws"]["query"]["properties"]) == {"token"}
    assert _operations(asyncapi, "native", "receive") == [m.__name__ for m in f.CLIENT_FRAMES]
    assert _operations(asyncapi, "native", "send") == [m.__name__ for m in f.SERVER_FRAMES]


def test_asyncapi_tutorial_channel(asyncapi: dict[str, Any]) -> None:
    channel = asyncapi["channels"]["tutorial"]
    assert channel["address"] == "/ws"
    query = channel["bindings"]["ws"]["query"]
    assert set(query["properties"]) == {"room_name", "token"} and query["required"] == ["room_name"]
    received = _operations(asyncapi, "tutorial", "receive")
    sent = _operations(asyncapi, "tutorial", "send")
    assert "Auth" not in received and "Hello" not in sent
    assert {"SendMessage", "GetRecentMessages", "Ping"} <= set(received)
    assert {m.__name__ for m in doc.GUEST_RECEIVES} <= set(sent)
    ops = asyncapi["operations"]
    assert "forbidden" in ops["tutorialReceiveSubscribe"]["description"]
    assert "forbidden" not in ops["tutorialReceiveSendMessage"]["description"]


@pytest.mark.parametrize("model", f.CLIENT_FRAMES, ids=lambda m: m.__name__)
def test_asyncapi_replies_match_the_prose(
    asyncapi: dict[str, Any], model: type[f.ClientFrame]
) -> None:
    """Each frame in an operation's `reply` is one CLIENT_REPLIES names; `error` is in all."""
    reply = asyncapi["operations"][f"nativeReceive{model.__name__}"]["reply"]
    names = [r["$ref"].rsplit("/", 1)[-1] for r in reply["messages"]]
    assert names == [m.__name__ for m in doc.CLIENT_ANSWERS[model]] + ["Error"]
    for answer in doc.CLIENT_ANSWERS[model]:
        wire = [f"`{t}`" for t in doc._types(answer)] or ['`{"messages": [...]}`']
        assert any(w in doc.CLIENT_REPLIES[model] for w in wire), answer.__name__
