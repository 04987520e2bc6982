"""Document ingestion: split files into passages and store them in a user's archive.

This is the MemGPT paper's document-analysis use: the agent answers questions over documents
much larger than its window by searching the passages with archival_memory_search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from langgraph.store.base import BaseStore
from langgraph_memgpt.graph.state import utc_now
from langgraph_memgpt.memory.archive import new_passage_key, new_source_id, passage_writes

PASSAGE_CHARS = 1_500
BATCH = 64
"""Passages embedded and written per batch (one transaction each)."""


def read_document(path: Path) -> str:
    """Text of a .txt/.md (or any UTF-8 text) file, or of a PDF when pypdf is installed."""
    if path.suffix.lower() == ".pdf":
        try:
            from pypdf import PdfReader
        except ImportError:
            raise ValueError(
                f"{path}: reading PDF needs pypdf (pip install pypdf), or pass the text "
                "extracted from it (e.g. pdftotext)"
            ) from None
        return "\n\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None


def split_document(text: str, path: Path) -> list[str]:
    from langchain_text_splitters import MarkdownTextSplitter, RecursiveCharacterTextSplitter

    splitter_class = (
        MarkdownTextSplitter
        if path.suffix.lower() in (".md", ".markdown")
        else RecursiveCharacterTextSplitter
    )
    splitter = splitter_class(chunk_size=PASSAGE_CHARS, chunk_overlap=PASSAGE_CHARS // 10)
    return [chunk for chunk in splitter.split_text(text) if chunk.strip()]


def ingest_files(
    store: BaseStore,
    namespace: tuple[str, ...],
    paths: Iterable[Path],
    *,
    tags: Iterable[str] = (),
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Store each file's passages (tagged ``source:<file name>``); returns passages per file."""
    stored: dict[str, int] = {}
    for path in paths:
        passages = split_document(read_document(path), path)
        source_id = new_source_id()
        labels = [*tags, f"source:{path.name}"]
        now = utc_now()
        for start in range(0, len(passages), BATCH):
            batch = passages[start : start + BATCH]
            store.batch(
                passage_writes(
                    namespace,
                    batch,
                    labels,
                    keys=[new_passage_key() for _ in batch],
                    source_id=source_id,
                    source=str(path),
                    first_chunk=start,
                    chunks=len(passages),
                    created_at=now,
                )
            )
            if progress:
                progress(path.name, min(start + BATCH, len(passages)), len(passages))
        stored[str(path)] = len(passages)
    return stored
