"""What `hubbub serve` logs, and how: one JSON object per line on stderr, so
an operator's log pipeline can filter by field instead of parsing text.

hubbub's own loggers (`hubbub.ws`: connections opened and closed with their
codes, slow consumers; `hubbub.session`, `hubbub.fanout`, ...: errors) write at
`--log-level`; uvicorn's access log (one line per HTTP request) only with
`--access-log`. Tokens are redacted from every record before it is written.
"""

from __future__ import annotations

import datetime
import logging
import sys
from typing import Any

import orjson

from hubbub.server.gateway import redact

# LogRecord attributes that are not `extra=` fields.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


def configure(level: str) -> None:
    """Every logger writes JSON lines to stderr; hubbub's (and uvicorn's, which
    uvicorn sets itself) from `level` up, other libraries' from warnings up:
    at debug, a database driver would log its queries' parameters, secrets
    and password hashes among them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("hubbub").setLevel(level.upper())
