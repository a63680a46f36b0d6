"""Words that carry meaning, the same way for keyword search, answer picking and verification.

Deliberately small: lower-casing, a stopword list, and a light suffix stemmer, so "improve",
"improving" and "improvements" meet, and "the council's" matches "councils".
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# Words that shape the scope of a question (compare reports, over time), not what to quote.
SCOPE_WORDS = frozenset(
    "change changed changes changing compare compared comparison differ difference different "
    "better worse since previous previously last time earlier before now then between trend".split()
)

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves also may might must shall
    get got tell say said says us let please show give list know anything something
    like actually really sort kind thing things think thought
    """.split()
)

# Question words that name the shape of an answer, not its content.
QUESTION_WORDS = frozenset("what which who whom whose when where why how many much".split())

NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper: enough to join inflections, never clever."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("'s"):
        word = word[:-2]
    for suffix, keep in (
        ("ements", 3), ("ement", 3), ("ments", 3), ("ment", 3), ("ations", 3), ("ation", 3),
        ("ions", 4), ("ion", 4),
        ("ies", 3), ("ing", 3), ("ness", 3), ("ed", 3), ("ly", 4), ("es", 4), ("s", 3),
    ):  # fmt: skip
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            word = word[: -len(suffix)]
            if suffix == "ies":
                word += "y"
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-cased words and numbers, apostrophes kept inside words."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return _WORD.findall(text)


def terms(text: str) -> list[str]:
    """Stemmed content words, in order, repeats kept: what BM25 counts."""
    out = []
    for w in words(text):
        w = NUMBER_WORDS.get(w, w)
        if w in STOPWORDS or w in QUESTION_WORDS or (len(w) == 1 and not w.isdigit()):
            continue
        out.append(stem(w))
    return out


def title_terms(label: str) -> list[str]:
    """Terms of a section label without its numbering: "3.11" has none, "6.1 Risk" has "risk"."""
    return terms(re.sub(r"^[\s\d.()]+", "", label))
