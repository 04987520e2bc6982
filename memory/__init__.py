"""The memory operations: the one place each rule about memory lives.

The agent's tools (``tools/``), the CLI, the HTTP API (``server/memory.py``) and export/import
(``portability/``) all call these, so a block limit, a passage's payload or a search's ranking
cannot differ between the ways in.

- ``blocks``: core memory edits (append, replace, insert, rethink), validated before anything
  changes.
- ``archive``: archival memory (whose archive a run opens, insert as passages, hybrid search
  with tag and date filters, counts).
- ``recall``: the search over everything a thread ever said, caught up from its checkpoints.
- ``block_history``: every version of a core memory block and the edit that made it, read
  from the thread's checkpoints.
- ``ingest``: documents split into archival passages.
- ``status``: what an agent runs on and how much it remembers.
"""

from langgraph_memgpt.memory.archive import (
    archive_namespace,
    count_passages,
    hybrid_search,
    insert_passages,
    search_archive,
)
from langgraph_memgpt.memory.block_history import BlockVersion, ablock_history, block_history
from langgraph_memgpt.memory.blocks import BlockEditError, append, insert, replace, rethink
from langgraph_memgpt.memory.recall import (
    asearch_conversation,
    rebuild_recall_index,
    search_conversation,
)
from langgraph_memgpt.memory.status import acollect_status, collect_status

__all__ = [
    "BlockEditError",
    "BlockVersion",
    "ablock_history",
    "acollect_status",
    "append",
    "archive_namespace",
    "asearch_conversation",
    "block_history",
    "collect_status",
    "count_passages",
    "hybrid_search",
    "insert",
    "insert_passages",
    "rebuild_recall_index",
    "replace",
    "rethink",
    "search_archive",
    "search_conversation",
]
