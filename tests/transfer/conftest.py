from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from services import drop_database, fresh_postgres_database

MakeUrl = Callable[[], Awaitable[str]]


@pytest.fixture(params=["sqlite", "postgres"])
async def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeUrl]:
    """Make empty databases of one backend (each call a new one), dropped after."""
    made: list[str] = []
    counter = itertools.count()

    async def make() -> str:
        if request.param == "sqlite":
            return f"sqlite:///{tmp_path / f'db{next(counter)}' / 'hubbub.db'}"
        url = await fresh_postgres_database()
        made.append(url)
        return url

    yield make
    for url in made:
        await drop_database(url)
