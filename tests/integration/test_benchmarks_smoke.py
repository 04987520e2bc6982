"""Every benchmark runs: each script at a tiny size, as a smoke test (no figure asserted).

The benchmarks run on demand (README, Performance), so nothing else would notice one that
stopped working (an import moved, an API changed). Each is run here as a user runs it, in a
subprocess, on a tiny input: the engine ones on SmolLM2-135M (a second a call), the LoCoMo
ones on a small LoCoMo-format file written below. That file is SYNTHETIC, made up for this
smoke test only: a benchmark run on it measures nothing. The test checks that the script ends
with the line its figures are quoted from, in its format.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from memgpt_integration import REPO_ROOT, clean_env

pytestmark = pytest.mark.integration

BENCHMARKS = REPO_ROOT / "tests" / "benchmarks"
TIMEOUT = 600
SMOL = "smollm2-135m"

SESSIONS = {
    "smoke-1": (
        ("Ana", "Ben"),
        [
            (
                "1:56 pm on 8 May, 2023",
                [
                    "I adopted a greyhound called Pepper last week.",
                    "Lovely! I started pottery classes on Tuesdays.",
                    "Pepper is scared of umbrellas, it is funny.",
                    "My first bowl came out crooked but I like it.",
                ],
            ),
            (
                "10:30 am on 2 June, 2023",
                [
                    "We moved to Lisbon on the first of June.",
                    "Did Pepper like the flight?",
                    "She slept the whole way. I start a job at a bakery next week.",
                    "I sold three bowls at the market on Saturday.",
                ],
            ),
        ],
    ),
    "smoke-2": (
        ("Cleo", "Dan"),
        [
            (
                "9:00 am on 3 March, 2023",
                [
                    "I signed up for a marathon in October.",
                    "Brave. I am learning Portuguese for my trip.",
                    "My knee hurts after long runs though.",
                    "My teacher is from Porto, she is great.",
                ],
            ),
            (
                "6:15 pm on 20 April, 2023",
                [
                    "The physio said the knee is fine, just stretch more.",
                    "I booked the trip to Porto for August.",
                    "I ran 25 kilometres on Sunday.",
                    "I can order coffee in Portuguese now.",
                ],
            ),
        ],
    ),
}
QUESTIONS = {
    "smoke-1": [
        ("What is the name of Ana's dog?", "Pepper", ["D1:1"], 4),
        ("When did Ana move to Lisbon?", "1 June, 2023", ["D2:1"], 2),
        ("What does Ben make in his classes, and where does he sell it?", "bowls, market",
         ["D1:4", "D2:4"], 1),
        ("What is Ana's dog afraid of?", "umbrellas", ["D1:3"], 3),
        ("What breed is Ben's cat?", None, ["D1:2"], 5),
    ],
    "smoke-2": [
        ("Which race did Cleo sign up for?", "a marathon", ["D1:1"], 4),
        ("Where is Dan's Portuguese teacher from?", "Porto", ["D1:4"], 4),
        ("When is Dan's trip to Porto?", "August 2023", ["D2:2"], 2),
        ("What did the physio tell Cleo?", "the knee is fine, stretch more", ["D2:1"], 3),
    ],
}  # fmt: skip


def synthetic_locomo(path: Path) -> Path:
    """A LoCoMo-format file (SYNTHETIC) with the fields every benchmark reads."""
    data = []
    for sample_id, ((first, second), sessions) in SESSIONS.items():
        conversation: dict[str, object] = {"speaker_a": first, "speaker_b": second}
        summaries = {}
        for number, (date, turns) in enumerate(sessions, start=1):
            conversation[f"session_{number}_date_time"] = date
            conversation[f"session_{number}"] = [
                {"speaker": (first, second)[i % 2], "dia_id": f"D{number}:{i + 1}", "text": text}
                for i, text in enumerate(turns)
            ]
            summaries[f"session_{number}_summary"] = f"{first} and {second} talked on {date}."
        qa = []
        for question, answer, evidence, category in QUESTIONS[sample_id]:
            item: dict[str, object] = {
                "question": question,
                "evidence": evidence,
                "category": category,
            }
            if answer is None:
                item["adversarial_answer"] = "a tabby"
            else:
                item["answer"] = answer
            qa.append(item)
        data.append(
            {
                "sample_id": sample_id,
                "conversation": conversation,
                "qa": qa,
                "session_summary": summaries,
                "observation": {},
                "event_summary": {},
            }
        )
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="module")
def locomo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthetic_locomo(tmp_path_factory.mktemp("smoke") / "synthetic-locomo.json")


def run_benchmark(script: str, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=clean_env(
            HF_HUB_OFFLINE="1",
            XDG_DATA_HOME=str(cwd / "xdg"),
            MEMGPT_BENCH_CACHE=str(cwd / "bench-cache"),  # vectors embedded afresh
        ),
    )
    assert result.returncode == 0, (
        f"{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


SMOKE_RUNS = {
    "archival_search.py": (
        ("300", "--data", "{locomo}"),
        r"^archival search p50 at 300: [\d.]+ ms \(SqliteStore [\d.]+ ms\), recall@10 vs exact "
        r"[\d.]+, real text$",
    ),
    "turn_overhead.py": (
        ("3", "--data", "{locomo}"),
        r"^per-turn overhead: [\d.]+ x LangGraph's floor at 3 turns",
    ),
    "peers.py": (
        ("3", "--data", "{locomo}"),
        r"^store behaviours: \d+ of \d+ hold in SqliteVecStore \(InMemoryStore \d+ of \d+",
    ),
    "locomo_recall.py": (
        ("{locomo}",),
        r"^recall@10 overall: [\d.]+% \(leave-one-conversation-out",
    ),
    "prompt_cache.py": (
        ("--model", SMOL, "--turns", "2", "--previous-turns", "1", "--window", "4096",
         "--data", "{locomo}", "--quiet"),
        r"^prompt cache: \d+% of prompt tokens cached \(previous layout \d+%\), p50 per call ",
    ),
    "locomo_qa.py": (
        ("{locomo}", "--questions", "3", "--model", SMOL, "--configs", "window", "--quiet"),
        r"^locomo qa: F1 overall [\d.]+ \(window only [\d.]+\) on \d+ questions$",
    ),
    "consolidation.py": (
        ("{locomo}", "--questions", "2", "--model", SMOL, "--quiet"),
        r"^consolidation: \d+ facts \(\d+ duplicates\), \d+ entities, \d+ relations, [\d.]+ s per "
        r"100 messages; QA F1 with [\d.]+, without [\d.]+ on \d+ questions$",
    ),
}  # fmt: skip


# Not here: real_model.py, whose fixed scenario has no small size (about 7 minutes on
# SmolLM2-135M); tests/integration/test_real_engine.py runs its kind of conversation.
@pytest.mark.parametrize("script", sorted(SMOKE_RUNS))
def test_the_benchmark_runs(script: str, locomo: Path, tmp_path: Path) -> None:
    args, last_line = SMOKE_RUNS[script]
    output = run_benchmark(script, *(a.format(locomo=locomo) for a in args), cwd=tmp_path)
    assert re.search(last_line, output, re.MULTILINE), f"{script} printed:\n{output[-3000:]}"
