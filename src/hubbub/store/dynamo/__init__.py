"""DynamoDB (for the Lambda deployment), through boto3.

URL: `dynamodb://?region=us-east-1&prefix=hubbub-&endpoint=http://127.0.0.1:8001&create=1`,
every parameter optional: `region` defaults to $AWS_REGION, `prefix` (prepended
to each table's name) to `hubbub-`, `endpoint` to AWS itself; `create=1` creates
missing tables on `open` (local runs; on AWS the SAM template owns them).

How the SQL store's guarantees are kept without SQL transactions:
- `seq` comes from `UpdateItem ADD last_seq :n` on the channel's item, an atomic
  counter: concurrent writers get disjoint ranges and never "last + 1".
- Each message is written with `TransactWriteItems`: the message (conditional on
  its `seq` being free), its `(author, client_id)` claim (conditional on not
  existing: the dedup), and a check that the author is still a member, which
  also moves the author's read cursor forward to it (an Update of the
  membership, see `append`). A retry that raced its original, or a member who
  left meanwhile, cancels only that message; the seq it was given holds no
  message. Such seqs are named to clients as `skipped` by the Lambda's pushes,
  which take turns per channel (`order`); a transaction also checks that the
  channel's push cursor has not passed its seqs, and takes new ones if it has.
- Names (users, channels) are claimed with conditional puts in the same
  transaction as the row they name.

- A channel's name is claimed for good: a rename claims the new one and keeps
  the old `name#` item as its alias. Messages keep the name they were written
  under; reads give them the channel's current one (`names`).

Modules: `tables` (the tables and the URL), `items` (attribute values and the
store's items), `client` (blocking table access), `sync_store`, `append`,
`changes`, `threads`, `files` and `workspace` (the Store's operations, blocking;
`workspace`: roles, sessions, invites, the audit log, channel administration;
`integrations`: webhooks and commands),
`names` (channels' current names for the messages read), `order` (the push
cursor and turn), `async_store` (`DynamoStore`, the Store).
"""

from hubbub.store.dynamo.async_store import DynamoStore
from hubbub.store.dynamo.client import DynamoTables
from hubbub.store.dynamo.items import Item, N, S, chunks, get_int, get_opt_str, get_str
from hubbub.store.dynamo.sync_store import SyncDynamoStore
from hubbub.store.dynamo.tables import TABLES, DynamoConfig, TableSpec

__all__ = [
    "TABLES",
    "DynamoConfig",
    "DynamoStore",
    "DynamoTables",
    "Item",
    "N",
    "S",
    "SyncDynamoStore",
    "TableSpec",
    "chunks",
    "get_int",
    "get_opt_str",
    "get_str",
]
