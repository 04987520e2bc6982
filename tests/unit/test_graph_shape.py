"""The graph has exactly the user's shape, and the exported graph carries no persistence."""

from langgraph_memgpt import graph


def test_exported_graph_has_the_four_nodes_and_heartbeat_edges() -> None:
    """The card's four nodes and edges, with automatic retrieval before them (skipped when it
    has nothing to do): the heartbeat loop (execute_tools -> check_memory_pressure) never
    passes through retrieve_memory."""
    drawn = graph.get_graph()
    assert set(drawn.nodes) == {
        "__start__",
        "retrieve_memory",
        "check_memory_pressure",
        "evict_and_summarize",
        "reason",
        "execute_tools",
        "__end__",
    }
    edges = {(e.source, e.target, e.conditional) for e in drawn.edges}
    assert edges == {
        ("__start__", "retrieve_memory", True),
        ("__start__", "check_memory_pressure", True),
        ("retrieve_memory", "check_memory_pressure", False),
        ("check_memory_pressure", "evict_and_summarize", True),
        ("check_memory_pressure", "reason", True),
        ("check_memory_pressure", "__end__", True),
        ("evict_and_summarize", "reason", False),
        ("reason", "execute_tools", True),
        ("reason", "__end__", True),
        ("execute_tools", "check_memory_pressure", True),
        ("execute_tools", "__end__", True),
    }


def test_exported_graph_has_no_checkpointer_or_store() -> None:
    assert graph.checkpointer is None
    assert graph.store is None


def test_context_schema_is_the_configuration_studio_shows() -> None:
    schema = graph.get_context_jsonschema()
    for name in (
        "model",
        "context_window",
        "warning_fraction",
        "flush_fraction",
        "max_steps",
        "persona",
        "human",
        "user_id",
        "retrieval",
        "retrieval_count",
        "retrieval_min_relevance",
    ):
        assert name in schema["properties"], name
