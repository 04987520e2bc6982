"""Write a node once, run it sync or async.

A node that does I/O (a model call, a store write) is written as a generator that yields
:class:`Call` objects and receives their results (or has their exceptions thrown in). The two
drivers below perform the calls with ``invoke`` or ``ainvoke``, so the graph runs natively
under both ``graph.invoke`` and ``graph.ainvoke`` (and ``langgraph dev``, which forbids blocking
I/O in async code) from one body of logic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    run: Callable[[], Any]
    arun: Callable[[], Awaitable[Any]]


NodeSteps = Generator[Call, Any, T]


def drive(steps: NodeSteps[T]) -> T:
    try:
        call = next(steps)
        while True:
            try:
                result = call.run()
            except Exception as error:
                call = steps.throw(error)
                continue
            call = steps.send(result)
    except StopIteration as stop:
        return stop.value


async def adrive(steps: NodeSteps[T]) -> T:
    try:
        call = next(steps)
        while True:
            try:
                result = await call.arun()
            except Exception as error:
                call = steps.throw(error)
                continue
            call = steps.send(result)
    except StopIteration as stop:
        return stop.value


def blocking(func: Callable[..., T], *args: Any) -> Call:
    """A call of synchronous I/O (SQLite, CPU-bound embedding): run in a worker thread on the
    async path so the event loop (and langgraph dev's blocking-call detector) stays clear."""
    import asyncio

    return Call(run=lambda: func(*args), arun=lambda: asyncio.to_thread(func, *args))


def model_call(model: Any, prompt: Any) -> Call:
    return Call(run=lambda: model.invoke(prompt), arun=lambda: model.ainvoke(prompt))


def sync_and_async(steps_factory: Callable[..., NodeSteps[T]]):
    """(node, anode) running ``steps_factory(state, runtime)`` with each driver."""

    def node(state: Any, runtime: Any) -> T:
        return drive(steps_factory(state, runtime))

    async def anode(state: Any, runtime: Any) -> T:
        return await adrive(steps_factory(state, runtime))

    return node, anode
