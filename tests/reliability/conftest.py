"""Make the promise modules and the integration helpers importable (importlib mode)."""

import sys
from pathlib import Path

HERE = Path(__file__).parent
for folder in (HERE, HERE.parent / "integration", HERE.parent / "support"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
