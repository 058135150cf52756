"""The search query language (Slack's), the words of a text as the search
index sees them, and highlighted snippets. Pure: no I/O.

A query is words, `"quoted phrases"` and filters::

    deploy "release notes" in:#ops from:@ann after:2024-05-01 has:link

- a word matches a whole word of the text, in any case and with or without
  Latin accents (`cafe` finds `Café`); `deplo*` matches words beginning so;
  `-word` (or `-"a phrase"`) leaves out messages that have it;
- `in:#channel` / `in:channel` / `in:dm:ann,bob`, `from:@user` / `from:user`
  (several of one kind: any of them);
- `before:`, `after:`, `on:` a day (`YYYY-MM-DD`), `during:` a month
  (`YYYY-MM`) or a year, in the user's time zone; as in Slack, `after:` a day
  starts the next day and `before:` a day ends the day before;
- `has:file`, `has:link`, `is:thread` (a reply, or a message with replies).

A token whose key is none of these (`http://x`, `foo:bar`) is words, and a
token the index splits (`don't`, `foo.bar`) is a phrase of its parts. Words
are split and folded (`terms`) exactly as the stores' indexes split and fold
the text (SQLite FTS5's `unicode61 remove_diacritics 2`; PostgreSQL's
expression in migration 0009), so a query word is always an index term.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import re
from collections.abc import Iterator
from typing import TypeVar

from hubbub.core import search_tables
from hubbub.core.models import SearchQuery

T = TypeVar("T")

MAX_TERMS = 30  # words, phrase words and filters in one query
MIN_PREFIX = 2  # letters before a `*`: `a*` would match most of the index


class QueryError(ValueError):
    """The query is malformed; the message says what is wrong, for its user."""


@dataclasses.dataclass(frozen=True, slots=True)
class ParsedQuery:
    """A query as its user wrote it: names, not ids yet (`resolve`)."""

    words: tuple[str, ...] = ()  # folded terms; ending in `*`: a prefix
    phrases: tuple[tuple[str, ...], ...] = ()
    exclude: tuple[tuple[str, ...], ...] = ()  # `-word`, `-"a phrase"`
    channels: tuple[str, ...] = ()  # names, without `#`
    users: tuple[str, ...] = ()  # usernames, without `@`
    after: int | None = None  # ms since the epoch: created_at >= after
    before: int | None = None  # created_at < before
    has_file: bool = False
    has_link: bool = False
    is_thread: bool = False

    def resolve(
        self, channel_ids: tuple[int, ...] = (), author_ids: tuple[int, ...] = ()
    ) -> SearchQuery:
        """The store's query, `channels` and `users` given as ids."""
        return SearchQuery(
            words=self.words,
            phrases=self.phrases,
            exclude=self.exclude,
            channel_ids=channel_ids,
            author_ids=author_ids,
            after=self.after,
            before=self.before,
            has_file=self.has_file,
            has_link=self.has_link,
            is_thread=self.is_thread,
        )


# --- words as the index sees them ------------------------------------------------
#
# A word is a run of letters (L*) and digits (Nd, Nl); every other character
# separates words, except the combining diacritics SQLite drops inside a
# word. Words are lower-cased and Latin letters lose their diacritics. That
# is SQLite's `unicode61 remove_diacritics 2` tokenizer as migration 0009
# configures it, and what its PostgreSQL index expression does; all three
# follow the frozen tables of core.search_tables.

_WORD_STARTS = [lo for lo, _ in search_tables.WORDS]
_DIACRITICS = frozenset(search_tables.DIACRITICS)
_FOLDS = dict(zip(search_tables.FOLD_FROM, search_tables.FOLD_TO, strict=True))


def _is_word_char(ch: str) -> bool:
    cp = ord(ch)
    i = bisect.bisect_right(_WORD_STARTS, cp) - 1
    return i >= 0 and cp <= search_tables.WORDS[i][1]


def _is_diacritic(ch: str) -> bool:
    return ch in _DIACRITICS


def fold(word: str) -> str:
    """A word as the index stores it: lower case, Latin accents removed."""
    # Letter by letter, as the index does: no final sigma by context. Lowering
    # may add a diacritic (İ to i + U+0307), which goes too.
    lowered = "".join(_FOLDS.get(c) or c.lower() for c in word)
    return "".join(c for c in lowered if c not in _DIACRITICS)


def spans(text: str) -> Iterator[tuple[int, int, str]]:
    """Each word of `text` as the index sees it: (start, end, folded term)."""
    i, n = 0, len(text)
    while i < n:
        if not _is_word_char(text[i]):
            i += 1
            continue
        start = i
        while i < n and (_is_word_char(text[i]) or _is_diacritic(text[i])):
            i += 1
        # Trailing diacritics belong to no letter the user sees in the word.
        end = i
        while _is_diacritic(text[end - 1]):
            end -= 1
        yield start, end, fold(text[start:end])


def terms(text: str) -> list[str]:
    """The index terms of `text`, in order."""
    return [term for _, _, term in spans(text)]


# --- parsing ----------------------------------------------------------------------

_QUOTES = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201c"}  # "x", “x”, „x“
_KEY = re.compile(r"([A-Za-z]+):(.*)", re.S)
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_YEAR = re.compile(r"(\d{4})")
_MS_PER_DAY = 86_400_000
_EPOCH = datetime.date(1970, 1, 1).toordinal()


@dataclasses.dataclass
class _Builder:
    tz_offset_minutes: int
    words: list[str] = dataclasses.field(default_factory=list)
    phrases: list[tuple[str, ...]] = dataclasses.field(default_factory=list)
    exclude: list[tuple[str, ...]] = dataclasses.field(default_factory=list)
    channels: list[str] = dataclasses.field(default_factory=list)
    users: list[str] = dataclasses.field(default_factory=list)
    after: int | None = None
    before: int | None = None
    has_file: bool = False
    has_link: bool = False
    is_thread: bool = False
    filters: int = 0

    def text(self, raw: str, *, quoted: bool) -> None:
        """Words from a bare token or a quoted phrase."""
        negate = raw.startswith("-") and not quoted
        prefix = raw.endswith("*") and not quoted
        parts = terms(raw)
        if not parts:
            return
        if prefix:
            last = parts[-1]
            if len(last) < MIN_PREFIX:
                raise QueryError(
                    f"{raw}: a prefix search needs at least {MIN_PREFIX} letters before the *"
                )
            parts[-1] = last + "*"
        if negate:
            _add(self.exclude, tuple(parts))
        elif len(parts) == 1:
            _add(self.words, parts[0])
        else:
            _add(self.phrases, tuple(parts))

    def negated_phrase(self, raw: str) -> None:
        parts = terms(raw)
        if parts:
            _add(self.exclude, tuple(parts))

    def token(self, raw: str) -> None:
        m = _KEY.fullmatch(raw)
        key = m.group(1).lower() if m else ""
        if m is None or key not in _FILTERS:
            self.text(raw, quoted=False)
            return
        value = m.group(2)
        if not value:
            raise QueryError(f"{key}: needs a value, e.g. {_EXAMPLES[key]}")
        self.filters += 1
        _FILTERS[key](self, value)

    def in_(self, value: str) -> None:
        name = value.removeprefix("#")
        if not name:
            raise QueryError("in: needs a channel name, e.g. in:#general")
        _add(self.channels, name)

    def from_(self, value: str) -> None:
        name = value.removeprefix("@")
        if not name:
            raise QueryError("from: needs a username, e.g. from:@ann")
        _add(self.users, name)

    def has(self, value: str) -> None:
        what = value.lower()
        if what in ("file", "files"):
            self.has_file = True
        elif what in ("link", "links"):
            self.has_link = True
        else:
            raise QueryError(f"has:{value}: has: takes file or link")

    def is_(self, value: str) -> None:
        if value.lower() not in ("thread", "threads"):
            raise QueryError(f"is:{value}: is: takes thread")
        self.is_thread = True

    def before_(self, value: str) -> None:
        start, _ = self._day("before", value)
        self._bound(None, start)

    def after_(self, value: str) -> None:
        _, end = self._day("after", value)
        self._bound(end, None)

    def on(self, value: str) -> None:
        self._bound(*self._day("on", value))

    def during(self, value: str) -> None:
        try:
            if m := _MONTH.fullmatch(value):
                year, month = int(m.group(1)), int(m.group(2))
                first = datetime.date(year, month, 1)
                following = (
                    datetime.date(year + 1, 1, 1)
                    if month == 12
                    else datetime.date(year, month + 1, 1)
                )
            elif m := _YEAR.fullmatch(value):
                year = int(m.group(1))
                first = datetime.date(year, 1, 1)
                following = datetime.date(year + 1, 1, 1)
            else:
                raise ValueError(value)
        except ValueError:
            raise QueryError(
                f"during:{value}: during: takes a month (2024-05) or a year (2024)"
            ) from None
        self._bound(self._midnight(first), self._midnight(following))

    def _day(self, key: str, value: str) -> tuple[int, int]:
        """The day's first ms, and the next day's, in the user's time zone."""
        m = _DAY.fullmatch(value)
        try:
            if m is None:
                raise ValueError(value)
            day = datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise QueryError(f"{key}:{value}: {key}: takes a day, e.g. {key}:2024-05-31") from None
        start = self._midnight(day)
        return start, start + _MS_PER_DAY

    def _midnight(self, day: datetime.date) -> int:
        # Day arithmetic, not datetime: year 1 west of UTC must not overflow.
        return (day.toordinal() - _EPOCH) * _MS_PER_DAY - self.tz_offset_minutes * 60_000

    def _bound(self, after: int | None, before: int | None) -> None:
        if after is not None:
            self.after = after if self.after is None else max(self.after, after)
        if before is not None:
            self.before = before if self.before is None else min(self.before, before)
        if self.after is not None and self.before is not None and self.after >= self.before:
            raise QueryError("the dates leave no time to search in (after: is not before before:)")

    def done(self) -> ParsedQuery:
        count = sum(len(p) for p in (*self.phrases, *self.exclude)) + len(self.words) + self.filters
        if count > MAX_TERMS:
            raise QueryError(f"too many terms ({count}): at most {MAX_TERMS} in one search")
        if not (self.words or self.phrases or self.filters):
            if self.exclude:
                raise QueryError("-word only leaves words out: search for something too")
            raise QueryError("nothing to search for: give a word, a phrase or a filter")
        if self.exclude and not (self.words or self.phrases):
            # Neither index can list the messages without a word cheaply.
            raise QueryError("-word only leaves words out: search for a word or phrase too")
        return ParsedQuery(
            words=tuple(self.words),
            phrases=tuple(self.phrases),
            exclude=tuple(self.exclude),
            channels=tuple(self.channels),
            users=tuple(self.users),
            after=self.after,
            before=self.before,
            has_file=self.has_file,
            has_link=self.has_link,
            is_thread=self.is_thread,
        )


def _add(items: list[T], item: T) -> None:
    if item not in items:
        items.append(item)


_FILTERS = {
    "in": _Builder.in_,
    "from": _Builder.from_,
    "has": _Builder.has,
    "is": _Builder.is_,
    "before": _Builder.before_,
    "after": _Builder.after_,
    "on": _Builder.on,
    "during": _Builder.during,
}
_EXAMPLES = {
    "in": "in:#general",
    "from": "from:@ann",
    "has": "has:file or has:link",
    "is": "is:thread",
    "before": "before:2024-05-31",
    "after": "after:2024-05-31",
    "on": "on:2024-05-31",
    "during": "during:2024-05",
}


def parse(text: str, *, tz_offset_minutes: int = 0) -> ParsedQuery:
    """The query in `text`; `tz_offset_minutes` is the user's offset from UTC
    (east positive), whose midnights bound the days of date filters. Raise
    QueryError if it is malformed."""
    b = _Builder(tz_offset_minutes)
    bare: list[str] = []
    i, n = 0, len(text)

    def flush() -> None:
        if bare:
            b.token("".join(bare))
            bare.clear()

    while i < n:
        ch = text[i]
        if ch.isspace():
            flush()
            i += 1
        elif ch in _QUOTES:
            close = text.find(_QUOTES[ch], i + 1)
            if close < 0:
                raise QueryError(f"a quote is not closed: {text[i : i + 30]}")
            negate = bare == ["-"]
            if negate:
                bare.clear()
            flush()  # `say"hi there"`: the word before the quote, then the phrase
            inner = text[i + 1 : close]
            if negate:
                b.negated_phrase(inner)
            else:
                b.text(inner, quoted=True)
            i = close + 1
        else:
            bare.append(ch)
            i += 1
    flush()
    return b.done()


# --- snippets ---------------------------------------------------------------------


def _matches(text: str, query: ParsedQuery | SearchQuery) -> list[tuple[int, int]]:
    """[start, end) of every word of `text` the query's words or phrases match."""
    words = list(spans(text))
    found: set[tuple[int, int]] = set()

    def hit(pattern: str, term: str) -> bool:
        if pattern.endswith("*"):
            return term.startswith(pattern[:-1])
        return term == pattern

    for pattern in query.words:
        found.update((s, e) for s, e, term in words if hit(pattern, term))
    for phrase in query.phrases:
        k = len(phrase)
        for i in range(len(words) - k + 1):
            if all(hit(p, words[i + j][2]) for j, p in enumerate(phrase)):
                found.update((s, e) for s, e, _ in words[i : i + k])
    return sorted(found)


def highlight(
    text: str, query: ParsedQuery | SearchQuery, width: int = 160
) -> tuple[str, list[tuple[int, int]]]:
    """A snippet of about `width` characters of `text` around its first
    match (the whole text if short; `…` where cut), and the [start, end)
    offsets in the snippet (Unicode code points) of every matched word."""
    matches = _matches(text, query)
    if len(text) <= width:
        return text, matches
    first = matches[0][0] if matches else 0
    # Some context before the first match, from the start of a word.
    start = max(0, first - width // 4)
    if start > 0:
        space = text.find(" ", start - 1, first)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", max(start, end - 20), end)
        end = space if space > first else end
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else ""
    shift = len(head) - start
    kept = [(s + shift, e + shift) for s, e in matches if s >= start and e <= end]
    return head + text[start:end] + tail, kept
