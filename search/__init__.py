"""Search machinery shared by recall and archival memory (no graph, no store of its own).

- ``text``: topic words, FTS5 queries, dates in words, date bounds;
- ``fusion``: reciprocal rank fusion of keyword and semantic rankings;
- ``quantize``: vectors as int8 with a scale;
- ``recall_index``: the recall index (BM25 + embeddings over a thread's messages).
"""
