"""Text for search: topic words, FTS5 queries and date bounds (a time in words, which the
recall index also matches queries against, is ``graph.state.date_words``).

Shared by recall (``search/recall_index.py``) and archival memory (``memory/archive.py`` and the
archive stores' keyword search), so a query means the same words and the same dates in both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

WORD = re.compile(r"\w+", re.UNICODE)
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
"""The range of a date bound: ISO dates from year 1 to 9999 in any offset land inside it."""
# NLTK's English stopword list (179 words): function words that carry no topic.
STOPWORDS = frozenset(
    """i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself
    yourselves he him his himself she she's her hers herself it it's its itself they them their
    theirs themselves what which who whom this that that'll these those am is are was were be
    been being have has had having do does did doing a an the and but if or because as until
    while of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why
    how all any both each few more most other some such no nor not only own same so than too
    very s t can will just don don't should should've now d ll m o re ve y ain aren aren't
    couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma
    mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren
    weren't won won't wouldn wouldn't""".split()
)


def normalize_timestamp(value: str | None) -> str | None:
    """ISO-8601 in UTC (naive times are taken as UTC), so timestamps compare as strings."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def content_terms(text: str, ignore: frozenset[str] = frozenset()) -> list[str]:
    """The topic words of ``text``: lowercased, without stopwords or ``ignore``d words."""
    words = [w.lower() for w in WORD.findall(text)]
    return sorted({w for w in words if w and w not in STOPWORDS and w not in ignore})


def keyword_text(text: str) -> str:
    """``text`` as a keyword index stores it: its words in order, without stopwords.

    A query never holds a stopword (:func:`content_terms`), so indexing them only made the
    index larger: they are about half the words of a conversation."""
    return " ".join(w for w in WORD.findall(text) if w.lower() not in STOPWORDS)


def keyword_query(text: str, ignore: frozenset[str] = frozenset()) -> str | None:
    """An FTS5 query: the content words of ``text`` (not ``ignore``), any of them may match.

    Words go in unstemmed: FTS5's porter tokenizer stems query and text alike.
    """
    return any_of(content_terms(text, ignore))


def any_of(terms: Sequence[str]) -> str | None:
    """An FTS5 query matching any of ``terms`` (quoted, so no word is read as an operator)."""
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def date_range(
    start_value: str | None,
    end_value: str | None,
    names: tuple[str, str] = ("start_date", "end_date"),
) -> tuple[datetime | None, datetime | None]:
    """UTC bounds ``[start, end)`` from ISO dates/times; a bare end date includes that day.

    Shared by recall and archival search. Raises ValueError naming the bad argument.
    """
    start = _parse_bound(start_value, names[0])
    end = _parse_bound(end_value, names[1])
    if end is not None and end_value is not None and len(end_value.strip()) <= 10:
        end = end + timedelta(days=1) if end < LATEST - timedelta(days=1) else LATEST
    if start and end and start >= end:
        raise ValueError(f"{names[0]} {start_value} is not before {names[1]} {end_value}")
    return start, end


def date_bounds(start_date: str | None, end_date: str | None) -> tuple[str | None, str | None]:
    """:func:`date_range` as ISO strings, comparable with the index's timestamps."""
    start, end = date_range(start_date, end_date)
    return (
        start.isoformat(timespec="seconds") if start else None,
        end.isoformat(timespec="seconds") if end else None,
    )


def _parse_bound(value: str | None, name: str) -> datetime | None:
    if value is None or not str(value).strip():
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(
            f"{name} '{value}' is not an ISO date such as 2024-05-08 or 2024-05-08T14:30"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # Year 1 with a positive offset (or 9999 with a negative one) is outside what a UTC
        # datetime holds: the bound is then the edge of that range.
        return EARLIEST if moment.year == datetime.min.year else LATEST
