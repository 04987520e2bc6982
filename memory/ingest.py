"""Document ingestion: split files into passages and store them in a user's archive.

This is the MemGPT paper's document-analysis use: the agent answers questions over documents
much larger than its window by searching the passages with archival_memory_search.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from langgraph.store.base import BaseStore, PutOp
from langgraph_memgpt.graph.state import utc_now
from langgraph_memgpt.tools.archival import normalize_tags

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
        source_id = f"src-{uuid.uuid4().hex[:12]}"
        labels = normalize_tags([*tags, f"source:{path.name}"])
        now = utc_now()
        for start in range(0, len(passages), BATCH):
            store.batch(
                [
                    PutOp(
                        namespace,
                        f"p-{uuid.uuid4().hex[:12]}",
                        {
                            "content": text,
                            "tags": labels,
                            "created_at": now,
                            "source_id": source_id,
                            "source": str(path),
                            "chunk": start + offset,
                            "chunks": len(passages),
                        },
                    )
                    for offset, text in enumerate(passages[start : start + BATCH])
                ]
            )
            if progress:
                progress(path.name, min(start + BATCH, len(passages)), len(passages))
        stored[str(path)] = len(passages)
    return stored


def print_progress(name: str, done: int, total: int, unit: str = "passages") -> None:
    """A one-line progress bar on stderr, redrawn in place until ``done`` reaches ``total``."""
    width = 30
    filled = width * done // max(1, total)
    end = "\n" if done >= total else ""
    sys.stderr.write(
        f"\r{name}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {unit}{end}"
    )
    sys.stderr.flush()
