"""A channel's push order on DynamoDB: the push cursor and the turn to push.

One self-hosted process publishes a channel's commits in commit order. On the
Lambda deployment each invocation pushes what it committed itself, so two
invocations could reach a connection out of `seq` order, and a seq taken from
the counter by an invocation that then failed (or died) would be a hole that
nobody names. Two attributes of the channel's item close both:

- `pushed_seq`: every seq up to it is final, stored or never to be, and has
  been pushed (or is being pushed, in the turn that moved it). A commit is
  conditional on `pushed_seq < seq` (see `append`), so once the cursor has
  passed a seq, nothing can be stored there later: a writer that arrives late
  takes new seqs instead. A channel without it has pushed nothing yet: its
  cursor is 0 (as the fence and `Busy` read it), not "just before the seqs of
  whoever takes the first turn", which may be the second sender's.
- `turn` / `turn_until`: who pushes the channel's events now, and until when.
  Pushes are made one turn at a time, so a connection receives a channel's
  events in `seq` order. The turn is a lease: an invocation that died while
  holding it holds the channel up for `TURN_MS` at most.

The caller (`hubbub.aws.sequencer`) decides what to push in its turn; these
are the blocking item operations it needs.
"""

from __future__ import annotations

from typing import NamedTuple

from botocore.exceptions import ClientError

from hubbub.store.dynamo.client import DynamoTables, error_code
from hubbub.store.dynamo.items import Item, N, S, get_int, get_str, now_ms

TURN_MS = 10_000  # longer than the largest push takes (1,000 followers: ~1.5 s)


def fence(tables: DynamoTables, channel_id: int, seq: int) -> Item:
    """The ConditionCheck every write at `seq` in the channel's log carries:
    the push cursor has not passed it."""
    check: Item = {
        "TableName": tables.names["channels"],
        "Key": {"pk": S(f"channel#{channel_id}")},
        "ConditionExpression": "attribute_not_exists(pushed_seq) OR pushed_seq < :s",
        "ExpressionAttributeValues": {":s": N(seq)},
    }
    return {"ConditionCheck": check}


class Turn(NamedTuple):
    owner: str
    channel_id: int
    channel: str  # its name, for the frames that name holes
    pushed: int | None  # `pushed_seq` when the turn was taken (None: never set)
    taken: int  # the seq counter (`last_seq`) when the turn was taken

    @property
    def cursor(self) -> int:
        """Every seq up to this one is pushed; 0 while `pushed_seq` was never set."""
        return 0 if self.pushed is None else self.pushed


class Busy(NamedTuple):
    """Someone else holds the turn; what they (or those before) have pushed."""

    pushed: int


def take_turn(tables: DynamoTables, channel_id: int, owner: str) -> Turn | Busy:
    """Take the channel's turn, or say how far pushes have come while someone
    else holds it (so a pusher whose seqs are pushed can stop waiting)."""
    now = now_ms()
    try:
        res = tables.client.update_item(
            TableName=tables.names["channels"],
            Key={"pk": S(f"channel#{channel_id}")},
            UpdateExpression="SET turn = :me, turn_until = :until",
            ConditionExpression=(
                "attribute_exists(pk) AND (attribute_not_exists(turn_until) OR turn_until < :now)"
            ),
            ExpressionAttributeValues={
                ":me": S(owner),
                ":until": N(now + TURN_MS),
                ":now": N(now),
            },
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            old: Item = exc.response.get("Item", {})  # type: ignore[assignment]
            if "pk" not in old:
                raise  # no such channel
            return Busy(get_int(old, "pushed_seq") if "pushed_seq" in old else 0)
        raise
    attrs = res["Attributes"]
    pushed = get_int(attrs, "pushed_seq") if "pushed_seq" in attrs else None
    taken = get_int(attrs, "last_seq") if "last_seq" in attrs else 0
    return Turn(owner, channel_id, get_str(attrs, "name"), pushed, taken)


def advance(tables: DynamoTables, turn: Turn, seq: int) -> bool:
    """Move `pushed_seq` to `seq` in our turn: from now on nothing can be
    stored at or below it. False if the turn was lost (its lease ran out)."""
    try:
        tables.client.update_item(
            TableName=tables.names["channels"],
            Key={"pk": S(f"channel#{turn.channel_id}")},
            UpdateExpression="SET pushed_seq = :seq",
            ConditionExpression="turn = :me",
            ExpressionAttributeValues={":seq": N(seq), ":me": S(turn.owner)},
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def end_turn(tables: DynamoTables, turn: Turn) -> None:
    """Give the turn up (if it is still ours)."""
    try:
        tables.client.update_item(
            TableName=tables.names["channels"],
            Key={"pk": S(f"channel#{turn.channel_id}")},
            UpdateExpression="REMOVE turn, turn_until",
            ConditionExpression="turn = :me",
            ExpressionAttributeValues={":me": S(turn.owner)},
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
