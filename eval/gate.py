"""The quality gate: the floor each metric must stay above, kept in the repo (eval/gate.json).

Floors start from what was measured and only ever rise; ``goal`` records where they are heading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GATE_FILE = Path(__file__).with_name("gate.json")


@dataclass(frozen=True)
class Gate:
    question_set: Path
    minimum: dict[str, float]
    goal: dict[str, float]

    @classmethod
    def load(cls, path: Path = GATE_FILE) -> Gate:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(question_set=(path.parent / data["set"]).resolve(), minimum=data["minimum"],
                   goal=data.get("goal", {}))

    def failures(self, summary: dict[str, Any]) -> list[str]:
        """One line per metric below its floor; empty when the gate passes."""
        return [
            f"{metric} {summary.get(metric) or 0:.3f} is below the gate's {floor:.3f}"
            for metric, floor in self.minimum.items()
            if (summary.get(metric) or 0) < floor
        ]
