from __future__ import annotations

from hubbub.server.gateway import redact


def test_tokens_are_redacted_from_query_strings_and_frames() -> None:
    assert redact("GET /ws?token=abc.def-_x&room_name=r") == "GET /ws?token=[redacted]&room_name=r"
    assert redact('{"action": "auth", "token": "eyJ.a.b"}') == (
        '{"action": "auth", "token": "[redacted]"}'
    )
    assert redact('{"action":"sendMessage","token":"t1","content":"hi"}') == (
        '{"action":"sendMessage","token":"[redacted]","content":"hi"}'
    )
    assert redact("nothing to hide") == "nothing to hide"
