"""Export and import: one thread's whole memory as a portable, versioned JSON document.

The document holds everything the agent answers from: the core memory blocks and the summary
(as the thread's state holds them), the queue as it stands, the full message history read
from the checkpoints (every message ever added, evicted or not, with ids, timestamps and tool
calls), the user's archival passages (text, tags, timestamps, ids, source; the embedding
model's name but not the vectors, which are recomputed on import) and the configuration
(``Context``). Unlike Letta's agent file it carries archival memory too.

- ``document``: the format as pydantic models, its errors, and reading and writing the JSON
  (:func:`read_document`, :func:`load_document`, :func:`dump_document`, :class:`AgentFile`).
- ``export``: reading a thread and its archive into a document (:func:`export_agent`).
- ``importer``: writing a document into a thread and an archive (:func:`import_agent`), with
  its refusals (a thread that already has memory) and its rollback on failure.

Only the command line (``cli``) and the tests use this package; nothing in the agent does.
"""

from langgraph_memgpt.portability.document import (
    FORMAT,
    SCHEMA_VERSION,
    AgentFile,
    AgentFileError,
    UnsupportedSchemaVersionError,
    dump_document,
    load_document,
    read_document,
)
from langgraph_memgpt.portability.export import (
    ThreadNotFoundError,
    aexport_agent,
    export_agent,
    export_steps,
    list_passages,
)
from langgraph_memgpt.portability.importer import (
    ImportResult,
    ThreadNotEmptyError,
    aimport_agent,
    import_agent,
    import_steps,
    thread_has_memory,
)

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "AgentFile",
    "AgentFileError",
    "ImportResult",
    "ThreadNotEmptyError",
    "ThreadNotFoundError",
    "UnsupportedSchemaVersionError",
    "aexport_agent",
    "aimport_agent",
    "dump_document",
    "export_agent",
    "export_steps",
    "import_agent",
    "import_steps",
    "list_passages",
    "load_document",
    "read_document",
    "thread_has_memory",
]
