"""The Store on DynamoDB: each method runs its namesake on `SyncDynamoStore`
in a thread (boto3 blocks), with boto3's failures turned into StoreError."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from hubbub.core.models import SearchOrder, SearchPage, SearchQuery
from hubbub.core.ports import StoreError, Unsupported
from hubbub.store.dynamo.client import DynamoTables, error_code
from hubbub.store.dynamo.sync_store import SyncDynamoStore
from hubbub.store.dynamo.tables import DynamoConfig

if TYPE_CHECKING:
    from hubbub.core.ports import Store

P = ParamSpec("P")
R = TypeVar("R")


def _off_loop(
    fn: Callable[Concatenate[SyncDynamoStore, P], R],
) -> Callable[Concatenate[DynamoStore, P], Coroutine[Any, Any, R]]:
    """The async method that runs `fn`, a method of SyncDynamoStore, through
    `DynamoStore.run_blocking`; same parameters, same result."""

    async def method(self: DynamoStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.run_blocking(fn, self.sync, *args, **kwargs)

    method.__name__ = fn.__name__
    method.__qualname__ = f"DynamoStore.{fn.__name__}"
    method.__doc__ = fn.__doc__
    return method


class DynamoStore:
    def __init__(self, url: str) -> None:
        self.tables = DynamoTables(DynamoConfig.from_url(url))  # blocking, low level
        self.sync = SyncDynamoStore(self.tables)  # blocking, the Store's operations

    async def run_blocking(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run blocking boto3 work off the event loop; every backend failure
        becomes StoreError (conditional failures are handled inside `fn`)."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except ClientError as exc:
            raise StoreError(f"DynamoDB: {error_code(exc)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB unreachable: {exc}") from exc

    async def close(self) -> None:
        self.sync.close()  # closing boto3's connection pool does not block

    open = _off_loop(SyncDynamoStore.open)
    ping = _off_loop(SyncDynamoStore.ping)
    get_or_set_meta = _off_loop(SyncDynamoStore.get_or_set_meta)
    # users
    create_user = _off_loop(SyncDynamoStore.create_user)
    get_user = _off_loop(SyncDynamoStore.get_user)
    get_user_by_name = _off_loop(SyncDynamoStore.get_user_by_name)
    update_password_hash = _off_loop(SyncDynamoStore.update_password_hash)
    search_users = _off_loop(SyncDynamoStore.search_users)
    bots = _off_loop(SyncDynamoStore.bots)
    set_role = _off_loop(SyncDynamoStore.set_role)
    set_active = _off_loop(SyncDynamoStore.set_active)
    update_profile = _off_loop(SyncDynamoStore.update_profile)
    users_with_role = _off_loop(SyncDynamoStore.users_with_role)
    # sessions
    create_session = _off_loop(SyncDynamoStore.create_session)
    session_and_user = _off_loop(SyncDynamoStore.session_and_user)
    touch_session = _off_loop(SyncDynamoStore.touch_session)
    sessions_for = _off_loop(SyncDynamoStore.sessions_for)
    end_sessions = _off_loop(SyncDynamoStore.end_sessions)
    # integrations
    create_integration = _off_loop(SyncDynamoStore.create_integration)
    integration_by_key = _off_loop(SyncDynamoStore.integration_by_key)
    integrations = _off_loop(SyncDynamoStore.integrations)
    delete_integration = _off_loop(SyncDynamoStore.delete_integration)
    claim_outbox = _off_loop(SyncDynamoStore.claim_outbox)
    save_outbox = _off_loop(SyncDynamoStore.save_outbox)
    outbox = _off_loop(SyncDynamoStore.outbox)
    dead_letters = _off_loop(SyncDynamoStore.dead_letters)
    # notification preferences
    user_prefs = _off_loop(SyncDynamoStore.user_prefs)
    set_user_prefs = _off_loop(SyncDynamoStore.set_user_prefs)
    channel_prefs = _off_loop(SyncDynamoStore.channel_prefs)
    channel_prefs_of = _off_loop(SyncDynamoStore.channel_prefs_of)
    set_channel_prefs = _off_loop(SyncDynamoStore.set_channel_prefs)
    digest_users = _off_loop(SyncDynamoStore.digest_users)
    digest_marks = _off_loop(SyncDynamoStore.digest_marks)
    set_digest_marks = _off_loop(SyncDynamoStore.set_digest_marks)

    # invites
    create_invite = _off_loop(SyncDynamoStore.create_invite)
    use_invite = _off_loop(SyncDynamoStore.use_invite)
    unuse_invite = _off_loop(SyncDynamoStore.unuse_invite)
    invites = _off_loop(SyncDynamoStore.invites)
    revoke_invite = _off_loop(SyncDynamoStore.revoke_invite)
    # the audit log
    add_audit = _off_loop(SyncDynamoStore.add_audit)
    audit_log = _off_loop(SyncDynamoStore.audit_log)
    # channels
    create_channel = _off_loop(SyncDynamoStore.create_channel)
    get_channel = _off_loop(SyncDynamoStore.get_channel)
    get_channel_by_id = _off_loop(SyncDynamoStore.get_channel_by_id)
    all_channels = _off_loop(SyncDynamoStore.all_channels)
    rename_channel = _off_loop(SyncDynamoStore.rename_channel)
    update_channel = _off_loop(SyncDynamoStore.update_channel)
    default_channels = _off_loop(SyncDynamoStore.default_channels)
    set_member_admin = _off_loop(SyncDynamoStore.set_member_admin)
    channels_for = _off_loop(SyncDynamoStore.channels_for)
    public_channels = _off_loop(SyncDynamoStore.public_channels)
    membership = _off_loop(SyncDynamoStore.membership)
    add_member = _off_loop(SyncDynamoStore.add_member)
    remove_member = _off_loop(SyncDynamoStore.remove_member)
    member_names = _off_loop(SyncDynamoStore.member_names)
    set_last_read = _off_loop(SyncDynamoStore.set_last_read)
    # messages
    append_messages = _off_loop(SyncDynamoStore.append_messages)
    change_message = _off_loop(SyncDynamoStore.change_message)
    log_after = _off_loop(SyncDynamoStore.log_after)
    pinned = _off_loop(SyncDynamoStore.pinned)
    append_reply = _off_loop(SyncDynamoStore.append_reply)
    thread = _off_loop(SyncDynamoStore.thread)
    followed_threads = _off_loop(SyncDynamoStore.followed_threads)
    read_thread = _off_loop(SyncDynamoStore.read_thread)
    last_seq = _off_loop(SyncDynamoStore.last_seq)
    count_unread = _off_loop(SyncDynamoStore.count_unread)
    count_mentions = _off_loop(SyncDynamoStore.count_mentions)
    messages = _off_loop(SyncDynamoStore.messages)
    # files
    create_file = _off_loop(SyncDynamoStore.create_file)
    get_file = _off_loop(SyncDynamoStore.get_file)
    claim_files = _off_loop(SyncDynamoStore.claim_files)
    file_bytes = _off_loop(SyncDynamoStore.file_bytes)
    orphan_files = _off_loop(SyncDynamoStore.orphan_files)
    delete_file = _off_loop(SyncDynamoStore.delete_file)

    async def search(
        self,
        user_id: int,
        query: SearchQuery,
        *,
        public: bool,
        order: SearchOrder,
        offset: int,
        limit: int,
    ) -> SearchPage:
        # DynamoDB has no full-text index; scanning every message would be
        # slow and costly, so search says it cannot rather than pretend.
        raise Unsupported("search needs SQLite or PostgreSQL")


if TYPE_CHECKING:
    _is_a_store: type[Store] = DynamoStore  # mypy checks the protocol here
