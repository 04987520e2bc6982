"""The graph's nodes: check_memory_pressure, reason, execute_tools, evict_and_summarize."""
