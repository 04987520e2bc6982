"""How much of each prompt a local engine can serve from its KV cache, measured without one.

llama.cpp and Ollama keep the previous prompt's KV cache and re-process a new prompt from the
first token that differs, so on a small local model the prompt layout decides most of the time
a call takes. This drives a fixed 100-turn conversation (core memory edits, archival inserts,
several evictions) through the real graph at a 4K window, in both prompt layouts, and measures
with :func:`~langgraph_memgpt.testing.prompt_prefix_share` the share of prompt tokens that are
a prefix of the previous call's. The figures are printed at the end of the test run
(``pytest_terminal_summary`` in conftest.py) so a layout change shows its effect in CI.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore
from langgraph_memgpt import Context, build_graph
from langgraph_memgpt.testing import (
    PrefixShare,
    ScriptedChatModel,
    call,
    prompt_prefix_share,
    reply,
    tool_turn,
)

# With the cached layout a prompt changes only at its end (the new messages) between
# evictions, and is rebuilt after the system instructions only when an eviction rewrites the
# head; that keeps the reusable share near 90% at 4K even with an eviction every ~10 turns. A
# layout that changes anything near the top on every call (the classic one's metadata counts)
# loses everything after it and measures about 20%, so 85% separates the two with room for
# evictions and the per-call tail, and fails as soon as a per-call change creeps into the head.
MIN_PREFIX_SHARE = 0.85
# Automatic retrieval shows each turn a new note of up to a tenth of the window, tokens no
# cache can hold, and replaces the previous turn's (its replies are re-processed): it measures
# about 85% here. 80% still fails any change that puts the note before the queue.
MIN_PREFIX_SHARE_RETRIEVING = 0.80
TURNS = 100
WINDOW = 4096
SUMMARY_PROPERTY = "terminal_summary"
"""``record_property`` name whose value conftest's ``pytest_terminal_summary`` prints."""

USER_LINES = (
    "I just got back from a week of hiking in the Dolomites and my legs are still sore.",
    "Can you remind me what we said about the budget for the kitchen renovation?",
    "My sister Clara is visiting next month, she is vegetarian and hates cilantro.",
    "Work has been hectic: the quarterly report is due Friday and two people are out sick.",
    "I started learning the cello again after ten years, mostly Bach suites for now.",
    "What is a good way to store fresh basil so it does not go black in two days?",
    "We adopted a rescue greyhound called Pepper; she sleeps about twenty hours a day.",
    "I am thinking about switching from Python to Rust for the data pipeline at work.",
    "The train to Lyon was cancelled again, so I am stuck in Geneva for the night.",
    "My daughter turns seven on the twelfth and she wants a dinosaur-themed party.",
    "Do you think it is worth buying an electric bike for a twelve kilometre commute?",
    "I finished reading 'The Left Hand of Darkness' and I cannot stop thinking about it.",
    "Our landlord wants to raise the rent by eight percent, which seems like a lot.",
    "I have a dentist appointment on Tuesday morning and I keep forgetting about it.",
    "Can you help me plan a three-day trip to Lisbon in late October on a small budget?",
    "My running club is doing a half marathon in spring and I want to train properly.",
    "I burned the risotto again; I think the pan is too thin for that kind of cooking.",
    "The new manager asked everyone to write a one-page summary of their projects.",
    "I have been sleeping badly since the clocks changed, waking up around four.",
    "We are repainting the living room and cannot decide between sage green and grey.",
    "My grandfather used to keep bees; I found his old notebooks in the attic today.",
    "What was the name of that podcast about the history of typography you mentioned?",
    "I want to donate some old laptops but I am not sure how to wipe them properly.",
    "The garden tomatoes finally ripened, so I am making sauce for the whole winter.",
    "I got a parking ticket outside the library even though the sign was covered.",
    "Could you help me write a polite email declining a wedding invitation?",
    "My partner and I are arguing about whether to get a second car or not.",
    "I signed up for a pottery class on Thursday evenings starting in two weeks.",
    "The heating in the flat broke and the repair person cannot come until Monday.",
    "I want to surprise my mother with a photo book of our old family holidays.",
)
REPLY_LINES = (
    "That sounds like a lot to carry at once, so let us take it one piece at a time.",
    "I have noted that and will keep it in mind when we talk about this again.",
    "A simple first step would be to write down the two or three things that matter most.",
    "If it helps, I can draft something for you to edit rather than starting from nothing.",
    "Many people in your situation find that a short daily routine works better than a plan.",
    "The cheapest option is not always the best one, but it is a good place to start.",
    "You mentioned something similar a while ago, and it seemed to work out well then.",
    "It might be worth asking a friend who has done this before what they would change.",
    "I would give it a week and then see how you feel before deciding anything.",
    "There is usually a way to make this easier if you split it into smaller tasks.",
    "Let me know how it goes; I am curious whether the new approach makes a difference.",
    "That is a lovely idea, and I think the people involved will really appreciate it.",
    "Timing matters here, so it could help to put a reminder in your calendar today.",
    "From what you have told me, you already know more about this than you think.",
    "If the numbers do not add up, we can look at which costs are really fixed.",
    "It is completely normal for this to take longer than expected the first time.",
    "A good rule of thumb is to keep a little slack in the schedule for surprises.",
    "I can look up a few options if you tell me what matters most to you.",
    "You could also treat it as an experiment and change course if it does not work.",
    "It sounds like you handled a difficult situation with a lot of patience.",
    "Writing it down tonight will make tomorrow morning much less stressful.",
    "There are usually local groups that can help with this, often for free.",
    "If you want, we can come back to this next week and see what changed.",
    "That detail is useful; it changes which of the options makes the most sense.",
    "I would be careful not to commit to anything before you have all the facts.",
    "It may be easier to decide once you have tried both for a day or two.",
    "Small improvements add up quickly when you keep at them for a few weeks.",
    "I am glad you told me; it helps me understand what you are dealing with.",
    "A short walk before bed sometimes helps more than people expect it to.",
    "Whatever you choose, it sounds like you have thought it through carefully.",
)
FACTS = (
    "Recently hiked in the Dolomites.",
    "Sister Clara is vegetarian and dislikes cilantro.",
    "Plays the cello, mostly Bach suites.",
    "Has a rescue greyhound named Pepper.",
    "Daughter's birthday is on the twelfth; likes dinosaurs.",
    "Considering an electric bike for a 12 km commute.",
    "Training for a spring half marathon with a running club.",
    "Takes a pottery class on Thursday evenings.",
)


def turn_script(turn: int) -> list[AIMessage]:
    """The model's answers in ``turn``: memory edits (each asking for a heartbeat), then a reply.

    Every answer ends its turn exactly, so the script is the same for both layouts.
    """
    answers: list[AIMessage] = []
    if turn % 5 == 2:
        fact = FACTS[(turn // 5) % len(FACTS)]
        answers.append(
            tool_turn(
                call("core_memory_append", label="human", content=fact, request_heartbeat=True)
            )
        )
    if turn % 9 == 4:
        note = f"Turn {turn}: {USER_LINES[turn % len(USER_LINES)]}"
        answers.append(
            tool_turn(
                call("archival_memory_insert", content=note, tags=["notes"], request_heartbeat=True)
            )
        )
    picks = (turn, turn + 7, turn + 13, turn + 22)
    answers.append(reply(" ".join(REPLY_LINES[i % len(REPLY_LINES)] for i in picks)))
    return answers


def user_text(turn: int) -> str:
    first = USER_LINES[turn % len(USER_LINES)]
    second = USER_LINES[(turn * 7 + 3) % len(USER_LINES)]
    return f"{first} Also, {second[0].lower()}{second[1:]}"


def summarize(messages: list[BaseMessage]) -> AIMessage:
    """A summarizer that keeps the start of each transcript line: deterministic and bounded."""
    lines = str(messages[-1].content).splitlines()
    return AIMessage(content=" | ".join(line[:48] for line in lines if line.strip())[:700])


def run_conversation(layout: str, retrieval: str = "off") -> tuple[PrefixShare, int]:
    """The prompt-prefix share of the agent's calls over the conversation, and the evictions.

    The summarizer is a model of its own so that only the agent's prompts are measured: its
    calls cost the same in both layouts, and an engine can serve it from another slot.
    """
    model = ScriptedChatModel()
    graph = build_graph(
        model=model,
        summarizer=ScriptedChatModel(default=summarize),
        checkpointer=InMemorySaver(),
        store=InMemoryStore(),
    )
    config: dict[str, Any] = {"configurable": {"thread_id": f"prompt-cache-{layout}-{retrieval}"}}
    context = Context(context_window=WINDOW, prompt_layout=layout, retrieval=retrieval)
    evictions = evicted = 0
    for turn in range(TURNS):
        model.script.extend(turn_script(turn))
        state = graph.invoke(
            {"messages": [{"role": "user", "content": user_text(turn)}]}, config, context=context
        )
        # A leftover answer would shift the rest of the script onto the wrong turns.
        assert not model.script, f"turn {turn} made fewer model calls than scripted"
        count = state["summary"]["message_count"] if state.get("summary") else 0
        evictions += count > evicted
        evicted = count
    return prompt_prefix_share(model.prompts, model.bound_tools), evictions


def describe(share: PrefixShare) -> str:
    return f"{share.share:.1%} ({share.reprocessed_per_call:,.0f} re-processed per call)"


def test_cached_layout_keeps_the_prompt_prefix(record_property) -> None:
    cached, cached_evictions = run_conversation("cached")
    classic, classic_evictions = run_conversation("classic")
    # Automatic retrieval adds a note before each user message, replaced the next turn: the
    # engine re-processes from the previous turn's note, never from the head.
    retrieving, _ = run_conversation("cached", retrieval="both")
    # Recorded before the assertions so the figures print even when the threshold fails.
    record_property(
        SUMMARY_PROPERTY,
        f"prompt cache (engine-free, cl100k, {TURNS} turns, {WINDOW // 1024}K): cached layout "
        f"{cached.share:.1%} of prompt tokens are a prefix of the previous call's "
        f"({cached.reprocessed_per_call:,.0f} re-processed per call); classic layout "
        f"{classic.share:.1%} ({classic.reprocessed_per_call:,.0f}); cached layout with "
        f"automatic retrieval {retrieving.share:.1%} ({retrieving.reprocessed_per_call:,.0f})",
    )
    # Evictions rewrite the head of the prompt: the figure must include their cost.
    assert cached_evictions >= 3, cached_evictions
    assert classic_evictions >= 3, classic_evictions
    assert cached.calls > TURNS
    assert cached.share >= MIN_PREFIX_SHARE, (
        f"cached layout: {describe(cached)}, classic {describe(classic)}"
    )
    assert retrieving.share >= MIN_PREFIX_SHARE_RETRIEVING, (
        f"with retrieval: {describe(retrieving)}"
    )
