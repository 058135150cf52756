"""The search query language and snippets (core.search): pure functions."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubbub.core.models import SearchQuery
from hubbub.core.search import MAX_TERMS, ParsedQuery, QueryError, highlight, parse, terms

DAY = 86_400_000


def ms(y: int, m: int, d: int, offset_minutes: int = 0) -> int:
    tz = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    return int(datetime.datetime(y, m, d, tzinfo=tz).timestamp() * 1000)


# --- words ---------------------------------------------------------------------


def test_words_are_split_and_folded_as_the_index_does() -> None:
    assert terms("Hello, Wörld! don't foo.bar foo_bar") == [
        "hello",
        "world",
        "don",
        "t",
        "foo",
        "bar",
        "foo",
        "bar",
    ]
    assert terms("Café CAFÉ cafe\u0301 İstanbul ΣΟΦΊΑ") == [
        "cafe",
        "cafe",
        "cafe",
        "istanbul",
        "σοφία",
    ]
    assert terms("ship🚀it x²y 東京タワー") == ["ship", "it", "x", "y", "東京タワー"]


def test_words_phrases_and_prefixes() -> None:
    q = parse('Deploy "Release Notes" deplo* don\'t http://x.io foo:bar deploy')
    assert q.words == ("deploy", "deplo*")  # duplicates once
    assert q.phrases == (("release", "notes"), ("don", "t"), ("http", "x", "io"), ("foo", "bar"))
    assert parse("“smart quotes”").phrases == (("smart", "quotes"),)
    assert parse('say"hi there"').words == ("say",)
    assert parse('say"hi there"').phrases == (("hi", "there"),)
    assert parse("foo.ba*").phrases == (("foo", "ba*"),)
    assert parse('"one"').words == ("one",)


def test_exclusions() -> None:
    q = parse('report -draft -"old news" -x*y')
    assert q.words == ("report",)
    assert q.exclude == (("draft",), ("old", "news"), ("x", "y"))
    assert parse("a-b").phrases == (("a", "b"),)  # a hyphen inside a word joins a phrase


def test_filters() -> None:
    q = parse("in:#general in:random in:dm:ann,bob from:@ann from:bob has:file has:LINK is:thread")
    assert q.channels == ("general", "random", "dm:ann,bob")
    assert q.users == ("ann", "bob")
    assert (q.has_file, q.has_link, q.is_thread) == (True, True, True)
    assert q.words == () and q.phrases == ()
    assert parse("IN:#general x").channels == ("general",)


def test_dates_in_the_users_time_zone() -> None:
    assert parse("before:2024-05-10").before == ms(2024, 5, 10)
    # Slack: after a day means from the next day on.
    assert parse("after:2024-05-10").after == ms(2024, 5, 11)
    on = parse("on:2024-05-10", tz_offset_minutes=120)
    assert (on.after, on.before) == (ms(2024, 5, 10, 120), ms(2024, 5, 11, 120))
    west = parse("on:2024-05-10", tz_offset_minutes=-300)
    assert west.after == ms(2024, 5, 10, -300) == ms(2024, 5, 10) + 5 * 3_600_000
    month = parse("during:2024-12")
    assert (month.after, month.before) == (ms(2024, 12, 1), ms(2025, 1, 1))
    year = parse("during:2023")
    assert (year.after, year.before) == (ms(2023, 1, 1), ms(2024, 1, 1))
    both = parse("after:2024-01-01 before:2024-02-01 during:2024-01")
    assert (both.after, both.before) == (ms(2024, 1, 2), ms(2024, 2, 1))
    assert parse("on:0001-01-01", tz_offset_minutes=-720).after is not None  # no overflow


def test_resolve_gives_the_stores_query() -> None:
    q = parse("x -y in:#a from:@b has:file after:2024-01-01")
    assert q.resolve((7,), (9,)) == SearchQuery(
        words=("x",),
        exclude=(("y",),),
        channel_ids=(7,),
        author_ids=(9,),
        after=ms(2024, 1, 2),
        has_file=True,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("has:cats", "has: takes file or link"),
        ("is:done", "is: takes thread"),
        ("before:2024-13-01", "before: takes a day"),
        ("after:2024-02-30", "after: takes a day"),
        ("on:yesterday", "on: takes a day"),
        ("during:2024-5", "during: takes a month"),
        ("in:", "in: needs a value"),
        ("in:#", "in: needs a channel name"),
        ("from:@", "from: needs a username"),
        ('"release notes', "a quote is not closed"),
        ("", "nothing to search for"),
        ("   ", "nothing to search for"),
        ("... !!", "nothing to search for"),
        ("-draft", "search for something too"),
        ("-draft in:#a", "search for a word or phrase too"),
        ("a*", "at least 2 letters"),
        (" ".join(f"w{i}" for i in range(MAX_TERMS + 1)), "too many terms"),
        ("on:2024-05-02 before:2024-05-02", "leave no time"),
    ],
)
def test_malformed_queries_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(text)


def test_unknown_keys_are_words() -> None:
    assert parse("color:red").phrases == (("color", "red"),)
    assert parse("x:").words == ("x",)


@given(st.text(max_size=200), st.integers(-14 * 60, 14 * 60))
def test_parse_raises_nothing_but_query_error(text: str, offset: int) -> None:
    try:
        q = parse(text, tz_offset_minutes=offset)
    except QueryError as exc:
        assert str(exc)
        return
    # Every term is what the index would make of it.
    for word in q.words:
        assert terms(word.removesuffix("*")) == [word.removesuffix("*")]
    for phrase in (*q.phrases, *q.exclude):
        assert all(terms(w.removesuffix("*")) == [w.removesuffix("*")] for w in phrase)


_query_words = st.sampled_from(["cafe", "deploy", "dep*", "x", "東京", "notes"])
_text_bits = st.sampled_from(
    ["Café", "deploy", "Deployment", "x", "xx", " ", ", ", "東京", "notes", "🚀", "-", "é"]
)


@given(st.lists(_text_bits, max_size=60).map("".join), st.lists(_query_words, min_size=1))
def test_highlights_always_point_at_matching_words(text: str, words: list[str]) -> None:
    query = ParsedQuery(words=tuple(dict.fromkeys(words)))
    snippet, spans = highlight(text, query, width=40)
    assert len(snippet) <= 40 + 2  # and the two …
    for start, end in spans:
        [word] = terms(snippet[start:end])
        assert any(word == w or (w.endswith("*") and word.startswith(w[:-1])) for w in words)
        # Whole words: nothing of the word is left outside the span.
        assert terms(snippet[max(0, start - 1) : end + 1]) == [word] or start == 0


def test_highlight_short_text_whole_and_long_text_cut_around_the_first_match() -> None:
    assert highlight("The café is open. CAFE time", parse("cafe")) == (
        "The café is open. CAFE time",
        [(4, 8), (18, 22)],
    )
    text = "x " * 100 + "the release notes are here, the release " + "y " * 100
    snippet, spans = highlight(text, parse('"release notes"'), width=80)
    assert snippet.startswith("…") and snippet.endswith("…")
    assert [snippet[s:e] for s, e in spans] == ["release", "notes"]  # the phrase, not "release"
    assert len(snippet) <= 82
    # No match (a filter-only search): the start of the text.
    snippet, spans = highlight(text, parse("has:file"), width=20)
    assert snippet.startswith("x x") and snippet.endswith("…") and spans == []


def test_highlight_takes_the_stores_query_too() -> None:
    snippet, spans = highlight("Deploy done", SearchQuery(words=("deplo*",)))
    assert [snippet[s:e] for s, e in spans] == ["Deploy"]
