"""What an uploaded file is, from its content: its type (magic bytes, never
the name), whether a browser may show it inline, and a thumbnail for images.
Pure functions (no I/O); `thumbnail` is CPU-bound, so callers run it in a
thread."""

from __future__ import annotations

import io
import urllib.parse
import warnings

import puremagic
from PIL import Image, ImageOps

# Enough of the head for every signature puremagic knows that matters here
# (most sit in the first few bytes; some containers a little further in).
HEAD_BYTES = 8192

TEXT = "text/plain"
BINARY = "application/octet-stream"

# What a browser may render inline without running anything of the file's in
# our origin: images that are pixels only, plain text (served as text/plain
# with nosniff), PDF, and audio/video. Everything else, HTML, SVG and XML
# above all, is always served as an attachment.
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        TEXT,
        "application/pdf",
        "video/mp4",
        "video/webm",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/wave",
        "audio/x-wav",
        "audio/flac",
        "audio/mp4",
        "audio/webm",
        "audio/aac",
    }
)

# Types whose bytes a browser (or a plugin) may interpret as a document with
# script: never announced as such, whatever the content says.
_SCRIPTABLE = ("text/html", "application/xhtml+xml")

# Images thumbnailed: decoders for formats that are pixels, nothing that
# hands the file to another program (EPS would run Ghostscript).
THUMBNAIL_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_THUMBNAIL_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
MAX_THUMBNAIL_SOURCE = 25 * 1024 * 1024  # bytes: larger images get none
THUMBNAIL_SIDE = 360
# Larger images are refused as decompression bombs: a few KB of PNG can
# claim gigapixels. Pillow's own bound (about 89 Mpx).
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485

# Control characters plain text may hold (tab, newlines, form feed, escape).
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0b\x0c\x1b")


def sniff(head: bytes, name: str = "") -> str:
    """The content type of a file from its first bytes (`HEAD_BYTES` of them
    is plenty). The name only breaks ties between types the bytes match
    (`.docx` among the zip-based ones): a PNG named `x.html` is a PNG, an
    HTML page named `x.png` is HTML, and bytes that match nothing are never
    given the type of their name's extension."""
    try:
        # Not puremagic's `filename=`: with it, a name alone yields a type.
        matches = [m for m in puremagic.magic_string(head) if m.mime_type]
    except (puremagic.PureError, ValueError):
        matches = []
    if matches:
        ext = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
        best = max(m.confidence for m in matches)
        tied = [m for m in matches if m.confidence == best]
        chosen = next((m for m in tied if m.extension.lower() == ext), tied[0])
        return str(chosen.mime_type).lower()
    if _is_text(head):
        return TEXT
    return BINARY


def _is_text(head: bytes) -> bool:
    """Valid UTF-8 without control characters text never has (a NUL, say).
    `head` may end within a character: up to 3 bytes of it are let go."""
    if not any(_decodes(head[: len(head) - cut]) for cut in range(4)):
        return False
    return not any((b < 0x20 and b not in _TEXT_CONTROLS) or b == 0x7F for b in head)


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def served_type(content_type: str) -> str:
    """The Content-Type a download is answered with: text as UTF-8 text,
    never a type a browser would run (with `nosniff`, it trusts this)."""
    if content_type == TEXT:
        return "text/plain; charset=utf-8"
    if content_type in _SCRIPTABLE:
        return BINARY
    return content_type


def is_inline(content_type: str) -> bool:
    return content_type in INLINE_TYPES


def disposition(filename: str, *, inline: bool) -> str:
    """A Content-Disposition header (RFC 6266): an ASCII `filename` for old
    clients and the exact one, UTF-8 and percent-encoded, as `filename*`."""
    kind = "inline" if inline else "attachment"
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\%' else "_" for c in filename
    )
    exact = urllib.parse.quote(filename, safe="")
    return f"{kind}; filename=\"{fallback or 'file'}\"; filename*=UTF-8''{exact}"


def thumbnail_type(content_type: str) -> str:
    """The type of the thumbnail of an image of `content_type`: JPEG for a
    JPEG, PNG for the others (which may be transparent)."""
    return "image/jpeg" if content_type == "image/jpeg" else "image/png"


def thumbnail(data: bytes) -> tuple[bytes, int, int] | None:
    """A thumbnail of an image (at most `THUMBNAIL_SIDE` px a side, turned
    as its EXIF orientation says), of `thumbnail_type`, with the image's
    own width and height as shown (oriented). None for anything that is no
    image Pillow reads safely: other formats, damaged files, images over
    `MAX_THUMBNAIL_SOURCE` bytes or `MAX_PIXELS`."""
    if len(data) > MAX_THUMBNAIL_SOURCE:
        return None
    try:
        with warnings.catch_warnings():
            # Between MAX_PIXELS and twice that Pillow only warns: refused below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_THUMBNAIL_FORMATS)
        with image:
            if image.width * image.height > MAX_PIXELS:
                return None
            width, height = _oriented_size(image)  # before `draft` shrinks it
            image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # JPEG: decode small
            jpeg = image.format == "JPEG"
            oriented = ImageOps.exif_transpose(image)
            return _encode_thumbnail(oriented, jpeg=jpeg), width, height
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError):
        return None


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    """The image's size as shown: EXIF orientations 5-8 swap the sides."""
    width, height = image.size
    orientation = image.getexif().get(0x0112, 1)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _encode_thumbnail(image: Image.Image, *, jpeg: bool) -> bytes:
    # Resampled in full colour: a palette image scaled as is looks ragged.
    small = image.convert("RGB" if jpeg else "RGBA")
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    out = io.BytesIO()
    if jpeg:
        small.save(out, "JPEG", quality=85)
    else:
        small.save(out, "PNG", optimize=True)
    return out.getvalue()
