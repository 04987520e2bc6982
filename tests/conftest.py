"""Shared test set-up: make tests/support importable (the suite runs in importlib mode)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "support"))
