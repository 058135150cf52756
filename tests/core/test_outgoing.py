"""core.outgoing and core.delivery's back-off, without I/O: which messages
a hook takes, the signed request, what an answer asks to post."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import random
import urllib.parse

import pytest

from hubbub.core import outgoing
from hubbub.core.delivery import MAX_BACKOFF, backoff
from hubbub.core.models import Integration, StoredMessage
from hubbub.core.ports import OutboundAnswer

HOOK = Integration(
    "h1",
    "outgoing",
    "outgoing:h1",
    "ci",
    7,
    1,
    1,
    0,
    {"url": "http://x/", "triggers": [], "format": "form", "token": "t", "signing_secret": "s"},
)
MESSAGE = StoredMessage(7, "ops", 42, "ann", "Ann", "Deploy now", "c1", 1_700_000_000_123)


def with_triggers(*words: str) -> Integration:
    return dataclasses.replace(HOOK, config={**HOOK.config, "triggers": list(words)})


def test_a_hook_without_triggers_takes_every_message_but_a_deleted_one() -> None:
    assert outgoing.trigger_word(HOOK, MESSAGE) == ""
    assert outgoing.trigger_word(HOOK, dataclasses.replace(MESSAGE, deleted=True)) is None


def test_trigger_words_match_the_start_of_the_message_whatever_its_case() -> None:
    hook = with_triggers("deploy", "rollback")
    assert outgoing.trigger_word(hook, MESSAGE) == "deploy"
    assert outgoing.trigger_word(hook, dataclasses.replace(MESSAGE, text="  rollback!")) == (
        "rollback"
    )
    assert outgoing.trigger_word(hook, dataclasses.replace(MESSAGE, text="we deploy")) is None


def test_trigger_words_are_checked_and_kept_lowercased_once() -> None:
    assert outgoing.check_triggers(["Deploy", " deploy ", "ship"]) == ["deploy", "ship"]
    for bad in (["two words"], [""], ["x" * 33], [f"w{i}" for i in range(11)]):
        with pytest.raises(ValueError):
            outgoing.check_triggers(bad)


def test_a_hooks_answer_is_known_by_its_client_id() -> None:
    answer = dataclasses.replace(MESSAGE, client_id=outgoing.delivery_id(HOOK, 41))
    assert outgoing.is_answer(answer)
    assert not outgoing.is_answer(MESSAGE)
    assert not outgoing.is_answer(dataclasses.replace(MESSAGE, client_id=None))


def test_the_request_is_slacks_payload_signed_with_the_delivery_as_its_key() -> None:
    req = outgoing.request(HOOK, MESSAGE, 5, "", team_domain="chat.example", now=1_700_000_001.9)
    form = dict(urllib.parse.parse_qsl(req.body.decode(), keep_blank_values=True))
    assert form == {
        "token": "t",
        "team_id": "hubbub",
        "team_domain": "chat.example",
        "service_id": "h1",
        "channel_id": "7",
        "channel_name": "ops",
        "timestamp": "1700000000.123000",
        "user_id": "5",
        "user_name": "ann",
        "text": "Deploy now",
        "trigger_word": "",
        "seq": "42",
    }
    assert req.headers["Idempotency-Key"] == "hook-h1-42"
    assert req.headers["X-Slack-Request-Timestamp"] == "1700000001"
    mac = hmac.new(b"s", b"v0:1700000001:" + req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Slack-Signature"] == f"v0={mac}"
    reply = dataclasses.replace(MESSAGE, thread_root=40)
    json_hook = dataclasses.replace(HOOK, config={**HOOK.config, "format": "json"})
    as_json = outgoing.request(json_hook, reply, 5, "", team_domain="", now=0)
    assert as_json.headers["Content-Type"] == "application/json"
    assert json.loads(as_json.body)["thread_root"] == "40"


def answer(body: bytes, content_type: str = "application/json") -> OutboundAnswer:
    return OutboundAnswer(200, content_type, body)


def test_an_answer_with_text_is_posted_and_others_are_not() -> None:
    got = outgoing.reply_of(answer(b'{"text": "done", "username": " The  Bot "}'), 100)
    assert got == outgoing.Reply("done", "The Bot")
    assert outgoing.reply_of(answer(b""), 100) is None
    assert outgoing.reply_of(answer(b"ok", "text/plain"), 100) is None
    assert outgoing.reply_of(answer(b'{"text": "  "}'), 100) is None
    assert outgoing.reply_of(answer(b'{"text": "' + b"x" * 50 + b'"}'), 10) == outgoing.Reply(
        "x" * 9 + "…", None
    )
    for junk in (b"{nope", b"[1]"):
        with pytest.raises(ValueError):
            outgoing.reply_of(answer(junk), 100)


def test_back_off_doubles_with_jitter_and_is_bounded() -> None:
    rng = random.Random(1)
    for attempts in range(1, 30):
        ceiling = min(MAX_BACKOFF, 2.0 ** (attempts - 1))
        wait = backoff(attempts, 1.0, rng)
        assert ceiling / 2 <= wait <= ceiling
