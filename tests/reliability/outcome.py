"""What one reliability promise reports: the figure printed by ``report.py`` and what broke.

Each promise module in this folder has a ``check(workdir: Path) -> Outcome`` that runs the
whole experiment (processes, servers, faults) in ``workdir``. The pytest module next to it
asserts ``outcome.kept``; ``report.py`` runs every ``check`` and prints the figures. One code
path for both, so the report can never claim what the tests did not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    promise: str
    """Short name printed first, e.g. ``"crash"``."""
    figure: str = ""
    """One line of what was tried and what held, e.g. ``"20 SIGKILLs survived, ..."``."""
    messages_lost: int = 0
    """Acknowledged messages (or passages) that were missing afterwards."""
    cross_user_leaks: int = 0
    """Results, answers or reads that carried another user's memory."""
    problems: list[str] = field(default_factory=list)
    """Every other broken expectation, in words."""

    @property
    def kept(self) -> bool:
        return not self.problems and self.messages_lost == 0 and self.cross_user_leaks == 0

    def expect(self, condition: bool, problem: str) -> bool:
        """Record ``problem`` unless ``condition`` holds; returns ``condition``."""
        if not condition:
            self.problems.append(problem)
        return condition

    def explain(self) -> str:
        lines = [f"{self.promise}: {self.figure}"]
        if self.messages_lost:
            lines.append(f"messages lost: {self.messages_lost}")
        if self.cross_user_leaks:
            lines.append(f"cross-user leaks: {self.cross_user_leaks}")
        lines += self.problems[:20]
        return "\n".join(lines)
