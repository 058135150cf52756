"""core.media: the type of a file from its bytes (never its name), what a
browser may show inline, and thumbnails (EXIF orientation, bombs, garbage)."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from hubbub.core import media


def image_bytes(
    fmt: str, size: tuple[int, int] = (40, 20), mode: str = "RGB", **save: object
) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, "red" if mode == "RGB" else None).save(buf, fmt, **save)
    return buf.getvalue()


PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
XML = b'<?xml version="1.0"?><note><to>you</to></note>'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("PNG"), "image/png"),
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("GIF"), "image/gif"),
        (image_bytes("WEBP"), "image/webp"),
        (PDF, "application/pdf"),
        (HTML, "text/html"),
        (SVG, "image/svg+xml"),
        (XML, "application/xml"),
        ("héllo, wörld\n\ttabbed\r\n".encode(), "text/plain"),
        (b"", "text/plain"),
        (bytes(range(256)) * 4, "application/octet-stream"),
        (b"text with a NUL\x00 in it", "application/octet-stream"),
        (b"caf\xe9 in Latin-1, not UTF-8", "application/octet-stream"),
    ],
)
def test_sniff_by_content(data: bytes, expected: str) -> None:
    assert media.sniff(data[: media.HEAD_BYTES], "upload") == expected


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (image_bytes("PNG"), "page.html", "image/png"),
        (HTML, "cat.png", "text/html"),
        (SVG, "cat.jpg", "image/svg+xml"),
        (b"just words", "report.pdf", "text/plain"),
        (b"\x00\x01\x02binary", "notes.txt", "application/octet-stream"),
    ],
)
def test_sniff_ignores_a_lying_name(data: bytes, name: str, expected: str) -> None:
    assert media.sniff(data, name) == expected


def test_text_cut_within_a_character_is_still_text() -> None:
    data = ("é" * 5000).encode()  # 10,000 bytes: the head ends inside nothing
    assert media.sniff(data[:8191], "x") == "text/plain"  # ... or inside an "é"


def test_inline_only_for_types_that_cannot_script() -> None:
    for safe in ("image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"):
        assert media.is_inline(safe)
    assert media.is_inline("application/pdf") and media.is_inline("video/mp4")
    for unsafe in (
        "text/html",
        "image/svg+xml",
        "application/xml",
        "text/xml",
        "application/javascript",
        "application/octet-stream",
        "image/bmp",
    ):
        assert not media.is_inline(unsafe)
    assert media.served_type("text/html") == "application/octet-stream"
    assert media.served_type("text/plain") == "text/plain; charset=utf-8"
    assert media.served_type("image/svg+xml") == "image/svg+xml"  # an attachment, sandboxed


def test_disposition_rfc6266() -> None:
    d = media.disposition('été "report"\\.pdf', inline=False)
    assert d == (
        'attachment; filename="_t_ _report__.pdf"; '
        "filename*=UTF-8''%C3%A9t%C3%A9%20%22report%22%5C.pdf"
    )
    assert media.disposition("a.png", inline=True).startswith('inline; filename="a.png"')


def test_thumbnail_of_each_format_and_its_dimensions() -> None:
    for fmt, kind in (("PNG", "PNG"), ("JPEG", "JPEG"), ("GIF", "PNG"), ("WEBP", "PNG")):
        made = media.thumbnail(image_bytes(fmt, (1200, 800)))
        assert made is not None, fmt
        thumb, width, height = made
        assert (width, height) == (1200, 800)
        with Image.open(io.BytesIO(thumb)) as t:
            assert t.format == kind
            assert t.size == (360, 240)
    small = media.thumbnail(image_bytes("PNG", (100, 50)))
    assert small is not None
    with Image.open(io.BytesIO(small[0])) as t:
        assert t.size == (100, 50)  # never enlarged


def test_thumbnail_keeps_transparency() -> None:
    buf = io.BytesIO()
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(buf, "PNG")
    made = media.thumbnail(buf.getvalue())
    assert made is not None
    with Image.open(io.BytesIO(made[0])) as t:
        assert t.mode == "RGBA" and t.getpixel((0, 0))[3] == 0


def test_thumbnail_applies_exif_orientation() -> None:
    # A landscape photo whose camera was turned: EXIF orientation 6 means
    # "rotate 90 degrees clockwise to view"; left half red, right half blue.
    image = Image.new("RGB", (400, 200), "red")
    image.paste((0, 0, 255), (200, 0, 400, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes())
    made = media.thumbnail(buf.getvalue())
    assert made is not None
    thumb, width, height = made
    assert (width, height) == (200, 400)  # as shown: portrait
    with Image.open(io.BytesIO(thumb)) as t:
        assert t.size == (180, 360)
        top, bottom = t.convert("RGB").getpixel((90, 20)), t.convert("RGB").getpixel((90, 340))
    assert top[0] > 200 and top[2] < 60  # red on top once turned clockwise
    assert bottom[2] > 200 and bottom[0] < 60


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` (a bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decompression_bombs_get_no_thumbnail() -> None:
    assert media.thumbnail(png_claiming(30_000, 30_000)) is None  # 900 Mpx: Pillow refuses
    assert media.thumbnail(png_claiming(10_000, 10_000)) is None  # 100 Mpx: over MAX_PIXELS


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        image_bytes("PNG")[:60],  # cut short
        b"\x89PNG\r\n\x1a\n" + b"\xff" * 100,
        image_bytes("BMP"),  # an image, but not a format thumbnailed
        b"%!PS-Adobe-3.0 EPSF-3.0\n",  # would run Ghostscript: never opened
        SVG,
    ],
)
def test_garbage_gets_no_thumbnail(data: bytes) -> None:
    assert media.thumbnail(data) is None


def test_too_large_a_source_gets_no_thumbnail() -> None:
    data = image_bytes("PNG") + b"\x00" * (media.MAX_THUMBNAIL_SOURCE + 1)
    assert media.thumbnail(data) is None
