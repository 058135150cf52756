"""RFC 6455 conformance of hubbub's WebSocket layer (src/hubbub/server/connection.py
and wsframe.py, over websockets' Sans-I/O parser): Autobahn|Testsuite's fuzzing
client, `wstest -m fuzzingclient`, against a real `hubbub serve` process.

wstest (autobahntestsuite 0.8.2) runs on Python 2.7 only: scripts/ensure-autobahn
puts it in a virtualenv of its own, .cache/autobahn/venv, with pinned versions.
Without a Python 2.7 (or when the install fails) this test skips with the reason;
under CI (CI=true) it fails instead.

Which cases. hubbub is not an echo server: it answers a text or binary message
with JSON protocol frames (here `invalid_json` or `not_authenticated` errors), and
every case whose verdict needs that message echoed back comes out FAILED for a
reason that says nothing about conformance. CASES holds the others: the cases
that judge a server whatever it answers to a message, which are the cases whose
expected outcomes (the `expected` of each case report) contain no message at
all. The test checks that of every report, so a case that needs an echo cannot
slip into CASES. EXCLUDED says why each case left out is left out.

How it connects. ws://127.0.0.1:PORT/ws with no token. A connection that has not
authenticated (State.AWAITING_AUTH in hubbub.session.state) is sent nothing until
it sends a frame, so the cases see only what their frames cause; a `?token=`
connection is sent `hello` first, an unexpected message in every case. The
framing layer under both is the same code, and each case is one connection of
well under the 10 s auth_timeout.

Verdicts. A case passes when its behaviour is OK, or NON-STRICT for a reason
listed in NON_STRICT (the suite calls non-strict behaviour conformant: it misses
a SHOULD, not a MUST), or INFORMATIONAL (7.13.x: "actual events are undefined by
the spec", so any answer is fine there), and its close behaviour is OK or
INFORMATIONAL. FAILED, and a close that is UNCLEAN, WRONG CODE or FAILED BY
CLIENT, fail the test with the case id and the report's text, unless the case is
in KNOWN_FAILURES. UNIMPLEMENTED belongs to the compression groups (12, 13),
which are not run; met here it fails the test too, as does a case with no
result. An entry of KNOWN_FAILURES or NON_STRICT that hubbub no longer earns fails
the test as well, so the lists cannot go stale.

The comparison. The same run also fuzzes a plain `websockets` echo server
(`serve(echo, ...)` with its defaults) on the same cases. Every entry of
KNOWN_FAILURES must be failed by it too: an exception is allowed only for what
hubbub inherits from websockets, never for its own code. On these 140 cases
(websockets 17.4 here) the echo server fails only 7.1.5, is NON-STRICT on
6.4.1-6.4.4 and INFORMATIONAL on 7.13.1-7.13.2; hubbub fails only 7.1.5, is
NON-STRICT on 6.4.3-6.4.4 (it fails fast across fragments, 6.4.1-6.4.2, where
websockets' own server does not) and INFORMATIONAL on 7.13.x (it answers close
codes 5000 and 65535 with 1002). Run once by hand on all of groups 1-7, hubbub
failed 98 of the 246 cases: 7.1.5, and 97 whose verdict needs an echo (each got
an `invalid_json` or `invalid_utf8` error frame where its echo was due), all in
EXCLUDED.

Bounds: both servers listen on 127.0.0.1 only and wstest is given only those
URLs; wstest runs under a timeout (WSTEST_TIMEOUT) and stops by itself after
the last case: about 15 s in all (about 6 s of it against hubbub). The reports
(index.html and one page per case) are kept in pytest's tmp_path.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import WAIT, Server

ROOT = Path(__file__).resolve().parents[2]
ENSURE = ROOT / "scripts" / "ensure-autobahn"
AUTOBAHN = Path(os.environ.get("HUBBUB_AUTOBAHN_DIR") or ROOT / ".cache" / "autobahn")
WSTEST = AUTOBAHN / "venv" / "bin" / "wstest"
WSTEST_TIMEOUT = 90.0  # the run takes ~15 s
ENSURE_TIMEOUT = 180.0  # a first install takes 30-70 s

pytestmark = pytest.mark.timeout(300)


def _ids(prefix: str, *numbers: int) -> list[str]:
    return [f"{prefix}.{n}" for n in numbers]


def _span(first: int, last: int) -> range:
    return range(first, last + 1)


# The cases run: those whose verdict does not need an echo (see EXCLUDED for the rest).
CASES: list[str] = [
    # 2 Pings/Pongs: pongs for pings, nothing for unsolicited pongs, 1002 for a
    # 126-byte ping.
    *_ids("2", *_span(1, 11)),
    # 3 Reserved bits: RSV set on a frame (with nothing sent before it) -> 1002.
    *_ids("3", 1, 5, 6, 7),
    # 4 Opcodes: a reserved opcode (with nothing sent before it) -> 1002.
    *_ids("4.1", 1, 2),
    *_ids("4.2", 1, 2),
    # 5 Fragmentation: fragmented control frames, continuations with nothing
    # to continue -> 1002.
    *_ids("5", 1, 2, *_span(9, 14), 16, 17, 18),
    # 6.3, 6.4: invalid UTF-8 fragmented in different ways, and failing fast on it -> 1007.
    *_ids("6.3", 1, 2),
    *_ids("6.4", *_span(1, 4)),
    # The invalid-UTF-8 cases of 6.5-6.21 (the valid ones must be echoed) -> 1007.
    *_ids("6.6", 1, 3, 4, 6, 8, 10),
    *_ids("6.8", 1, 2),
    *_ids("6.10", 1, 2, 3),
    "6.11.5",
    *_ids("6.12", *_span(1, 8)),
    *_ids("6.13", *_span(1, 5)),
    *_ids("6.14", *_span(1, 10)),
    "6.15.1",
    *_ids("6.16", 1, 2, 3),
    *_ids("6.17", *_span(1, 5)),
    *_ids("6.18", *_span(1, 5)),
    *_ids("6.19", *_span(1, 5)),
    *_ids("6.20", *_span(1, 7)),
    *_ids("6.21", *_span(1, 8)),
    # 7 Close handling: frames after a close, close payload lengths, an invalid
    # UTF-8 reason, valid and invalid close codes, informational close codes.
    *_ids("7.1", *_span(2, 5)),
    *_ids("7.3", *_span(1, 6)),
    "7.5.1",
    *_ids("7.7", *_span(1, 13)),
    *_ids("7.9", *_span(1, 9)),
    *_ids("7.13", 1, 2),
]

# Left out, and why (patterns as in wstest's spec: `*` is any rest of the id).
_ECHO_THEN_FAIL = (
    "a text message, then a bad frame: OK is the message echoed, then the failure; "
    "NON-STRICT is no reply at all. hubbub answers the message with an error frame, "
    "which is neither, and whether that frame leaves before the bad one is read "
    "depends only on how the bytes are chopped"
)
_VALID_UTF8 = "valid UTF-8 text that passes only if echoed back"
EXCLUDED: dict[str, str] = {
    "1.*": "framing: text and binary messages of each size that pass only if echoed back",
    "3.2": _ECHO_THEN_FAIL,
    "3.3": _ECHO_THEN_FAIL,
    "3.4": _ECHO_THEN_FAIL,
    "4.1.3": _ECHO_THEN_FAIL,
    "4.1.4": _ECHO_THEN_FAIL,
    "4.1.5": _ECHO_THEN_FAIL,
    "4.2.3": _ECHO_THEN_FAIL,
    "4.2.4": _ECHO_THEN_FAIL,
    "4.2.5": _ECHO_THEN_FAIL,
    "5.15": _ECHO_THEN_FAIL,
    **{
        f"5.{n}": "a fragmented text message that passes only if echoed back reassembled "
        "(5.6-5.8, 5.19, 5.20: with pongs to pings between the fragments)"
        for n in (3, 4, 5, 6, 7, 8, 19, 20)
    },
    "6.1.*": _VALID_UTF8 + " (with empty fragments)",
    "6.2.*": _VALID_UTF8 + " (fragmented on and within code points)",
    "6.5.*": _VALID_UTF8,
    **{f"6.6.{n}": _VALID_UTF8 for n in (2, 5, 7, 9, 11)},
    "6.7.*": _VALID_UTF8,
    "6.9.*": _VALID_UTF8,
    **{f"6.11.{n}": _VALID_UTF8 for n in (1, 2, 3, 4)},
    "6.22.*": _VALID_UTF8 + " (noncharacters)",
    "6.23.*": _VALID_UTF8 + " (the replacement character and others)",
    "7.1.1": "a text message before the close, which passes only if echoed back",
    "7.1.6": "informational whatever the server does, and what it informs about is "
    "whether a 256 KiB text message was echoed before the close",
    "9.*": "limits and performance: big messages that must be echoed (and minutes of running)",
    "10.*": "a 64 KiB message in 1300-byte frames that must be echoed back",
    "12.*": "permessage-deflate: hubbub has no compression (DESIGN.md principle 5), so "
    "every case is UNIMPLEMENTED (and each needs an echo too)",
    "13.*": "permessage-deflate parameters: as 12",
}

# Cases FAILED on purpose, and why: each one a plain websockets echo server fails too.
KNOWN_FAILURES: dict[str, str] = {
    "7.1.5": (
        "a Close between the fragments of a message gets 1002 'incomplete fragmented "
        "message' instead of the 1000 the case expects: that is websockets' parser "
        "(ServerProtocol, which hubbub gives every fragment and control frame), and "
        "websockets' own server answers the same. RFC 6455 5.4 lets control frames "
        "come between fragments; a fix belongs in websockets, or in connection.py by "
        "answering that Close itself"
    ),
}

# Cases NON-STRICT on purpose (conformant, short of a SHOULD), and why.
_WHOLE_FRAMES = (
    "a text frame that turns invalid in its second chop: hubbub checks UTF-8 once a "
    "frame is whole (wsframe/connection hand on whole frames; websockets' parser "
    "reads whole frames too), so it fails on the last chop, not at once. Failing "
    "fast across fragments, 6.4.1 and 6.4.2, it does"
)
NON_STRICT: dict[str, str] = {"6.4.3": _WHOLE_FRAMES, "6.4.4": _WHOLE_FRAMES}

GOOD_BEHAVIOR = {"OK", "INFORMATIONAL"}  # and NON-STRICT where NON_STRICT says why
GOOD_CLOSE = {"OK", "INFORMATIONAL"}

# Its logs are off: each of wstest's bad frames would print a traceback.
ECHO_SERVER = """
import asyncio
import logging
from websockets.asyncio.server import serve

logging.getLogger("websockets").setLevel(logging.CRITICAL)

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

asyncio.run(main())
"""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason + " - required under CI")
    pytest.skip(reason)


def _excluded_by(case: str) -> str | None:
    for pattern in EXCLUDED:
        if case == pattern or fnmatch.fnmatchcase(case, pattern.replace("*", "[0-9]*")):
            return pattern
    return None


@pytest.fixture
def wstest() -> Path:
    try:
        ensure = subprocess.run(
            [str(ENSURE)], capture_output=True, text=True, timeout=ENSURE_TIMEOUT, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        _unavailable(f"scripts/ensure-autobahn took over {ENSURE_TIMEOUT} s")
    if ensure.returncode != 0 or not WSTEST.exists():
        _unavailable(
            f"Autobahn|Testsuite (wstest) is not installed at {WSTEST}; "
            f"scripts/ensure-autobahn exited {ensure.returncode}:\n{ensure.stderr[-2000:].strip()}"
        )
    return WSTEST


@pytest.fixture
def echo_url() -> Iterator[str]:
    """A plain websockets echo server (its defaults) on 127.0.0.1."""
    proc = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.isdigit(), f"the echo server did not start (exit {proc.poll()})"
        yield f"ws://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)


def _fuzz(wstest: Path, outdir: Path, servers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Run CASES against each agent's URL; index.json's results by agent, by case."""
    assert all(url.startswith("ws://127.0.0.1:") for url in servers.values()), servers
    spec = {
        "outdir": str(outdir),
        "servers": [{"agent": agent, "url": url} for agent, url in servers.items()],
        "cases": CASES,
        "exclude-cases": [],
        "exclude-agent-cases": {},
    }
    spec_file = outdir.parent / "fuzzingclient.json"
    spec_file.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    log = outdir.parent / "wstest.log"
    # Python 2 must not see this Python's search path (nor its warnings: wstest's
    # cryptography complains about Python 2 on every start).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONWARNINGS"] = "ignore"
    with log.open("w", encoding="utf-8") as out:
        try:
            proc = subprocess.run(
                [str(wstest), "-m", "fuzzingclient", "-s", str(spec_file)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=outdir.parent,
                env=env,
                timeout=WSTEST_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"wstest ran over {WSTEST_TIMEOUT} s:\n{_tail(log)}")
    index = outdir / "index.json"
    assert proc.returncode == 0 and index.exists(), (
        f"wstest exited {proc.returncode} without {index}:\n{_tail(log)}"
    )
    results: dict[str, dict[str, Any]] = json.loads(index.read_text(encoding="utf-8"))
    return results


def _tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-3000:]


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _explain(outdir: Path, case: str, result: dict[str, Any]) -> str:
    report = json.loads((outdir / result["reportfile"]).read_text(encoding="utf-8"))
    close = report.get("remoteCloseCode")
    reason = report.get("remoteCloseReason")
    return (
        f"{case}: {result['behavior']} / close {result['behaviorClose']} "
        f"(the server closed with {close} {reason!r})\n"
        f"    case: {_text(report['description'])}\n"
        f"    expected: {_text(report['expectation'])}\n"
        f"    result: {report['result']} {report['resultClose']}"
    )


def _key(case: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case.split("."))


def _passed(case: str, result: dict[str, Any]) -> bool:
    behavior = result["behavior"]
    good = behavior in GOOD_BEHAVIOR or (behavior == "NON-STRICT" and case in NON_STRICT)
    return good and result["behaviorClose"] in GOOD_CLOSE


def _verdict_needs_echo(outdir: Path, result: dict[str, Any]) -> bool:
    report = json.loads((outdir / result["reportfile"]).read_text(encoding="utf-8"))
    return any(event[0] == "message" for events in report["expected"].values() for event in events)


def test_the_case_list() -> None:
    assert len(CASES) == len(set(CASES)) == 140
    assert not {c: _excluded_by(c) for c in CASES if _excluded_by(c)}
    for listed in (*KNOWN_FAILURES, *NON_STRICT):
        assert listed in CASES, f"{listed} is listed but not run"


def test_autobahn_fuzzingclient(
    wstest: Path, server: Server, echo_url: str, tmp_path: Path
) -> None:
    outdir = tmp_path / "reports"
    outdir.mkdir()
    index = _fuzz(wstest, outdir, {"hubbub": server.ws_url, "websockets": echo_url})
    hubbub, echo = index["hubbub"], index["websockets"]
    where = f"\n(the reports: {outdir}/index.html)"

    missing = [c for c in CASES if c not in hubbub or c not in echo]
    assert not missing, f"wstest gave no result for {missing}{where}"
    needs_echo = [c for c in CASES if _verdict_needs_echo(outdir, hubbub[c])]
    assert not needs_echo, (
        f"these cases' verdicts need an echo: move them to EXCLUDED: {needs_echo}"
    )

    failed = {c for c in CASES if not _passed(c, hubbub[c])}
    new = sorted(failed - KNOWN_FAILURES.keys(), key=_key)
    assert not new, (
        f"{len(new)} Autobahn case(s) newly not passed by hubbub:\n"
        + "\n".join(_explain(outdir, c, hubbub[c]) for c in new)
        + where
    )
    fixed = sorted(KNOWN_FAILURES.keys() - failed, key=_key)
    assert not fixed, f"hubbub passes {fixed} now: take them out of KNOWN_FAILURES{where}"
    own = sorted(c for c in KNOWN_FAILURES if _passed(c, echo[c]))
    assert not own, (
        f"a plain websockets echo server passes {own}: these are hubbub's own failures, "
        "not exceptions:\n" + "\n".join(_explain(outdir, c, hubbub[c]) for c in own) + where
    )
    strict = sorted(c for c in NON_STRICT if hubbub[c]["behavior"] != "NON-STRICT")
    assert not strict, f"hubbub is no longer NON-STRICT on {strict}: update NON_STRICT{where}"

    assert server.proc.poll() is None, "the server died during the run:\n" + "".join(server.log)
    assert "Traceback" not in "".join(server.log), "".join(server.log)
