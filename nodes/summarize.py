"""Recursive summarization: fold evicted messages into the running summary.

The summary is rewritten, not appended to: new summary = summarize(previous summary + evicted
messages). When the evicted transcript does not fit the summarizer's window it is folded in
chunk by chunk. A failed call (exception or empty answer) is retried once; after that a
deterministic notice takes the summary's place for those messages, so the turn goes on and the
messages stay findable in recall memory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph_memgpt.errors import first_line
from langgraph_memgpt.graph.state import message_timestamp
from langgraph_memgpt.steps import NodeSteps, model_call
from langgraph_memgpt.tokens import count_text, message_text

SUMMARIZER_INSTRUCTIONS = (
    "You maintain the running summary of a long conversation between a user and an AI "
    "assistant with memory tools. Rewrite the summary so that it covers the previous summary "
    "AND the new messages. Keep names, facts about the user, preferences, dates, decisions, "
    "promises and open questions; drop small talk. Write in the third person, at most "
    "{max_words} words. Output only the summary text."
)
# Share of the summarizer's window one call may fill with transcript; the rest holds the
# instructions, the previous summary and the answer.
TRANSCRIPT_SHARE = 0.5


def transcript_line(message: BaseMessage, max_chars: int) -> str:
    role = {
        "human": "user",
        "ai": "assistant",
        "tool": f"tool result ({getattr(message, 'name', '') or 'tool'})",
        "system": "system alert",
    }.get(message.type, message.type)
    text = message_text(message)
    if len(text) > max_chars:
        text = text[:max_chars] + f" [...{len(text) - max_chars} more characters]"
    stamp = message_timestamp(message)
    return f"[{stamp}] {role}: {text}" if stamp else f"{role}: {text}"


def chunk_lines(lines: Sequence[str], max_tokens: int) -> list[list[str]]:
    """Consecutive lines grouped so each group's tokens stay under ``max_tokens``."""
    chunks: list[list[str]] = [[]]
    used = 0
    for line in lines:
        tokens = count_text(line) + 1
        if chunks[-1] and used + tokens > max_tokens:
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += tokens
    return [chunk for chunk in chunks if chunk]


_NOTICE = re.compile(
    r"\[(?P<count>\d+) messages(?: from (?P<start>\S+) to (?P<end>\S+))? were evicted without a "
    r"summary because the summarizer failed \((?P<reason>.*?)\)\. Their full text is in recall "
    r"memory: use conversation_search\.\]$",
    re.DOTALL,
)


def fallback_summary(previous: str, messages: Sequence[BaseMessage], reason: str) -> str:
    """What stands in for a summary when the summarizer cannot write one.

    A notice naming how many messages, from when to when, were evicted unsummarized. While
    the summarizer keeps failing, the notices merge into one (the counts add up, the span
    grows), so the summary stays its size however long the outage lasts.
    """
    stamps = [s for m in messages if (s := message_timestamp(m))]
    count = len(messages)
    start, end = (stamps[0], stamps[-1]) if stamps else (None, None)
    earlier = _NOTICE.search(previous)
    if earlier is not None:
        count += int(earlier.group("count"))
        start = earlier.group("start") or start
        end = end or earlier.group("end")
        previous = previous[: earlier.start()]
    span = f" from {start} to {end}" if start and end else ""
    notice = (
        f"[{count} messages{span} were evicted without a summary because the summarizer "
        f"failed ({_first_line(reason)}). Their full text is in recall memory: use "
        "conversation_search.]"
    )
    return f"{previous.strip()}\n{notice}".strip()


def _first_line(text: str) -> str:
    # Brackets, not parentheses: the notice itself is in parentheses.
    return first_line(text).replace(")", "]").replace("(", "[")


def summarize_steps(
    model: object,
    previous: str,
    messages: Sequence[BaseMessage],
    *,
    window_tokens: int,
    max_summary_tokens: int,
) -> NodeSteps[tuple[str, bool]]:
    """Fold ``messages`` into ``previous``: yields model calls, returns ``(summary, ok)``."""
    max_words = max(50, int(max_summary_tokens * 0.7))
    instructions = SUMMARIZER_INSTRUCTIONS.format(max_words=max_words)
    transcript_budget = max(
        256, int(window_tokens * TRANSCRIPT_SHARE) - count_text(previous) - max_summary_tokens
    )
    lines = [transcript_line(m, max_chars=transcript_budget * 3) for m in messages]
    summary = previous
    for chunk in chunk_lines(lines, transcript_budget):
        prompt = [
            SystemMessage(content=instructions),
            HumanMessage(
                content=f"Previous summary:\n{summary or '(none yet)'}\n\n"
                "New messages, oldest first:\n" + "\n".join(chunk)
            ),
        ]
        text = yield from _call_with_retry(model, prompt)
        if text is None:
            return fallback_summary(previous, messages, "no answer after a retry"), False
        summary = text
    if count_text(summary) > max_summary_tokens:
        summary = yield from _shorten(model, summary, max_summary_tokens, instructions)
    return summary, True


def _call_with_retry(model: object, prompt: list[BaseMessage]) -> NodeSteps[str | None]:
    for _ in range(2):
        try:
            answer = yield model_call(model, prompt)
        except Exception:  # any failure of the summary call: retried once, then the fallback
            continue
        text = answer.content if isinstance(answer, AIMessage) else str(answer)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return None


def _shorten(model: object, summary: str, max_tokens: int, instructions: str) -> NodeSteps[str]:
    """Re-summarize a summary that outgrew its cap; cut it with a marker if that fails too."""
    prompt = [
        SystemMessage(content=instructions),
        HumanMessage(content=f"Condense this summary; it is too long.\n\n{summary}"),
    ]
    text = yield from _call_with_retry(model, prompt)
    if text is not None and count_text(text) <= max_tokens:
        return text
    text = text or summary
    keep = max(1, len(text) * max_tokens // max(1, count_text(text)))
    return text[:keep] + " [summary cut to its size limit]"
