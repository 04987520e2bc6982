"""The graph's nodes and what they are bound to (below ``graph.builder``, above ``tools``).

- ``pressure``: check_memory_pressure, the budget check and the warning before a turn;
- ``reason``: the model call (and ``tool_text``, tool calls small models write as text);
- ``execute_tools``: the tool executor with ``request_heartbeat``;
- ``evict`` and ``summarize``: evict_and_summarize, the FIFO cut and the recursive summary;
- ``routing``: the conditional edges between them;
- ``agent``: ``AgentSpec``, the model, tools and starting blocks bound into the nodes;
- ``budget``: the prompt a call sends and its token budget.
"""
