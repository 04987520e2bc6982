"""Unit-test helpers: compile an agent on a scripted model and run turns on one thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.testing import ScriptedChatModel


@dataclass
class Harness:
    model: ScriptedChatModel
    context: Context
    graph: Any = None
    thread: str = "thread-1"
    build_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.graph = build_graph(self.model, checkpointer=InMemorySaver(), **self.build_kwargs)

    @property
    def config(self) -> dict[str, Any]:
        return {"configurable": {"thread_id": self.thread}}

    def say(self, text: str) -> dict[str, Any]:
        return self.graph.invoke(
            {"messages": [{"role": "user", "content": text}]}, self.config, context=self.context
        )

    async def asay(self, text: str) -> dict[str, Any]:
        return await self.graph.ainvoke(
            {"messages": [{"role": "user", "content": text}]}, self.config, context=self.context
        )

    @property
    def state(self) -> dict[str, Any]:
        return self.graph.get_state(self.config).values

    def history(self) -> list[Any]:
        return list(self.graph.get_state_history(self.config))


@pytest.fixture
def make_agent():
    def make(*script: Any, context: Context | None = None, **build_kwargs: Any) -> Harness:
        model = ScriptedChatModel(script=list(script))
        return Harness(model, context or Context(context_window=8192), build_kwargs=build_kwargs)

    return make
