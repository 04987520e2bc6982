"""Serving the agent: persistence factories for ``langgraph dev`` and an HTTP API for chat apps.

``factories`` opens the package's SQLite checkpointer and sqlite-vec archive for the LangGraph
server (langgraph.json ``checkpointer.path`` / ``store.path``); ``app`` is the Starlette app
mounted through langgraph.json ``http.app`` (OpenAI-compatible chat, ``/memory/*``,
``/status``).
"""
