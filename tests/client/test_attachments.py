"""How line mode and the terminal client show a message's files."""

from __future__ import annotations

from hubbub.client.attachments import describe, human_size
from hubbub.client.chat import format_line
from hubbub.client.lines import format_message
from hubbub.client.sdk import attachment_name
from hubbub.protocol import frames


def message(*files: frames.FileOut) -> frames.MessageOut:
    return frames.MessageOut(
        channel="general",
        seq=7,
        author=frames.Author(username="ann", display_name="Ann"),
        text="the logs",
        client_id="c1",
        created_at=0,
        files=list(files),
    )


IMAGE = frames.FileOut(
    id="a" * 22,
    name="shot.png",
    size=1536,
    content_type="image/png",
    width=640,
    height=480,
    thumbnail=True,
)
LOG = frames.FileOut(id="b" * 22, name="build.log", size=812, content_type="text/plain")


def test_sizes_in_human_units() -> None:
    assert human_size(0) == "0 B"
    assert human_size(1023) == "1023 B"
    assert human_size(1536) == "1.5 KB"
    assert human_size(100 * 1024 * 1024) == "100.0 MB"
    assert human_size(3 * 1024**5) == "3072.0 TB"


def test_a_file_shows_name_size_type_and_image_dimensions() -> None:
    assert describe(LOG) == "build.log (812 B, text/plain)"
    assert describe(IMAGE) == "shot.png (1.5 KB, image/png, 640x480 px)"


def test_line_mode_lists_each_file_with_its_id() -> None:
    lines = format_message(message(IMAGE, LOG), as_json=False).splitlines()
    assert lines[0].endswith("ann: the logs")
    assert lines[1:] == [
        f"    📎 shot.png (1.5 KB, image/png, 640x480 px)  id {IMAGE.id}",
        f"    📎 build.log (812 B, text/plain)  id {LOG.id}",
    ]
    assert format_message(message(), as_json=False).count("\n") == 0


def test_the_terminal_shows_each_file_and_how_to_download_it() -> None:
    plain = format_line(message(LOG)).plain
    assert f"📎 build.log (812 B, text/plain)  /download {LOG.id}" in plain


def test_a_download_is_saved_under_a_plain_name_only() -> None:
    assert attachment_name('attachment; filename="x.txt"', "f") == "x.txt"
    assert attachment_name("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", "f") == "résumé.pdf"
    assert attachment_name('attachment; filename="../../etc/passwd"', "f") == "passwd"
    assert attachment_name('attachment; filename="..\\\\..\\\\boot.ini"', "f") == "boot.ini"
    assert attachment_name("", "fallback") == "fallback"
    assert attachment_name('inline; filename=".."', "fallback") == "fallback"
