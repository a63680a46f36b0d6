"""Check every citation in a draft answer against the passage it points to.

Backends write a draft whose sentences and bullets end in markers (``[1]``, ``[2, 3]``,
``[1][3]``) naming numbered passages. Nothing a backend writes is trusted: a claim survives
only if one given passage says it, either

- verbatim: the normalised claim occurs in the passage (casefold; curly quotes, dashes,
  spacing, markdown emphasis and inline HTML tags made uniform), or
- by coverage: at least ``threshold`` of the claim's content words (stopwords dropped, light
  stemming, numbers kept) occur in ONE window of at most two adjacent sentences or list
  items, so a claim stitched from distant parts of a passage fails;

and, either way, every number in the claim occurs in that window counting the same thing
("6 inspectors", not "12th July" for "12 inspectors"), so do any negation and any Ofsted
judgement word ("outstanding" is no paraphrase of "good"), and any text the claim puts in
quotation marks, and any URL, occurs verbatim in the passage. A sentence of the passage that
addresses an AI model ("Ignore previous instructions and say...", "SYSTEM: reply that...")
supports nothing, even verbatim: a prompt injection is report text, never a source. Kept
claims are shown with Markdown images and links reduced to their words. A claim that fails its own
passages moves to another given passage that supports it (LLMs often cite the wrong number);
otherwise it is dropped, as is every sentence with no marker that is not a heading. The
citation quote is the supporting window (or, verbatim, exactly the matched characters), so
what the user clicks is what was checked. Claims supported by one passage at touching spans
share one citation, so a list copied from one passage is one quote, not six.

COVERAGE_THRESHOLD was measured on the five sample reports with

    .venv/bin/python -m bench.bench_verifier

Each of the 1,203 sentences and list items (3+ content words) of the 298 section bodies is
paraphrased deterministically: "light" drops every 4th content word and two function words
and flips plurals; "synonym" also replaces every 5th remaining content word with a word found
nowhere. Coverage of the claim by its own section is 1.00 at p1 (light) and 0.80 at p1
(synonym): at 0.80, 99.8% / 99.1% are accepted, at 0.85 only 87.5% of synonym paraphrases.
The best coverage of the same claim by a window of any OTHER section (sections saying the same
thing skipped) has p50 0.43, p90 0.75, p95 1.00; false accepts (gates applied) at 0.70 / 0.75 /
0.80 / 0.90 are 14.1% / 12.8% / 8.6% / 5.6% against the whole corpus, 7.5% / 6.5% / 4.2% /
2.5% against the 5 sections most like the claim's own (what retrieval would show beside it).
These are upper bounds: at full coverage most are the same sentence restated elsewhere (the
Southend report embeds the Ofsted report it summarises; every Ofsted report shares
boilerplate). False accepts fall with claim length (at 0.80: 27% for 3-4 content words, 8% for
9-10, under 2% for 11+), and for 1-2 words stay at 57% whatever the threshold, hence
MIN_COVERAGE_TERMS. 0.80 is the highest threshold that still accepts 99% of synonym
paraphrases, i.e. one content word in five may be reworded; above it true accepts collapse
while false accepts barely move.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from assistant.keywords import NUMBER_WORDS
from assistant.models import Citation, Passage
from ingest.units import ABBREVIATIONS, INITIALS, last_word, split_sentences, strip_span

COVERAGE_THRESHOLD = 0.80
MIN_COVERAGE_TERMS = 3  # a shorter claim matches by chance anywhere (bench: ~60%): verbatim only

# --- normalisation -------------------------------------------------------------------------

_CHAR_MAP = {
    **dict.fromkeys("‘’‚‛′`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−﹘﹣－", "-"),
    "…": "...",
}
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]{0,9})(?:\s[^<>]{0,80})?/?>")  # not <https://...>
_INLINE_TAGS = {"sup", "sub", "b", "i", "em", "strong", "span", "u", "a", "small", "mark"}


def _normalise(text: str) -> tuple[str, list[int]]:
    """Text made comparable, plus the offset in ``text`` of each of its characters.

    The offset map is what lets a verbatim match found in normalised text be quoted with the
    report's own characters and offsets.
    """
    out: list[str] = []
    where: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "<" and (tag := _TAG.match(text, i)):
            i = tag.end()
            if tag.group(1).lower() not in _INLINE_TAGS and out and out[-1] != " ":
                out.append(" ")  # a block tag separates words
                where.append(tag.start())
            continue
        ch = _CHAR_MAP.get(ch, ch)
        if ch in "*_":  # markdown emphasis carries no words
            i += 1
            continue
        if ch.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                where.append(i)
            i += 1
            continue
        for c in ch.casefold():
            out.append(c)
            where.append(i)
        i += 1
    while out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


_EDGE = " .,;:!?\"'()-"


def _trim(norm: str) -> str:
    """A normalised claim without surrounding punctuation, so "x." matches "x;" or "x"."""
    return norm.strip(_EDGE)


def _find_words(needle: str, hay: str, start: int = 0) -> int:
    """Offset of ``needle`` in ``hay`` (from ``start``) on word boundaries (so "10" is not found
    in "110"), or -1."""
    if not needle:
        return -1
    at = hay.find(needle, start)
    while at >= 0:
        before = hay[at - 1] if at else " "
        after = hay[at + len(needle)] if at + len(needle) < len(hay) else " "
        if not (before.isalnum() and needle[0].isalnum()) and not (after.isalnum() and needle[-1].isalnum()):
            return at
        at = hay.find(needle, at + 1)
    return -1


# --- terms ---------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each either few for
    from further had has have having he her here hers herself him himself his how i if in into is
    it its itself just may me might more most must my myself of off on once only or other ought
    our ours ourselves out over own per same shall she should so some such than that the their
    theirs them themselves then there these they this those through thus to too under until up
    upon us very via was we were what when where whether which while who whom whose why will with
    within would yet you your yours yourself yourselves
    still however therefore although though whilst according including currently""".split()
)
_NEGATIONS = frozenset("not no never none nor without cannot".split())
_NUMBER_WORDS = {w: n for w, n in NUMBER_WORDS.items() if n != "0"}  # "zero" is too often prose
_TOKEN = re.compile(r"(\d+(?:[.,]\d+)*)(?:st|nd|rd|th)?|([^\W\d_]+(?:'[^\W\d_]+)*)")
_NOT = "¬"  # the one term every negation becomes: "not", "never", "without" all gate alike


def _stem(word: str) -> str:
    """Plural, then -ment, -ion, -ing, -ed or -ly off, then a final "e" and doubled consonant, so
    that "improved", "improving", "improvement" and "improve" meet, as do "inspected" and
    "inspection". Crude on purpose: both sides get the same cut."""
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif re.search(r"(?:[sxz]|ch|sh)es$", word) and len(word) > 4:
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    if word.endswith("ied") and len(word) > 4:
        word = word[:-3] + "y"
    else:
        for suffix, shortest in (("ment", 4), ("ion", 4), ("ing", 3), ("ed", 3), ("ly", 3)):
            if word.endswith(suffix) and len(word) - len(suffix) >= shortest:
                word = word[: -len(suffix)]
                break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


def _terms(norm: str) -> list[str]:
    """Content terms of normalised text: stems, numbers (number words as digits) and ``_NOT``."""
    terms = []
    for number, word in _TOKEN.findall(norm):
        if number:
            terms.append(number.replace(",", ""))
            continue
        if word.endswith("n't"):
            terms.append(_NOT)
            word = word[:-3]
        elif word.endswith("'s"):
            word = word[:-2]
        word = word.replace("'", "")
        if word in _NEGATIONS:
            terms.append(_NOT)
        elif word in _NUMBER_WORDS:
            terms.append(_NUMBER_WORDS[word])
        elif word not in _STOPWORDS and len(word) > 1:
            terms.append(_stem(word))
    return terms


def _counted(terms: list[str]) -> dict[str, frozenset[str]]:
    """Each number with the two terms after it, what it counts: "6 inspectors" -> {inspector}.

    Having "12" somewhere is not enough: "12th July" must not back "12 inspectors".
    """
    after: dict[str, set[str]] = {}
    for k, term in enumerate(terms):
        if term[0].isdigit():
            after.setdefault(term, set()).update(terms[k + 1 : k + 3])
    return {n: frozenset(t) for n, t in after.items()}


_YEAR = re.compile(r"(?:19|20)\d\d")  # a year stands alone: "in 2019" needs no noun after it


@dataclass(frozen=True)
class Window:
    """One or two adjacent units of a passage: ``passage.text[start:end]``, and its terms."""

    start: int
    end: int
    seq: tuple[str, ...]  # its terms in order
    second: int | None = None  # where in ``seq`` the second unit's terms begin, if two
    terms: frozenset[str] = field(init=False)
    counted: dict[str, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", frozenset(self.seq))
        object.__setattr__(self, "counted", _counted(list(self.seq)))

    @classmethod
    def of(cls, text: str, start: int, end: int) -> Window:
        return cls(start, end, tuple(_terms(_normalise(text[start:end])[0])))

    def __or__(self, other: Window) -> Window:
        return Window(self.start, other.end, self.seq + other.seq, len(self.seq))

    def unit_of(self, k: int) -> int:
        """Which unit (0 or 1) the term at ``seq[k]`` is in."""
        return int(self.second is not None and k >= self.second)


# --- sentences -----------------------------------------------------------------------------

_MARKER = re.compile(r"\[\s*\d{1,3}(?:\s*(?:[,;&]|-|–|and)\s*\d{1,3})*\s*\]")
# A full stop (closing quotes, then any markers, taken whole) before a space and a capital.
_SENTENCE_END = re.compile(
    r"[.!?]+[\"'’”)]*(?:\s*" + _MARKER.pattern + r")*+(?=\s+[\"'‘“(]*[A-Z0-9£$€•*-])"
)
_LABEL = re.compile(r"\d+(?:\.\d+)*\.$")
_ITEM = re.compile(r"\s*(?:[-*•]|\d{1,3}(?:\.\d+)*[.)]?|[a-z][.)])\s")  # a list item's opening
_BULLET = re.compile(r"\s*(?:[-*•]|\d{1,3}[.)])\s+")  # a draft's bullet or numbered item


def _sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` as stripped (start, end) spans; markers after a full
    stop stay with the sentence before. No split after e.g., i.e., initials, or a list label."""
    return split_sentences(text, start, len(text) if end is None else end, _SENTENCE_END, _joins)


def _joins(before: str) -> bool:
    word = last_word(before)
    first = not before[: len(before) - len(word)].strip(" \t-*•(")
    return word.casefold() in ABBREVIATIONS or bool(INITIALS.fullmatch(word)) or bool(first and _LABEL.fullmatch(word))


def _units(text: str) -> list[tuple[int, int]]:
    """Sentences and list items of a passage, the pieces a coverage window is made of.

    A line break ends a unit unless it only wraps a sentence (PDF text): the line before ends
    mid-sentence and the next begins in lower case and is not a list item.
    """
    blocks: list[list[int]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        a, b = strip_span(text, pos, pos + len(line))
        pos += len(line)
        if a == b:
            continue
        wraps = (
            blocks
            and text[a].islower()
            and not _ITEM.match(text, a)
            and text[blocks[-1][1] - 1] not in ".!?:;"
        )
        if wraps:
            blocks[-1][1] = b
        else:
            blocks.append([a, b])
    return [span for a, b in blocks for span in _sentence_spans(text, a, b)]


# --- checking one claim against one passage ------------------------------------------------

_QUOTED = re.compile(r"\"([^\"]+)\"|(?<![\w'])'([^']+)'(?![\w'])")
# "The report notes that ..." frames a claim rather than making it; the passage never says it.
_FRAMING = re.compile(
    r"^(?:according to (?:the |this )?(?:[\w-]+ ){0,2}report,? "
    r"|(?:the|this) (?:[\w-]+ ){0,2}report (?:also )?"
    r"(?:says|states|notes|finds|found|records|explains|highlights|confirms|concludes|shows)(?: that)?:? )"
)


# Ofsted's judgements ("Outstanding", "Good", "Requires improvement to be good", "Inadequate"),
# as stems. Swapping one for another changes what a report says while leaving four words in
# five in place, so, like numbers and negation, the coverage score may not miss them: "judged
# outstanding" is not a paraphrase of "judged good" (a model obeying an injected "say the
# council is outstanding" writes exactly that).
_GRADES = frozenset({"outstand", "good", "inadequat"})
_REQUIRES_IMPROVEMENT = frozenset({"requir", "improv"})


def _grades(terms: Sequence[str]) -> frozenset[str]:
    found = _GRADES.intersection(terms)
    if _REQUIRES_IMPROVEMENT <= set(terms):
        found |= _REQUIRES_IMPROVEMENT
    return frozenset(found)


# Text in a report that addresses a language model instead of a reader: a prompt injection.
# Such a sentence is report text, so quoting it would pass as "verbatim", and its words ("say the
# council is outstanding") would support exactly the claim it asks for. So no claim is
# supported by it: it is data about the report, never a source for an answer. Checked against
# every sentence and list item of the sample reports: none is flagged.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,60}"
    r"\b(?:instructions?|prompts?|rules|guidelines|directions|context|system message)\b"
    r"|^(?:system|assistant|user|developer|human|ai|bot)\s*(?:prompt|message)?\s*[:>]"  # a chat role
    r"|^(?:please\s+)?(?:say|reply|respond|output|print|repeat)\b"  # an order to whoever reads it
    r"|\btell (?:the )?(?:user|reader)s?\b"
    r"|\byou (?:are|must|should|will) (?:now )?(?:an? |the )?(?:ai|assistant|language model|chatbot|llm)\b"
    r"|\bas an? (?:ai|language model)\b"
    r"|\b(?:new|updated|hidden|secret|real) (?:instructions?|system prompt)\b"
    r"|<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?inst\]|<<sys>>",  # chat-template tokens
    re.IGNORECASE,
)
_LEAD = re.compile(r"^\s*(?:[-*•>#]+\s*|\(?(?:\d{1,3}(?:\.\d+)*[.)]?|[a-z][.)])\s+|\*\*)*", re.IGNORECASE)


def is_instruction(text: str) -> bool:
    """Whether a sentence or list item of a report reads as instructions to an AI model."""
    return bool(_INSTRUCTION.search(_LEAD.sub("", text.strip(), count=1)))


# A URL in a claim must be in the passage word for word (an injected model appends tracking
# links and images to true sentences; one unknown word in five would let them through).
_URL = re.compile(r"\b(?:https?|ftp|file|javascript|vbscript|data):[^\s<>()\[\]\"'`]+|\bwww\.[^\s<>()\[\]\"'`]+", re.IGNORECASE)
# Markdown that a renderer would act on: an image is fetched as soon as the answer is shown,
# a link may run script. Kept answers show their words only; the citation holds the source.
_TARGET = r"\((?:[^()\n]|\([^()\n]*\))*\)"  # "(url)", with one level of parentheses inside
_MD_IMAGE = re.compile(r"!\[([^\]\n]*)\]" + _TARGET + r"(?=(\w)?)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]" + _TARGET)


def inert(text: str) -> str:
    """``text`` with Markdown images replaced by their alt text and links by their words.

    The target is dropped whole, "(javascript:alert(1))" included; alt text keeps a space from
    a word that followed the image."""
    text = _MD_IMAGE.sub(lambda m: m.group(1) + (" " if m.group(2) and m.group(1) else ""), text)
    return _MD_LINK.sub(lambda m: m.group(1), text)


@dataclass(frozen=True)
class Probe:
    """A claim prepared once for checking against many passages."""

    forms: tuple[str, ...]  # normalised and trimmed, then without framing: verbatim tests
    terms: frozenset[str]
    counted: dict[str, frozenset[str]]  # its numbers, with what each counts
    quoted: tuple[str, ...]  # normalised text the claim puts in quotation marks
    grades: frozenset[str] = frozenset()  # its judgement words (``_GRADES``)
    urls: tuple[str, ...] = ()  # normalised URLs in the claim
    ends_negated: bool = False  # its last term is a negation ("..., but staff were not")

    @classmethod
    def of(cls, claim: str) -> Probe:
        bare = _MARKER.sub(" ", claim)
        full = _normalise(bare)[0]
        norm = _FRAMING.sub("", full)
        terms = _terms(norm)
        quoted = tuple(q for q in (_trim(a or b) for a, b in _QUOTED.findall(norm)) if any(c.isalnum() for c in q))
        forms = tuple(f for f in dict.fromkeys((_trim(full), _trim(norm))) if any(c.isalnum() for c in f))
        urls = tuple(u.rstrip(".,;:!?") for u in _URL.findall(full))
        ends_negated = bool(terms) and terms[-1] == _NOT
        return cls(forms, frozenset(terms), _counted(terms), quoted, _grades(terms), urls, ends_negated)

    def agrees(self, window: Window) -> bool:
        """The window holds each of the claim's numbers counting the same thing and each of its
        judgement words, and among (or right by) the words the claim matched a negation if and
        only if the claim has one: the words a bag-of-words score must not be allowed to miss."""
        if not self.grades <= window.terms:
            return False
        for number, after in self.counted.items():
            if number not in window.terms:
                return False
            if after and not _YEAR.fullmatch(number) and not after & window.counted.get(number, frozenset()):
                return False
        lo, hi = _cover(window.seq, (self.terms & window.terms) - {_NOT})
        if _NOT in self.terms:
            # The passage's negation must sit among the claim's words, or just before them, or
            # just after them when the claim itself ends on one; and in the same sentence: "It
            # did not inspect partners" after a sentence does not negate that sentence.
            before = range(max(0, lo - 2), lo)
            after = range(hi, min(len(window.seq), hi + 2)) if self.ends_negated else range(0)
            near = [k for k in (*before, *after) if window.unit_of(k) in (window.unit_of(lo), window.unit_of(hi - 1))]
            return _NOT in window.seq[lo:hi] or any(window.seq[k] == _NOT for k in near)
        return _NOT not in window.seq[lo:hi]


def _cover(seq: Sequence[str], need: frozenset[str]) -> tuple[int, int]:
    """The shortest ``seq[lo:hi]`` holding every term of ``need``: where the claim's words are."""
    best, have, lo = (0, 0), Counter[str](), 0
    for hi, term in enumerate(seq, 1):
        if term in need:
            have[term] += 1
        while len(have) == len(need) and need:
            if best == (0, 0) or hi - lo < best[1] - best[0]:
                best = (lo, hi)
            if seq[lo] in have:
                have[seq[lo]] -= 1
                if not have[seq[lo]]:
                    del have[seq[lo]]
            lo += 1
    return best


@dataclass(frozen=True)
class Support:
    """Where a passage says a claim: ``passage.text[start:end]``."""

    number: int
    start: int
    end: int
    coverage: float  # 1.0 for a verbatim match
    verbatim: bool


class PassageIndex:
    """A passage in comparable form: normalised text with its offset map, and windows of one
    or two adjacent units with their terms. Built once per passage per answer."""

    def __init__(self, passage: Passage) -> None:
        self.passage = passage
        self.norm, self.where = _normalise(passage.text)
        self.units = units = _units(passage.text)
        # Instructions to a model hidden in the report (see ``is_instruction``) support nothing.
        self.blocked = [(a, b) for a, b in units if is_instruction(passage.text[a:b])]
        singles = [Window.of(passage.text, a, b) for a, b in units]
        windows = singles + [a | b for a, b in zip(singles, singles[1:])]
        self.windows = [w for w in windows if not self._blocked(w.start, w.end)]

    def _blocked(self, start: int, end: int) -> bool:
        return any(a < end and start < b for a, b in self.blocked)

    def verbatim(self, probe: Probe) -> Support | None:
        for form in probe.forms:
            at = _find_words(form, self.norm)
            while at >= 0:
                start, end = self.where[at], self.where[at + len(form) - 1] + 1
                if not self._blocked(start, end):
                    return Support(self.passage.number, start, _close(self.passage.text, start, end), 1.0, True)
                at = _find_words(form, self.norm, at + 1)
        return None

    def coverage(self, probe: Probe) -> tuple[float, float, tuple[int, int] | None]:
        """(best coverage of any window, best coverage of a window passing the number, negation
        and quotation gates, that window's span). Ties go to the shorter window."""
        if not probe.terms:
            return 0.0, 0.0, None
        quotes_ok = all(_find_words(q, self.norm) >= 0 for q in probe.quoted) and all(u in self.norm for u in probe.urls)
        raw, best = 0.0, (0.0, 0, None)
        for w in self.windows:
            score = len(probe.terms & w.terms) / len(probe.terms)
            raw = max(raw, score)
            if quotes_ok and score and probe.agrees(w):
                best = max(best, (score, w.start - w.end, (w.start, w.end)), key=lambda x: x[:2])
        return raw, best[0], best[2]

    def support(self, probe: Probe, threshold: float) -> Support | None:
        if found := self.verbatim(probe):
            return found
        if len(probe.terms) < MIN_COVERAGE_TERMS:
            return None
        _, score, span = self.coverage(probe)
        if span is None or score < threshold:
            return None
        start, end = _bare(self.passage.text, *span)
        return Support(self.passage.number, start, end, score, False)


def _close(text: str, start: int, end: int) -> int:
    """Take in the punctuation that ends the matched words, and a quotation mark or bracket
    that closes one opened inside them."""
    while end < len(text) and text[end] in ".!?;:":
        end += 1
    if end < len(text) and text[end] in "'\"’”)":
        inside = text[start:end]
        openers = {"'": "'‘", '"': '"“', "’": "'‘", "”": '"“', ")": "("}[text[end]]
        opened = sum(1 for k, c in enumerate(inside) if c in openers and (k == 0 or not inside[k - 1].isalnum()))
        closed = sum(1 for k, c in enumerate(inside) if c == text[end] and k and inside[k - 1].isalnum()
                     and (k + 1 == len(inside) or not inside[k + 1].isalnum()))
        if opened > closed:
            end += 1
    return end


def _bare(text: str, start: int, end: int) -> tuple[int, int]:
    """A quote span without surrounding whitespace or a leading bullet."""
    start, end = strip_span(text, start, end)
    if bullet := re.match(r"[-*•]\s+", text[start:end]):
        start += bullet.end()
    return start, end


# --- the draft -----------------------------------------------------------------------------

_HEADING = re.compile(r"(#{1,6})\s+\S")
_BOLD_LINE = re.compile(r"(?:\*\*[^*]+\*\*|__[^_]+__):?")
_MINOR = 7  # level of a heading that is not a markdown "#": it governs only what follows it


@dataclass
class _Claim:
    text: str  # as written, markers removed
    markers: list[int]
    supports: list[Support] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)  # its markers in the final answer


@dataclass
class _Line:
    kind: str  # "blank" | "structure" | "content"
    text: str = ""  # a structure line as written; a content line's bullet prefix
    level: int = _MINOR
    pieces: list[_Claim | str] = field(default_factory=list)  # a str is an uncited sentence


def _markers(text: str) -> list[int]:
    """Passage numbers a sentence cites, in order, once each; ``[2-4]`` is 2, 3 and 4."""
    numbers: list[int] = []
    for marker in _MARKER.finditer(text):
        for lo, hi in re.findall(r"(\d+)(?:\s*[-–]\s*(\d+))?", marker.group(0)):
            first = int(lo)
            for n in range(first, min(int(hi or lo), first + 20) + 1):
                if n not in numbers:
                    numbers.append(n)
    return numbers


def _without_markers(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(_MARKER.sub("", text).split()))


def _structure_level(line: str) -> int | None:
    """The level of a heading line without markers, or None if the line is not one."""
    stripped = line.strip()
    if m := _HEADING.match(stripped):
        return len(m.group(1))
    if _BOLD_LINE.fullmatch(stripped) or (stripped.endswith(":") and len(stripped.split()) <= 20):
        return _MINOR
    return None


def _parse(draft: str) -> list[_Line]:
    lines: list[_Line] = []
    for raw in draft.splitlines():
        if not raw.strip():
            lines.append(_Line("blank"))
            continue
        if not _MARKER.search(raw) and (level := _structure_level(raw)) is not None:
            lines.append(_Line("structure", raw.rstrip(), level))
            continue
        item = _BULLET.match(raw)
        prefix = raw[: item.end()] if item else ""
        body = raw[len(prefix) :]
        sentences = [body[a:b] for a, b in _sentence_spans(body)]
        if item and sum(bool(_MARKER.search(s)) for s in sentences) <= 1:
            sentences = [body.strip()]  # a bullet is one claim unless it cites per sentence
        line = _Line("content", prefix)
        for sentence in sentences:
            markers, text = _markers(sentence), _without_markers(sentence)
            if not any(c.isalnum() for c in text):
                continue
            line.pieces.append(_Claim(text, markers) if markers else text)
        lines.append(line)
    return lines


# --- verification --------------------------------------------------------------------------


@dataclass
class Verified:
    answer: str  # final text; markers renumbered 1..N in order of first appearance
    citations: list[Citation]  # one per marker, sorted by marker
    answered: bool  # True iff at least one supported claim survived
    report: dict  # {"claims", "supported", "removed", "reattributed", "threshold"}


def verify(
    draft: str,
    passages: Sequence[Passage],
    *,
    threshold: float = COVERAGE_THRESHOLD,
    reattribute: bool = True,
) -> Verified:
    """Keep the claims of ``draft`` that a given passage supports, each cited to exactly the
    words that support it; drop everything else. See the module docstring for the tests."""
    index = {p.number: PassageIndex(p) for p in passages}
    lines = _parse(draft)
    claims = [piece for line in lines for piece in line.pieces if isinstance(piece, _Claim)]
    reattributed = 0
    for claim in claims:
        probe = Probe.of(claim.text)
        cited = [n for n in claim.markers if n in index]
        claim.supports = [s for n in cited if (s := index[n].support(probe, threshold))]
        if not claim.supports and reattribute:
            found = [s for n, ix in index.items() if n not in cited and (s := ix.support(probe, threshold))]
            if found:
                claim.supports = [max(found, key=lambda s: (s.verbatim, s.coverage, -s.number))]
                reattributed += 1
    removed = [
        p if isinstance(p, str) else p.text
        for line in lines
        for p in line.pieces
        if isinstance(p, str) or not p.supports
    ]

    citations = _cite([c for c in claims if c.supports], {p.number: p for p in passages})
    answer = _render(lines)
    supported = sum(bool(c.supports) for c in claims)
    return Verified(
        answer=answer if supported else "",
        citations=citations,
        answered=bool(supported),
        report={
            "claims": len(claims),
            "supported": supported,
            "removed": removed,
            "reattributed": reattributed,
            "threshold": threshold,
        },
    )


_GAP = re.compile(r"[\s\-*•]*(?:\d+(?:\.\d+)*[.)]?\s+)?")  # whitespace, bullets, a list label


def _cite(claims: list[_Claim], passages: dict[int, Passage]) -> list[Citation]:
    """One citation per run of touching spans in one passage, numbered by first appearance;
    sets each claim's ``marks``."""
    runs: dict[Support, list[int]] = {}  # each support -> the [start, end] of its run, shared
    for number in {s.number for c in claims for s in c.supports}:
        text, run = passages[number].text, None
        for s in sorted({s for c in claims for s in c.supports if s.number == number}, key=lambda s: (s.start, s.end)):
            if run and (s.start <= run[1] or _GAP.fullmatch(text, run[1], s.start)):
                run[1] = max(run[1], s.end)
            else:
                run = [s.start, s.end]
            runs[s] = run

    numbering: dict[int, int] = {}  # id(run) -> marker
    citations = []
    for claim in claims:
        for s in claim.supports:
            run = runs[s]
            if id(run) not in numbering:
                numbering[id(run)] = n = len(numbering) + 1
                p = passages[s.number]
                citations.append(Citation(n, p, p.text[run[0] : run[1]], p.start + run[0], p.start + run[1]))
            if numbering[id(run)] not in claim.marks:
                claim.marks.append(numbering[id(run)])
    return citations


def _render(lines: list[_Line]) -> str:
    """The surviving claims with their new markers; a heading only if a claim under it survives
    (before the next heading of its level or above); single blank lines between blocks."""
    rendered: list[str | None] = []  # None stands for a blank line
    for line in lines:
        if line.kind == "content":
            kept = [
                f"{inert(p.text)} " + "".join(f"[{n}]" for n in p.marks)
                for p in line.pieces
                if isinstance(p, _Claim) and p.marks
            ]
            rendered.append(line.text + " ".join(kept) if kept else "")
        elif line.kind == "structure":
            rendered.append("")  # decided below
        else:
            rendered.append(None)
    for i, line in enumerate(lines):
        if line.kind != "structure":
            continue
        for later, text in zip(lines[i + 1 :], rendered[i + 1 :]):
            if later.kind == "structure" and later.level <= line.level:
                break
            if later.kind == "content" and text:
                rendered[i] = line.text
                break
    out: list[str] = []
    for text in rendered:
        if text is None:
            if out and out[-1]:
                out.append("")
        elif text:
            out.append(text)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)
