"""Question sets: the file format, and loading it with errors that name the line and field.

The format is documented at the top of ``eval/questions/sample.yaml``; a set is YAML
(``name``, ``description``, ``questions: [...]``) or JSONL (one question object per line).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

QuestionType = Literal["fact", "list", "why", "comparison", "follow-up", "unanswerable"]
QUESTION_TYPES: tuple[str, ...] = QuestionType.__args__
# What shape of answer the question wants (optional; the reader sets name it for every question).
AnswerKind = Literal["list", "grade", "number", "date", "person", "reason", "change", "yesno", "text"]
ANSWER_KINDS: tuple[str, ...] = AnswerKind.__args__
Split = Literal["tune", "check"]


def is_path_ref(report: str) -> bool:
    """A report named by its file's path ("<folder>/<file>.pdf", as in a folder of Ofsted PDFs)
    rather than by its id: ids never hold a "/"."""
    return "/" in report


class QuestionSetError(ValueError):
    """A question set that cannot be used; the message names the file, line and field."""


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    report: str = Field(min_length=1)
    text: str = Field(min_length=1)


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    type: QuestionType
    history: list[Turn] = []
    reports: list[str] = []
    evidence: list[Evidence] = []
    key_points: list[str] = []
    reference: str = ""
    kind: AnswerKind | None = None

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"

    @model_validator(mode="after")
    def _consistent(self) -> EvalQuestion:
        if not self.answerable and (self.reports or self.evidence or self.key_points):
            raise ValueError("an unanswerable question has empty reports, evidence and key_points")
        if self.answerable and not (self.reports and self.evidence):
            raise ValueError("an answerable question names its reports and quotes its evidence")
        stray = {e.report for e in self.evidence} - set(self.reports)
        if stray:
            raise ValueError(f"evidence from {', '.join(sorted(stray))}, which is not in reports")
        return self


@dataclass
class QuestionSet:
    name: str
    description: str
    path: Path
    questions: list[EvalQuestion]
    split: Split | None = None  # "tune": weights and thresholds may be fitted on it; "check": never

    @property
    def report_refs(self) -> list[str]:
        """Every report the set's answers come from, as the set names them (ids or paths)."""
        return sorted({r for q in self.questions for r in q.reports})


def _item_lines(text: str) -> list[int]:
    """1-based line of each item under ``questions:`` (YAML keeps node positions)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    for key, value in getattr(root, "value", []) or []:
        if getattr(key, "value", None) == "questions" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _parse(path: Path) -> tuple[dict, list[tuple[int, object]]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise QuestionSetError(f"{path}:{n}: not JSON: {exc.msg}") from None
        return {"name": path.stem}, items
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise QuestionSetError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise QuestionSetError(f"{path}: expected a mapping with a `questions:` list")
    lines = _item_lines(text)
    items = [(lines[i] if i < len(lines) else 0, q) for i, q in enumerate(data["questions"])]
    return data, items


def load_question_set(path: str | Path) -> QuestionSet:
    path = Path(path)
    if not path.is_file():
        raise QuestionSetError(f"{path}: no such question set")
    header, items = _parse(path)
    questions: list[EvalQuestion] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line, item in items:
        ident = item.get("id", "?") if isinstance(item, dict) else "?"
        try:
            q = EvalQuestion.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or "question"
                problems.append(f"{path}:{line}: question {ident!r}: {field}: {err['msg']}")
            continue
        if q.id in seen:
            problems.append(f"{path}:{line}: question id {q.id!r} already used on line {seen[q.id]}")
        seen[q.id] = line
        questions.append(q)
    if problems:
        raise QuestionSetError("\n".join(problems))
    if not questions:
        raise QuestionSetError(f"{path}: the set has no questions")
    split = header.get("split")
    if split not in (None, "tune", "check"):
        raise QuestionSetError(f"{path}: split is {split!r}; expected tune or check")
    return QuestionSet(
        name=str(header.get("name") or path.stem),
        description=str(header.get("description") or ""),
        path=path,
        questions=questions,
        split=split,
    )
