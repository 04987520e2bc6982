"""Reciprocal rank fusion: several rankings of the same items made into one.

Recall (keyword and semantic rankings of messages) and archival memory (of passages) fuse the
same way, so a relevance means the same in both. Ranks, not scores, are fused: BM25 scores and
cosine similarities are on scales that cannot be added.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)

# Measured on the LoCoMo dev conversations (tests/benchmarks/locomo_recall.py): a small k lets
# the first few ranks of either list dominate, which suited recall@10 best.
RRF_K = 10
KEYWORD_WEIGHT = 1.0
SEMANTIC_WEIGHT = 1.0


def fuse(
    keyword: Sequence[Key],
    semantic: Sequence[Key],
    *,
    k: int = RRF_K,
    keyword_weight: float = KEYWORD_WEIGHT,
    semantic_weight: float = SEMANTIC_WEIGHT,
) -> list[tuple[Key, float]]:
    """``(item, score)`` best first: each list adds ``weight / (k + rank)`` (rank from 1)."""
    scores: dict[Key, float] = {}
    for ranking, weight in ((keyword, keyword_weight), (semantic, semantic_weight)):
        for rank, key in enumerate(ranking):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank + 1)
    return sorted(scores.items(), key=lambda entry: -entry[1])


def display_relevance(score: float) -> float:
    """A fused score on the scale shown to the model and API clients: 1.0 for an item ranked
    first by both rankings."""
    return score * (RRF_K + 1) / 2
