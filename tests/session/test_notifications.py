"""Notification preferences over the WebSocket protocol, on both deployments
(the same actions in the one engine): read and set, every change pushed to
all of the user's own connections and no one else's, `/mute` and `/dnd`, and
bad input answered with a documented error."""

from __future__ import annotations

from typing import Any

from .drivers import Driver
from .test_conversation import error, fence, same_frames, signed_in, take


def settings(fid: int | None, **over: Any) -> dict[str, Any]:
    """An answer (with its `id`) or, with None, the event (without one)."""
    body = {
        "dnd_until": None,
        "schedule": None,
        "dnd": False,
        "email_digest": False,
        "email": None,
        **over,
    }
    return {"type": "notifications", **({} if fid is None else {"id": fid}), **body}


def pushed(answer: dict[str, Any]) -> dict[str, Any]:
    """The event all of the user's connections get for `answer`."""
    return {k: v for k, v in answer.items() if k != "id"}


def channel_prefs(fid: int | None, channel: str, level: str, muted: bool) -> dict[str, Any]:
    return {
        "type": "channel_notifications",
        **({} if fid is None else {"id": fid}),
        "channel": channel,
        "level": level,
        "muted": muted,
    }


async def test_settings_start_at_the_defaults_and_changes_reach_every_own_device(
    drv: Driver,
) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    async with signed_in(drv, alice) as a1, signed_in(drv, alice) as a2, signed_in(drv, bob) as b:
        await a1.send({"action": "notifications", "id": 1})
        assert await a1.recv() == settings(1)

        # A window that is empty (start == end), so that `dnd` below is the
        # snooze's alone whatever the time of day (protocol.notify tests windows).
        night = {"start": "22:00", "end": "22:00", "tz": "Europe/Paris"}
        await a1.send(
            {"action": "set_notifications", "id": 2, "dnd_minutes": 30, "schedule": night}
        )
        got = await take(a1, 2)  # the answer, and the event to all of alice's connections
        answer = next(f for f in got if f.get("id") == 2)
        until = answer["dnd_until"]
        assert isinstance(until, int) and until > 0
        assert answer == settings(2, dnd_until=until, schedule=night, dnd=True)
        assert same_frames(got, [answer, pushed(answer)]), got
        assert await a2.recv() == pushed(answer)  # the other tab updates at once
        await fence(b)  # bob's settings are his own

        # Left out: unchanged; null: cleared.
        await a2.send({"action": "set_notifications", "id": 3, "dnd_until": None})
        got = await take(a2, 2)
        assert same_frames(
            got, [settings(3, schedule=night, dnd=False), settings(None, schedule=night, dnd=False)]
        ), got
        await a1.recv()
        await a1.send({"action": "notifications", "id": 4})
        assert await a1.recv() == settings(4, schedule=night, dnd=False)


async def test_a_channel_level_and_mute_are_per_member_and_reach_every_own_device(
    drv: Driver,
) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a1, signed_in(drv, alice) as a2, signed_in(drv, bob) as b:
        await a1.send({"action": "channel_notifications", "id": 1, "channel": general})
        assert await a1.recv() == channel_prefs(1, general, "mentions", False)

        frame = {"action": "set_channel_notifications", "id": 2, "channel": general}
        await a1.send({**frame, "level": "all"})
        got = await take(a1, 2)
        want = channel_prefs(2, general, "all", False)
        assert same_frames(got, [want, pushed(want)]), got
        assert await a2.recv() == pushed(want)

        await a2.send({**frame, "id": 3, "muted": True})  # the level stays
        got = await take(a2, 2)
        want = channel_prefs(3, general, "all", True)
        assert same_frames(got, [want, pushed(want)]), got
        assert await a1.recv() == pushed(want)

        await b.send({"action": "channel_notifications", "id": 4, "channel": general})
        assert await b.recv() == channel_prefs(4, general, "mentions", False)


async def test_mute_and_dnd_commands_answer_ephemerally_and_change_the_settings(
    drv: Driver,
) -> None:
    alice, bob = await drv.account("alice"), await drv.account("bob")
    general = await drv.channel("general", alice, bob)
    async with signed_in(drv, alice) as a, signed_in(drv, bob) as b:

        async def command(fid: int, text: str) -> dict[str, Any]:
            await a.send({"action": "command", "id": fid, "channel": general, "text": text})
            got = await take(a, 2)  # the answer and the settings event, in either order
            answer = next(f for f in got if f["type"] == "command_result")
            assert answer["response_type"] == "ephemeral" and answer["id"] == fid
            return {"answer": answer["text"], "event": next(f for f in got if f is not answer)}

        muted = await command(1, "/mute")
        assert muted["answer"].startswith(f"Muted #{general}")
        assert muted["event"] == channel_prefs(None, general, "mentions", True)
        unmuted = await command(2, "/mute")
        assert unmuted["answer"] == f"Unmuted #{general}."
        assert unmuted["event"] == channel_prefs(None, general, "mentions", False)

        snoozed = await command(3, "/dnd 2h")
        assert snoozed["answer"].startswith("Do not disturb is on for 2 h")
        assert snoozed["event"]["dnd"] is True
        off = await command(4, "/dnd off")
        assert off["answer"] == "Do not disturb is off."
        assert off["event"] == settings(None)

        await a.send({"action": "command", "id": 5, "channel": general, "text": "/dnd"})
        answer = await a.recv()
        assert answer["text"] == "Do not disturb is off."  # showing changes nothing: no event
        await fence(a)

        await a.send({"action": "command", "id": 6, "channel": general, "text": "/dnd soon"})
        assert await a.recv() == error(
            6, "invalid_input", "usage: /dnd [30m | 2h | 1d | off]", field="text"
        )
        await a.send({"action": "command", "id": 7, "channel": general, "text": "/help"})
        helped = (await a.recv())["text"]
        assert "/mute" in helped and "/dnd [30m | 2h | 1d | off]" in helped
        await fence(b)  # nothing of this reached bob


async def test_bad_notification_input_gets_documented_errors(drv: Driver) -> None:
    alice, bob, carol = (
        await drv.account("alice"),
        await drv.account("bob"),
        await drv.account("carol"),
    )
    secret = await drv.private_channel("secret", bob, carol)
    async with signed_in(drv, alice) as a:
        frame = {"action": "set_channel_notifications", "id": 1, "channel": secret}
        await a.send({**frame, "level": "all"})
        got = await a.recv()
        assert (got["type"], got["code"]) == ("error", "not_found")  # invisible to non-members

        bad_level = {
            "action": "set_channel_notifications",
            "id": 2,
            "channel": "x",
            "level": "loud",
        }
        await a.send(bad_level)
        got = await a.recv()
        assert (got["code"], got["field"]) == ("invalid_input", "level"), got

        zone = {"start": "22:00", "end": "08:00", "tz": "Mars/Olympus"}
        await a.send({"action": "set_notifications", "id": 3, "schedule": zone})
        got = await a.recv()
        assert (got["id"], got["code"], got["field"]) == (3, "invalid_input", "schedule.tz")

        clock = {"start": "25:00", "end": "08:00", "tz": "UTC"}
        await a.send({"action": "set_notifications", "id": 4, "schedule": clock})
        got = await a.recv()
        assert (got["code"], got["field"]) == ("invalid_input", "schedule"), (
            got
        )  # the frame's field

        both = {"action": "set_notifications", "id": 5, "dnd_minutes": 5, "dnd_until": 1}
        await a.send(both)
        got = await a.recv()
        assert (got["code"], got["field"]) == ("invalid_input", "dnd_minutes"), got

        await a.send({"action": "set_notifications", "id": 6, "dnd_until": 2**50})
        got = await a.recv()
        assert (got["code"], got["field"]) == ("invalid_input", "dnd_until"), got

        # Neither deployment here sends e-mail (no --smtp-url; Lambda never does).
        await a.send({"action": "set_notifications", "id": 7, "email_digest": True})
        got = await a.recv()
        assert (got["id"], got["code"]) == (7, "unsupported"), got

        await a.send({"action": "notifications", "id": 8})
        assert await a.recv() == settings(8)  # nothing of it was stored
