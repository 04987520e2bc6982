"""``python -m langgraph_memgpt.cli``: the same as the ``langgraph-memgpt`` command."""

import sys

from langgraph_memgpt.cli.main import main

sys.exit(main())
