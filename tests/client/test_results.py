"""How the terminal shows a search result: `hubbub search` lines and the chat's."""

from __future__ import annotations

import json
import time

from hubbub.client.results import format_result, result_text
from hubbub.protocol import frames

AT = 1_700_000_000_000


def result(channel: str = "general", **message: object) -> frames.SearchResult:
    body = {
        "channel": channel,
        "seq": 12,
        "author": {"username": "ann", "display_name": "Ann"},
        "text": "ship the [bold]Deploy[/bold] now, deploy!",
        "client_id": None,
        "created_at": AT,
        **message,
    }
    return frames.SearchResult.model_validate(
        {
            "message": body,
            "snippet": "ship the [bold]Deploy[/bold] now, deploy!",
            "highlights": [[15, 21], [34, 40]],
        }
    )


def test_a_line_per_result() -> None:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(AT / 1000))
    line = format_result(result(), as_json=False)
    assert line == f"[#general #12 {when}] ann: ship the [bold]Deploy[/bold] now, deploy!"
    bold = format_result(result(), as_json=False, bold=True)
    assert "[bold]\x1b[1mDeploy\x1b[22m[/bold]" in bold and "\x1b[1mdeploy\x1b[22m!" in bold
    dm = format_result(result("dm:ann,bob", thread_root=3), as_json=False)
    assert dm.startswith("[dm:ann,bob #12 in thread #3 ")
    guest = format_result(result(author={"username": None, "display_name": "Zed"}), as_json=False)
    assert "] Zed (guest): ship" in guest
    as_json = json.loads(format_result(result(), as_json=True))
    assert as_json["highlights"] == [[15, 21], [34, 40]]
    assert as_json["message"]["text"] == result().message.text


def test_the_chat_highlights_the_matches_and_reads_no_markup() -> None:
    text = result_text(3, result())
    assert text.plain.startswith("3. #general #12 ")
    assert text.plain.endswith("ann: ship the [bold]Deploy[/bold] now, deploy!")
    base = text.plain.index("ship")
    lit = sorted(
        (span.start - base, span.end - base) for span in text.spans if "reverse" in str(span.style)
    )
    assert lit == [(15, 21), (34, 40)]
    assert [text.plain[base + a : base + b] for a, b in lit] == ["Deploy", "deploy"]
