"""Errors the whole package raises or reports, below every layer that raises them.

``ModelUnavailableError`` is raised by the model loader (``models.py``) and by the embedded
engine it starts (``engine/``), and reported in one line by every front end; it lives here so
the engine does not import the loader that imports it.
"""

from __future__ import annotations


class ModelUnavailableError(RuntimeError):
    """The model server cannot be reached or does not have the model. One clear line."""


def first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else "no details"


def error_line(error: BaseException) -> str:
    """An error in one line: its message's first line, or its type when it has no message."""
    return first_line(str(error)) if str(error).strip() else type(error).__name__
