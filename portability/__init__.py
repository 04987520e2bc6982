"""Export and import: one thread's whole memory as a portable JSON document."""

from langgraph_memgpt.portability.core import *  # noqa: F403
