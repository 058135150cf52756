"""Server settings: from CLI options and HUBBUB_* environment variables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hubbub.protocol.limits import Limits


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    database_url: str | None = None  # default: SQLite in data_dir
    bus_url: str = "memory://"
    allow_guests: bool = False
    allowed_origins: tuple[str, ...] = ()
    limits: Limits = dataclasses.field(default_factory=Limits)
    log_level: str = "info"

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hubbub.db'}"


def parse_limits(pairs: list[str] | tuple[str, ...]) -> Limits:
    """`["messages_per_second=100", ...]` -> Limits, rejecting unknown names."""
    fields = {f.name: f for f in dataclasses.fields(Limits)}
    values: dict[str, float | int] = {}
    for pair in pairs:
        for item in filter(None, (p.strip() for p in pair.split(","))):
            name, sep, raw = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in fields:
                raise ValueError(f"unknown limit {name!r}; known: {', '.join(sorted(fields))}")
            kind = int if fields[name].type in ("int", int) else float
            values[name] = kind(raw)
    return Limits(**values)  # type: ignore[arg-type]
