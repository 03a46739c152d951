"""Read the seven attribute severities out of a free-text colour-difference description.

    from cdreasoning.data.severity_parser import parse_severities
    parse_severities("Slight variations in white balance, moderate color contrast. Dark details show "
                     "moderate distinctions, light details also have slight variations.")
    # {'white_balance': 'slight', 'color_contrast': 'moderate', 'dark_details': 'moderate',
    #  'bright_details': 'slight'}

The M-SPCD depict task asks for a severity (slight / moderate / severe) of seven attributes (white balance,
brightness/contrast, color contrast, overall brightness, overall color, dark details, bright details). Humans
and models answer in free prose, so the parser works on *mentions*, not on a template:

1. Normalise: lower case, British "colour" → "color", markdown (bold, bullets, headings, tables) stripped,
   a space restored after punctuation ("color.Dark details"), severity words glued to the next word split
   ("slightdifferences"), the scale enumeration "(slight, moderate, severe)" of the question removed (it is
   the scale, not a rating).
2. Find attribute mentions by their names and common paraphrases ("brightness contrast", "shadow details",
   "highlight details", "details in the shadows", ...). Overlapping candidates resolve to the longest, so
   "overall brightness", "brightness contrast", "color contrast" and "overall color" never bleed into each
   other. Find severity mentions: slight / moderate / severe and their adverbs (slightly, ...); one preceded
   by a negation ("not severe", "rather than slight") does not count.
3. Cut the text into pieces at commas, "and", "while", "but", ";", sentence ends and line breaks. An attribute
   takes the severity of its own piece. Within a piece, severities pair with attributes by reading order:
   "slight white balance" (severity first) and "white balance: slight", "white balance differs slightly"
   (severity after) both work, as do "A and B are both slight" and "slight differences in A and B".
   A piece naming attributes but no severity borrows one only where the grammar is unambiguous: a shared
   predicate after a list ("A, B and C are slight"), a shared head before it ("slight differences in A,
   B and C"), or a bare severity right after ("White balance, slight" / a heading line "White balance"
   followed by "Slight."). "... respectively" pairs attributes and severities in order.
4. An explicit label ("Severity: moderate") with no attribute in its piece rates the attributes named since
   the previous label (bullets such as "White balance: the second image is cooler. Severity: moderate").
5. An attribute rated twice with different severities is a conflict and, like an attribute with no
   severity, is left out. Nothing is guessed: a missing attribute is absent from the result.

`parse_severities_detailed` also returns the attributes that were mentioned without a usable severity and
those with conflicting severities (the description report counts them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cdreasoning.constants import ATTRIBUTES, SEVERITIES

__all__ = ["SeverityParse", "parse_severities", "parse_severities_detailed"]


@dataclass(frozen=True)
class SeverityParse:
    """Everything the parser found in one text.

    severities: attribute → severity, only for attributes rated exactly one way.
    unrated: attributes mentioned but with no usable severity (absent from `severities`).
    conflicting: attributes given different severities in different places (absent from `severities`).
    """

    severities: dict[str, str]
    unrated: tuple[str, ...] = ()
    conflicting: tuple[str, ...] = ()
    mentioned: tuple[str, ...] = field(default=())


def parse_severities(text: str) -> dict[str, str]:
    """`{attribute: severity}` for the attributes the text rates unambiguously (see the module docstring)."""
    return parse_severities_detailed(text).severities


# --- 1. normalisation ---------------------------------------------------------------------------------------

_SEVERITY_STEMS = SEVERITIES  # ("slight", "moderate", "severe")
# Endings that make a real word of a severity stem ("slightly", "slightest", "moderated", "severer");
# anything else glued to a stem is a missing space ("slightdifferences").
_STEM_ENDINGS = {"ly", "est", "er", "r", "st", "ness", "s", "d"}

_BULLET = re.compile(r"^[ \t]*(?:[-*+•·▪►]|\d{1,2}[.)]|[a-g][.)]|#{1,6})[ \t]+", re.MULTILINE)
_SCALE_ENUMERATION = re.compile(
    r"\(?\s*(?:slight|mild)\s*(?:,|/|\bor\b)\s*moderate\s*,?\s*(?:/|\bor\b|\band\b)?\s*severe\s*\)?"
)

# "dark and bright details", "highlight/shadow details": one noun shared by two attributes.
_SHARED_DETAILS = re.compile(
    r"\b(dark|darker|shadows?|bright|brighter|light|lighter|highlights?)\s*(and|&|/|or)\s*"
    r"(dark|darker|shadows?|bright|brighter|light|lighter|highlights?)\s+(details?)\b"
)


def _unglue(match: re.Match) -> str:
    stem, rest = match.group(1), match.group(2)
    if rest in _STEM_ENDINGS:
        return match.group(0)
    if rest.startswith("ly") and len(rest) > 4:  # "slightlydifferent"
        return f"{stem}ly {rest[2:]}"
    return f"{stem} {rest}"


def _normalise(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"expected a description string, got {type(text).__name__}")
    t = text.replace("\r\n", "\n").replace("\r", "\n")
    t = t.translate(
        str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "\u00a0": " "})
    )
    t = t.lower()
    t = re.sub(r"colour", "color", t)
    t = re.sub(r"\b(e\.g|i\.e|etc|vs)\.", lambda m: m.group(1).replace(".", ""), t)
    t = _BULLET.sub("\n", t)  # a bullet or heading starts a new line (a piece boundary)
    t = re.sub(r"[*`\"|>\[\]{}]", " ", t)  # markdown emphasis, quotes, tables, JSON brackets
    t = t.replace("_", " ")  # "white_balance": "slight" (JSON-ish answers) → white balance: slight
    t = re.sub(r"([.,;:!?])(?=[a-z(])", r"\1 ", t)  # "color.Dark details" → "color. dark details"
    t = re.sub(r"\b(slight|moderate|severe)([a-z]+)", _unglue, t)
    t = _SCALE_ENUMERATION.sub(" . ", t)  # the end of an echoed question: nothing shares a rating across it
    t = _SHARED_DETAILS.sub(r"\1 \4 \2 \3 \4", t)  # "dark and bright details" → both attributes
    t = re.sub(r"[ \t]+", " ", t)
    return t


# --- 2. mentions --------------------------------------------------------------------------------------------

_AREA = r"(?:[\s-]+(?:area|region|part|tone|portion|zone)s?)?"
_ATTRIBUTE_PATTERNS: dict[str, tuple[str, ...]] = {
    "white_balance": (r"\bwhite[\s-]*balances?\b", r"\bwb\b"),
    "brightness_contrast": (
        r"\bbrightness\s*(?:/|&|\+|-|\band\b|\bor\b)?\s*contrasts?\b",
        r"\b(?:luminance|lightness|tonal|tone)\s*(?:/|-)?\s*contrasts?\b",
        r"\bcontrasts?\s+(?:of|in)\s+(?:the\s+)?(?:brightness|luminance|lightness)\b",
    ),
    "color_contrast": (
        r"\bcolor[\s-]*contrasts?\b",
        r"\bchroma(?:tic)?\s+contrasts?\b",
        r"\bcontrasts?\s+(?:of|in|between)\s+(?:the\s+)?colors?\b",
    ),
    "overall_brightness": (
        r"\b(?:overall|global|general|average|mean)\s+(?:image\s+)?(?:brightness|luminance|lightness|exposure)\b",
        r"\b(?:brightness|luminance|lightness)\s+overall\b",
    ),
    "overall_color": (
        r"\b(?:overall|global|general)\s+(?:image\s+)?(?:colors?|hues?|tints?|chroma|chromaticity)\b",
        r"\bcolors?\s+overall\b",
    ),
    "dark_details": (
        rf"\b(?:dark|darker|darkest|shadow|shadows|shade|shaded|low[\s-]*light){_AREA}[\s-]*details?\b",
        r"\bdetails?\s+(?:in|of|within)\s+(?:the\s+)?(?:dark|darker|shadow|shade)(?:s\b|\w*)" + _AREA,
    ),
    "bright_details": (
        rf"\b(?:bright|brighter|brightest|light|lighter|highlights?|high[\s-]*lights?){_AREA}[\s-]*details?\b",
        r"\bdetails?\s+(?:in|of|within)\s+(?:the\s+)?(?:bright|brighter|light|lighter|highlights?)\b" + _AREA,
    ),
}
_ATTRIBUTE_REGEXES = [(attr, re.compile(p)) for attr, pats in _ATTRIBUTE_PATTERNS.items() for p in pats]
assert {attr for attr, _ in _ATTRIBUTE_REGEXES} == set(ATTRIBUTES)

_SEVERITY = re.compile(r"\b(slight|moderate|severe)(?:ly|est|er|r|st)?\b")
# A severity word within three words after one of these does not rate anything ("not severe", "rather
# than slight", "isn't moderate").
_NEGATION = re.compile(
    r"(?:\bnot|\bno|\bnever|\bnor|\bwithout|\bneither|n't|\bthan|\binstead of)"
    r"(?:\s+(?!slight|moderate|severe|but\b|and\b)\S+){0,2}\s*$"
)
# "severity: moderate", "severity level - slight", "rating = severe": an explicit label.
_LABEL = re.compile(r"\b(?:severity|level|rating|degree|grade)(?:\s+level)?\s*(?:[:=-]|\bis\b)\s*$")


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    kind: str  # "attr" or "sev"
    value: str  # attribute name or severity
    label: bool = False  # a severity written as an explicit label ("severity: moderate")


def _attribute_mentions(text: str) -> list[_Mention]:
    candidates = [
        _Mention(m.start(), m.end(), "attr", attr)
        for attr, rx in _ATTRIBUTE_REGEXES
        for m in rx.finditer(text)
    ]
    # Longest first, then leftmost: overlapping shorter candidates are dropped ("overall color contrast" is
    # color contrast, "overall brightness contrast" is brightness contrast).
    candidates.sort(key=lambda m: (-(m.end - m.start), m.start))
    chosen: list[_Mention] = []
    for cand in candidates:
        if all(cand.end <= c.start or cand.start >= c.end for c in chosen):
            chosen.append(cand)
    return sorted(chosen, key=lambda m: m.start)


def _severity_mentions(text: str, attributes: list[_Mention]) -> list[_Mention]:
    found = []
    for m in _SEVERITY.finditer(text):
        if any(a.start <= m.start() < a.end for a in attributes):
            continue
        before = text[max(0, m.start() - 40) : m.start()]
        # Only look back within the current clause.
        before = re.split(r"[.,;:!?\n]", before)[-1]
        if _NEGATION.search(before):
            continue
        label = bool(_LABEL.search(text[max(0, m.start() - 30) : m.start()]))
        found.append(_Mention(m.start(), m.end(), "sev", m.group(1), label))
    return found


# --- 3. pieces ----------------------------------------------------------------------------------------------

# Boundaries between pieces, by strength: "hard" ends a sentence, "line" a line, "strong" a contrasting
# conjunction (a shared predicate never crosses it), "soft" a list separator.
_BOUNDARY = re.compile(
    r"(?P<hard>[.!?]+(?=\s|$))|(?P<line>\n+)|(?P<strong>;|\b(?:while|whilst|whereas|but|although|though|yet|"
    r"however|meanwhile)\b)|(?P<soft>,|&|\b(?:and|or|plus|along with|as well as)\b)"
)


@dataclass
class _Piece:
    mentions: list[_Mention]
    boundary_before: str  # "start", "hard", "line", "strong", "soft"
    text: str

    @property
    def attrs(self) -> list[_Mention]:
        return [m for m in self.mentions if m.kind == "attr"]

    @property
    def sevs(self) -> list[_Mention]:
        return [m for m in self.mentions if m.kind == "sev"]


def _pieces(text: str, mentions: list[_Mention]) -> list[_Piece]:
    attr_spans = [(m.start, m.end) for m in mentions if m.kind == "attr"]
    cuts = [
        (b.start(), b.end(), b.lastgroup)
        for b in _BOUNDARY.finditer(text)
        if not any(s <= b.start() < e for s, e in attr_spans)  # the "and" of "brightness and contrast"
    ]
    pieces: list[_Piece] = []
    start, kind = 0, "start"
    for cut_start, cut_end, cut_kind in cuts + [(len(text), len(text), "hard")]:
        inside = [m for m in mentions if start <= m.start < cut_start]
        chunk = text[start:cut_start]
        if inside or chunk.strip():
            pieces.append(_Piece(inside, kind, chunk))
            kind = cut_kind
        else:  # nothing between two cuts (", and", ".\n"): the stronger cut separates the neighbours
            kind = kind if _STRENGTH[kind] >= _STRENGTH[cut_kind] else cut_kind
        start = cut_end
    return pieces


_STRENGTH = {"start": 4, "hard": 3, "line": 2, "strong": 1, "soft": 0}


# --- assignment ---------------------------------------------------------------------------------------------


def _assign_group(mentions: list[_Mention], out: dict[int, str]) -> None:
    """Pair attributes with severities inside one group of mentions (in reading order)."""
    attrs = [m for m in mentions if m.kind == "attr"]
    sevs = [m for m in mentions if m.kind == "sev"]
    if not attrs or not sevs:
        return
    if len({s.value for s in sevs}) == 1:
        for a in attrs:
            out[a.start] = sevs[0].value
        return
    # Several different severities: group runs. Severity-first text ("slight A, moderate B") pairs each run
    # of attributes with the severities before it; attribute-first text ("A is slight, B moderate") with
    # the severities after it. A run whose severities disagree stays unrated.
    runs: list[tuple[str, list[_Mention]]] = []
    for m in sorted(mentions, key=lambda m: m.start):
        if runs and runs[-1][0] == m.kind:
            runs[-1][1].append(m)
        else:
            runs.append((m.kind, [m]))
    severity_first = runs[0][0] == "sev"
    for i, (kind, run) in enumerate(runs):
        if kind != "attr":
            continue
        j = i - 1 if severity_first else i + 1
        if 0 <= j < len(runs) and runs[j][0] == "sev":
            values = {s.value for s in runs[j][1]}
            if len(values) == 1:
                value = next(iter(values))
                for a in run:
                    out[a.start] = value


def _assign_sentence(pieces: list[_Piece], out: dict[int, str]) -> None:
    """Assign severities inside one sentence (pieces between hard boundaries)."""
    text = " ".join(p.text for p in pieces)
    if re.search(r"\brespectively\b", text):
        attrs = [m for p in pieces for m in p.attrs]
        sevs = [m for p in pieces for m in p.sevs]
        if len(attrs) == len(sevs):
            for a, s in zip(attrs, sevs):
                out[a.start] = s.value
        return
    # Union pieces into groups: orphan pieces (attributes, no severity) join a neighbour where the grammar
    # is unambiguous.
    parent = list(range(len(pieces)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    def orphan(i: int) -> bool:
        return bool(pieces[i].attrs) and not pieces[i].sevs

    i = 0
    while i < len(pieces):
        if not orphan(i):
            i += 1
            continue
        j = i  # extend the chain of orphans joined by soft boundaries
        while j + 1 < len(pieces) and orphan(j + 1) and pieces[j + 1].boundary_before == "soft":
            j += 1
        prev = pieces[i - 1] if i > 0 and pieces[i].boundary_before == "soft" else None
        nxt = pieces[j + 1] if j + 1 < len(pieces) else None
        nxt_boundary = nxt.boundary_before if nxt is not None else None
        forward = (
            nxt is not None
            and nxt_boundary == "soft"
            and nxt.sevs
            and nxt.mentions[0].kind == "attr"  # "A, B and C are slight"
        )
        bare_severity_after = (
            nxt is not None
            and i == j
            and nxt_boundary in ("soft", "strong", "line")
            and nxt.sevs
            and not nxt.attrs
            and len({s.value for s in nxt.sevs}) == 1  # "White balance, slight" / heading then "Slight."
        )
        backward = (
            prev is not None
            and prev.sevs
            and prev.mentions[-1].kind == "attr"
            and prev.mentions[0].kind == "sev"  # "slight differences in A, B and C"
        )
        if (forward or bare_severity_after) and not backward:
            for k in range(i, j + 1):
                union(k, j + 1)
        elif backward and not (forward or bare_severity_after):
            for k in range(i, j + 1):
                union(k, i - 1)
        i = j + 1
    groups: dict[int, list[_Mention]] = {}
    for k, piece in enumerate(pieces):
        groups.setdefault(find(k), []).extend(piece.mentions)
    for mentions in groups.values():
        _assign_group(sorted(mentions, key=lambda m: m.start), out)


def _sentences(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Sentences for assignment. Line breaks end a sentence, but a bare-severity line after an attribute
    line stays joined (a heading "White balance" followed by "Slight.")."""
    sentences: list[list[_Piece]] = []
    for piece in pieces:
        if (
            not sentences
            or piece.boundary_before in ("start", "hard")
            or (piece.boundary_before == "line" and not (piece.sevs and not piece.attrs))
        ):
            sentences.append([piece])
        else:
            sentences[-1].append(piece)
    return sentences


def parse_severities_detailed(text: str) -> SeverityParse:
    """Like `parse_severities`, also listing attributes mentioned without a usable or consistent severity."""
    norm = _normalise(text)
    attributes = _attribute_mentions(norm)
    severities = _severity_mentions(norm, attributes)
    mentions = sorted(attributes + severities, key=lambda m: m.start)
    pieces = _pieces(norm, mentions)

    assigned: dict[int, str] = {}  # attribute mention start → severity
    for sentence in _sentences(pieces):
        _assign_sentence(sentence, assigned)

    # Explicit labels in a piece of their own rate the attributes named since the previous label.
    piece_of = {m.start: p for p in pieces for m in p.mentions}
    last_label_end = -1
    for sev in severities:
        if not sev.label:
            continue
        if not piece_of[sev.start].attrs:
            in_range = [a for a in attributes if last_label_end <= a.start < sev.start]
            unrated = [a for a in in_range if a.start not in assigned]
            if unrated:
                for a in unrated:
                    assigned[a.start] = sev.value
            elif len({a.value for a in in_range}) == 1:
                for a in in_range:
                    assigned[a.start] = sev.value  # the explicit label overrides the prose
        last_label_end = sev.end

    values: dict[str, set[str]] = {}
    for a in attributes:
        if a.start in assigned:
            values.setdefault(a.value, set()).add(assigned[a.start])
    result = {attr: next(iter(values[attr])) for attr in ATTRIBUTES if len(values.get(attr, ())) == 1}
    mentioned = tuple(attr for attr in ATTRIBUTES if any(a.value == attr for a in attributes))
    conflicting = tuple(attr for attr in ATTRIBUTES if len(values.get(attr, ())) > 1)
    unrated = tuple(attr for attr in mentioned if attr not in values)
    return SeverityParse(result, unrated=unrated, conflicting=conflicting, mentioned=mentioned)
