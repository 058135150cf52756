from __future__ import annotations

import pytest

from hubbub.config import Settings, parse_limits


def test_parse_limits_overrides_and_types() -> None:
    limits = parse_limits(["messages_per_second=2.5,message_burst=4", "max-frame-bytes=100"])
    assert limits.messages_per_second == 2.5
    assert limits.message_burst == 4 and isinstance(limits.message_burst, int)
    assert limits.max_frame_bytes == 100


def test_unknown_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown limit"):
        parse_limits(["nope=1"])


def test_default_database_is_sqlite_in_data_dir() -> None:
    assert Settings().store_url == "sqlite:///data/hubbub.db"
    assert Settings(database_url="postgresql://x/y").store_url == "postgresql://x/y"
