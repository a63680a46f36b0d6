"""A gazetteer of England's children's-services authorities.

Reports name their council in many ways ("Southend", "Southend-on-Sea Borough Council",
"London Borough of Southwark"); questions do too. One list of places and aliases lets ingest
label reports and lets the assistant recognise a place it holds nothing on.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Council:
    place: str  # "Southend-on-Sea"
    name: str  # "Southend-on-Sea Borough Council"
    aliases: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, self.place, *self.aliases)


@dataclass(frozen=True)
class Mention:
    council: Council
    start: int
    end: int


@lru_cache(maxsize=1)
def gazetteer() -> tuple[Council, ...]:
    with resources.files("ingest").joinpath("data/councils.csv").open(encoding="utf-8") as fh:
        return tuple(
            Council(
                place=row["place"],
                name=row["council"],
                aliases=tuple(a for a in (row["aliases"] or "").split(";") if a),
            )
            for row in csv.DictReader(fh)
        )


def _alias_pattern(alias: str) -> str:
    # Hyphens, spaces and "and"/"&" vary between documents: "Southend on Sea", "Brighton & Hove".
    words = re.split(r"[\s\-]+", alias.strip())
    parts = [r"(?:and|&)" if w.lower() in {"and", "&"} else re.escape(w) for w in words]
    return r"[\s\-]+".join(parts)


@lru_cache(maxsize=1)
def _matcher() -> tuple[re.Pattern[str], dict[str, Council]]:
    by_alias: dict[str, Council] = {}
    for council in gazetteer():
        for alias in council.names:
            by_alias.setdefault(_normalise(alias), council)
    # Longest first so "North Somerset" wins over "Somerset" and "Bath and North East Somerset" over both.
    aliases = sorted(by_alias, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w-])(?:" + "|".join(_alias_pattern(a) for a in aliases) + r")(?![\w-])",
        re.IGNORECASE,
    )
    return pattern, by_alias


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", " ", name.replace("&", "and")).strip().lower()


def find_mentions(text: str, *, capitalised_only: bool = True) -> list[Mention]:
    """Every council named in ``text``, in order, longest alias winning at each place.

    ``capitalised_only`` ignores lower-case hits, so prose such as "reading the report" or
    "kent" in a word list is not taken for Reading or Kent; questions typed in lower case can
    turn it off.
    """
    pattern, by_alias = _matcher()
    mentions = []
    for m in pattern.finditer(text):
        if capitalised_only and not m.group(0)[0].isupper():
            continue
        council = by_alias.get(_normalise(m.group(0)))
        if council is not None:
            mentions.append(Mention(council, m.start(), m.end()))
    return mentions


def lookup(name: str) -> Council | None:
    """The council a user-typed name refers to, if it is one we know."""
    mentions = find_mentions(name, capitalised_only=False)
    return mentions[0].council if mentions else None
