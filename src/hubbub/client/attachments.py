"""How the line-mode and terminal clients show a message's files: name,
size, type and where to get it (`hubbub download ID`, `/download ID`)."""

from __future__ import annotations

from hubbub.protocol import frames

UNITS = ("B", "KB", "MB", "GB", "TB")


def human_size(size: int) -> str:
    """`812 B`, `1.4 MB`: powers of 1024, as file managers show them."""
    value = float(size)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def describe(f: frames.FileOut) -> str:
    """`report.pdf (1.4 MB, application/pdf)`, images with their dimensions."""
    parts = [human_size(f.size), f.content_type]
    if f.width is not None and f.height is not None:
        parts.append(f"{f.width}x{f.height} px")
    return f"{f.name} ({', '.join(parts)})"


def file_url(server: str, f: frames.FileOut) -> str:
    """The download's address (it needs your token: `hubbub download` has it)."""
    return f"{server.rstrip('/')}/api/files/{f.id}"
