"""The DynamoDB tables, and the `dynamodb://` URL that says where they are."""

from __future__ import annotations

import dataclasses
import os
import urllib.parse

DEFAULT_PREFIX = "hubbub-"


@dataclasses.dataclass(frozen=True, slots=True)
class TableSpec:
    hash_key: tuple[str, str]  # (attribute, type)
    range_key: tuple[str, str] | None = None
    ttl: str | None = None  # the attribute DynamoDB's TTL deletes items by


# The one description of the tables; template.yaml and serverless.yml are
# checked against it by the tests.
# The item kinds in each are listed where they are written (threads.py,
# workspace.py for sessions, invites, the audit log and the role index,
# integrations.py for webhooks and commands).
TABLES: dict[str, TableSpec] = {
    "meta": TableSpec(("pk", "S")),  # meta values, id counters, invite#id, integration#id
    # user#id, username#name, sent#author#client_id, session#id
    "users": TableSpec(("pk", "S")),
    # channel#id (with the seq counter), name#name (current and former), pins#id
    "channels": TableSpec(("pk", "S")),
    # user#u/channel#c and its mirror; thread indexes; role#, usessions#,
    # invites, audit, defaults, integrations, notify# and notifych# (notify.py)
    "members": TableSpec(("pk", "S"), ("sk", "S")),
    "messages": TableSpec(("channel_id", "N"), ("seq", "N")),
    "changes": TableSpec(("channel_id", "N"), ("seq", "N")),  # edits, deletes: the log
    "connections": TableSpec(("pk", "S"), ("sk", "S"), ttl="expires_at"),  # hubbub.aws
}


@dataclasses.dataclass(frozen=True, slots=True)
class DynamoConfig:
    region: str
    prefix: str
    endpoint: str | None = None
    create: bool = False

    @classmethod
    def from_url(cls, url: str) -> DynamoConfig:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "dynamodb":
            raise ValueError(f"not a dynamodb:// URL: {url!r}")
        q = dict(urllib.parse.parse_qsl(parts.query))
        unknown = set(q) - {"region", "prefix", "endpoint", "create"}
        if unknown:
            raise ValueError(f"unknown dynamodb:// parameter(s): {', '.join(sorted(unknown))}")
        region = q.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
        return cls(
            region=region,
            prefix=q.get("prefix", DEFAULT_PREFIX),
            endpoint=q.get("endpoint") or None,
            create=q.get("create", "").lower() in ("1", "true", "yes"),
        )

    def table(self, name: str) -> str:
        return self.prefix + name
