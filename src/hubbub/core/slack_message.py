"""A Slack message body (what Slack's incoming webhooks and `response_url`
take) as hubbub's text: `text`, or the text of its `blocks`, then the text
of its `attachments`, each in Slack's mrkdwn turned into hubbub's
(core.mrkdwn). hubbub shows text, not layouts, so a layout degrades to the
words in it, in order; what has no words (dividers, buttons' actions) drops.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from hubbub.core.mrkdwn import convert
from hubbub.protocol.errors import ChatError, ErrorCode

# Deep enough for any real layout; a body nested deeper is refused rather
# than walked (it can only be an attack on the walk).
MAX_DEPTH = 12


def _texts(node: Any, depth: int = 0) -> Iterator[str]:
    """The words of a block, a block element or a rich-text element."""
    if depth > MAX_DEPTH:
        raise ChatError(ErrorCode.invalid_input, "blocks are nested too deeply", field="blocks")
    if isinstance(node, list):
        for item in node:
            yield from _texts(item, depth + 1)
        return
    if not isinstance(node, Mapping):
        return
    kind = node.get("type")
    text = node.get("text")
    if isinstance(text, str):
        if kind == "link" and isinstance(node.get("url"), str):
            yield f"<{node['url']}|{text}>"
        else:
            yield text
    elif isinstance(text, Mapping):  # a text object: {"type": "mrkdwn", "text": ...}
        yield from _texts(text, depth + 1)
    elif kind == "link" and isinstance(node.get("url"), str):
        yield node["url"]
    elif kind == "user" and isinstance(node.get("user_id"), str):
        yield f"<@{node['user_id']}>"
    elif kind == "emoji" and isinstance(node.get("name"), str):
        yield f":{node['name']}:"
    elif kind == "image" and isinstance(node.get("alt_text"), str):
        yield node["alt_text"]
    for key in ("fields", "elements"):
        if key in node:
            yield from _texts(node[key], depth + 1)


def _block_text(blocks: Any) -> str:
    if not isinstance(blocks, list):
        raise ChatError(ErrorCode.invalid_input, "blocks must be a list", field="blocks")
    lines = []
    for block in blocks:
        # A rich-text block's elements run on within a line; other blocks
        # (sections, headers, context) are lines of their own.
        joiner = "" if isinstance(block, Mapping) and block.get("type") == "rich_text" else "\n"
        words = joiner.join(t for t in _texts(block) if t.strip())
        if words:
            lines.append(words)
    return "\n".join(lines)


def _attachment_text(attachment: Any) -> str:
    if not isinstance(attachment, Mapping):
        return ""
    parts: list[str] = []
    for key in ("pretext", "author_name"):
        if isinstance(attachment.get(key), str) and attachment[key]:
            parts.append(attachment[key])
    title = attachment.get("title")
    if isinstance(title, str) and title:
        link = attachment.get("title_link")
        parts.append(f"*<{link}|{title}>*" if isinstance(link, str) and link else f"*{title}*")
    if isinstance(attachment.get("text"), str) and attachment["text"]:
        parts.append(attachment["text"])
    fields = attachment.get("fields")
    for field in fields if isinstance(fields, list) else ():
        if isinstance(field, Mapping):
            name, value = field.get("title"), field.get("value")
            parts.append(" ".join(f for f in (f"*{name}*" if name else "", str(value or "")) if f))
    if "blocks" in attachment:
        parts.append(_block_text(attachment["blocks"]))
    if isinstance(attachment.get("footer"), str) and attachment["footer"]:
        parts.append(attachment["footer"])
    parts = [p for p in parts if p.strip()]
    if not parts and isinstance(attachment.get("fallback"), str):
        parts.append(attachment["fallback"])
    return "\n".join(parts)


def message_text(body: Mapping[str, Any]) -> str:
    """The text a Slack message body shows, in hubbub's markup ("" if none).
    With `blocks`, Slack shows them and uses `text` only in notifications,
    so the blocks' words are the message (`text` if they have none)."""
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise ChatError(ErrorCode.invalid_input, "text must be a string", field="text")
    shown = _block_text(body["blocks"]) if body.get("blocks") is not None else ""
    if not shown.strip():
        shown = text or ""
    attachments = body.get("attachments")
    if attachments is not None:
        if not isinstance(attachments, list):
            raise ChatError(
                ErrorCode.invalid_input, "attachments must be a list", field="attachments"
            )
        extra = [t for t in (_attachment_text(a) for a in attachments) if t]
        shown = "\n".join([shown, *extra] if shown else extra)
    return convert(shown, {}, {}).text
