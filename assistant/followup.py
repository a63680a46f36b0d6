"""Follow-ups without an LLM: carry the council, year and topic forward from earlier turns.

"and what about Swindon?" keeps the topic and swaps the council; "were there any weak spots in
it?" keeps the council; "is that better than last time?" keeps both and asks for a comparison.
The result is a question that stands on its own, shown to the reader as what was searched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.keywords import terms
from assistant.models import Message
from assistant.scope import COMPARE, YEAR, councils_named
from ingest.councils import find_mentions

# A question that points back at the earlier answer rather than at the council ("is that
# better than last time?", "why was that?").
_REFERS_BACK = re.compile(r"\b(?:that|this|those|these|the same)\b(?!\s+(?:council|authority|area))", re.I)
_SWAP = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\b|^\s*and\s+(?:for|in)?\b|^\s*same\s+for\b|^\s*(?:and\s+)?(?:in|for)\s+", re.I)


def strip_places(question: str) -> str:
    """The question without the councils and years it names: its topic."""
    out = question
    for m in reversed(find_mentions(question, capitalised_only=False)):
        end = m.end + 2 if question[m.end : m.end + 2] in ("'s", "’s") else m.end
        out = out[: m.start] + out[end:]
    out = YEAR.sub("", out)
    out = re.sub(r"\b(in|for|at|of|about)\s+(?=[?.!,]|$)", "", out)
    return re.sub(r"\s+", " ", out).strip(" ,")


def _last_user_turn(history: Sequence[Message]) -> str | None:
    for message in reversed(history):
        if message.get("role") == "user" and message.get("content", "").strip():
            return message["content"].strip()
    return None


def resolve(question: str, history: Sequence[Message]) -> str:
    """``question`` rewritten to stand alone, using the latest user turn of ``history``."""
    return re.sub(r"\s+", " ", _resolve(question, history)).replace(" ?", "?").strip()


def _resolve(question: str, history: Sequence[Message]) -> str:
    previous = _last_user_turn(history)
    if not previous:
        return question
    # The previous turn may itself have been a follow-up: resolve it first.
    earlier = list(history)
    while earlier and not (earlier[-1].get("role") == "user" and earlier[-1].get("content", "").strip() == previous):
        earlier.pop()
    previous = resolve(previous, earlier[:-1]) if earlier else previous

    places_now = councils_named(question)
    years_now = YEAR.findall(question)
    topic_now = terms(strip_places(question))
    topic_before = strip_places(previous)
    context = [c.name for c in councils_named(previous)]
    years_before = YEAR.findall(previous)

    if places_now or years_now:
        if _SWAP.search(question) and len(topic_now) <= 2:
            # "and what about Swindon?" -> the previous question, about Swindon.
            where = ", ".join(c.name for c in places_now) or ", ".join(context)
            when = " ".join(years_now)
            return f"{topic_before.rstrip('?')} in {where}{(' in ' + when) if when else ''}?"
        return question
    if not context and not years_before:
        return question
    where = " and ".join(context)
    when = "" if COMPARE.search(question) else " and ".join(years_before)  # a comparison spans years
    scope = " ".join(p for p in (f"in {where}" if where else "", f"in {when}" if when else "") if p)
    if not topic_now or _REFERS_BACK.search(question):
        # "why?", "tell me more about that": the earlier question's topic is this one's.
        return f"{question.rstrip('?. ')} ({topic_before.rstrip('?')}) {scope}?"
    # "and what is it good at?" asks something new about the same council: only the scope carries.
    return f"{question.rstrip('?. ')} {scope}?"
