"""Whether a PERSON span names a private person: the context rules shared by NER post-processing and the
name recognizers.

A capitalised run of words is a personal name only in the right place. Not a private person's name:

* someone acting in a professional role: a judge's or counsel's post-nominal after it (``Cobb J``,
  ``Mr Smith QC``), a judicial title before it (``Master Cook``, ``Lord Reed``), a counsel or representative
  line around it (``(instructed by ...)``, ``appeared on behalf of``, ``For the Respondent:``), a judges' list
  under a ``Before:`` heading;
* an organisation: an organisation word after it (``Smith Jones Solicitors``, ``Khan Reed LLP``, ``North America
  Corp``), a school word in it (``Lincoln Elementary``), the tail of a title-case name with "of"/"for" in it
  (``Commissioners for Her Majesty's Revenue and Customs``);
* a heading: a title-case heading line, or a capitals word before a title-case word (``LEEDS Judgment``);
* a word of another kind: a sentence adverb (``Tragically,``), a nationality or other word after a determiner
  (``the French``, ``the Germans``, ``a Brother``), a demonym shape (``Japanese``, ``Italians``), a role word
  (``the Claimant``, ``the Husband``), a word in a font or style specification;
* a party in the citation of another case (``Ficcara v James [2005] ...``).

All checks are local (the span, its line and a few words around it) and compiled once.
"""

from __future__ import annotations

import regex

from detectors.recognizers.business import ORG_AFTER, ORG_FORMS, ORG_NAME

# Post-nominals of counsel and judges: "Mr Smith QC", "Cobb J", "Sir Julian Flaux C", "Moylan LJ".
POST_NOMINAL = r"(?-i:QC|KC|SC|JSC|SCJ|LJ|LJJ|JJ|MR|LCJ|VC|V-C|PFD|PQBD|J|C|P)(?![\w\-])"
_PROFESSIONAL_AFTER = regex.compile(
    rf"[ \t]*(?:,[ \t]*)?(?:\((?:instructed|of[ \t]+counsel|counsel)|{POST_NOMINAL})"
    r"|[ \t]+(?:of[ \t]+counsel|instructed[ \t]+by|sitting[ \t]+as"
    r"|appear(?:ed|ing|s)[ \t]+(?:for|on[ \t]+behalf))",
    regex.IGNORECASE,
)
# A line that lists people in a professional role: counsel, solicitors, representatives.
_PROFESSIONAL_LINE = regex.compile(
    r"(?<![\w])(?:instructed[ \t]+by|(?:of|as)[ \t]+counsel|counsel[ \t]+(?:for|to)|solicitors?[ \t]+for"
    r"|appeared[ \t]+(?:on[ \t]+behalf|for)|appearing[ \t]+(?:on[ \t]+behalf|for)|on[ \t]+behalf[ \t]+of[ \t]+the"
    r"|sitting[ \t]+as|(?:^|\n)[ \t]*before[ \t]*:"
    r"|via[ \t]+(?:his|her|their|the)[ \t]+(?:children['’]s[ \t]+)?guardian|children['’]s[ \t]+guardian"
    r"|(?:^|[\n(])[ \t]*for[ \t]+the[ \t]+(?:first[ \t]+|second[ \t]+|third[ \t]+)?(?:appellant|respondent|claimant"
    r"|defendant|applicant|crown|intervener|petitioner|prosecution|secretary[ \t]+of[ \t]+state)s?)",
    regex.IGNORECASE,
)
_BEFORE_HEADING = regex.compile(r"^[ \t]*(?i:before)[ \t]*:?[ \t]*$")
_BETWEEN_HEADING = regex.compile(r"^[ \t]*(?i:between|and|-[ \t]*and[ \t]*-|re|in[ \t]+the[ \t]+matter)\b")


def professional_context(text: str, start: int, end: int, *, judges_list: bool = True) -> bool:
    """The name at ``text[start:end]`` is of someone acting in a professional role, not a private person:
    a judge's or counsel's post-nominal after it, a counsel or representative line around it ("(instructed
    by ...)", "appeared on behalf of", "For the Respondent:"), or a judges' list under a "Before:" heading."""
    if _PROFESSIONAL_AFTER.match(text, end):
        return True
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    if _PROFESSIONAL_LINE.search(line):
        return True
    if not judges_list:
        return False
    if "efore" not in text[max(0, line_start - 600) : line_start] and "EFORE" not in text[
            max(0, line_start - 600) : line_start]:
        return False
    pos, seen = line_start - 1, 0
    while pos > 0 and seen < 8:  # the lines above, up to a "Before:" heading or a parties heading
        s = text.rfind("\n", 0, pos) + 1
        above = text[s:pos]
        pos = s - 1
        if not above.strip():
            continue
        seen += 1
        if _BEFORE_HEADING.match(above):
            return True
        if _BETWEEN_HEADING.match(above) or len(above.strip()) > 60:
            return False
    return False


JUDICIAL_WORDS = frozenset({"justice", "judge", "recorder", "registrar", "master", "deputy", "district",
                             "circuit", "chief", "costs", "senior", "president", "chancellor", "coroner"})
# After a "Re:" name: "(A Child)", "(DOB 8 May 2016)", "(aged 7)", "(No 2)", ", born ...": a case heading.
CASE_HEADING_SUFFIX = regex.compile(
    r"[ \t]*(?:\([^)\n]{1,40}\)|[,\-–][ \t]*(?i:born|dob|d\.o\.b|date[ \t]+of[ \t]+birth|aged)\b)"
)
_WORDS_RE = regex.compile(r"[\p{L}'’\-]+")
_FUNCTION_WORDS = frozenset({"a", "an", "the", "of", "and", "or", "for", "to", "in", "on", "at", "by", "with",
                             "from", "&", "de", "van", "von", "la", "le"})


# The name is the tail of a longer title-case name with "of"/"for"/"'s" in it: an institution, not a person.
_ORG_CHAIN_BEFORE = regex.compile(
    r"\p{Lu}[\p{L}\-]*(?:['’]s)?[ \t]+(?:(?:of|for|the|and|&|\p{Lu}[\p{L}\-]*(?:['’]s)?)[ \t]+)*"
    r"(?:and|&|of|for)[ \t]+$"
)


_OF_OR_POSSESSIVE = regex.compile(r"(?<![\w])(?:of|for)(?![\w])|['’]s(?![\w])")


def org_chain(before: str) -> bool:
    """Whether ``before`` ends in a title-case chain joined by "and"/"of"/"for" that holds "of", "for" or "'s"."""
    if not any(w in before for w in (" of ", " for ", "'s ", "’s ")):
        return False
    m = _ORG_CHAIN_BEFORE.search(before)
    if m is None:
        return False
    chain = m.group()
    return bool(_OF_OR_POSSESSIVE.search(chain))


_VERSUS = regex.compile(r"[ \t]v\.?[ \t]")


def heading_line(text: str, start: int, end: int) -> bool:
    """The line around ``text[start:end]`` is a title-case heading (``Mother Superior Gift Sets``), not prose:
    four or more words, every content word capitalised, no sentence punctuation. A case title (parties in
    brackets, "v") is not a heading: its names are the parties'."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end].strip()
    if any(c in line for c in ":(|") or line.endswith((".", ",", ";")) or _VERSUS.search(line):
        return False
    words = [w for w in _WORDS_RE.findall(line) if w.lower() not in _FUNCTION_WORDS]
    return len(words) >= 4 and all(w[:1].isupper() for w in words)



# The word right before a span, and whether it follows a word or comma (not the start of a sentence or line).
_PREV_WORD = regex.compile(r"(?P<lead>[\p{L},][ \t]+)?(?P<word>\p{Lu}[\p{L}'’]*)[ \t]+$")
# Names take no article ("the late John Smith" aside); "that" is left out (a conjunction: "note that Amelia").
_DETERMINER_BEFORE = regex.compile(r"(?<![\w])(?i:the|a|an)[ \t]+$")
_DETERMINER_BEFORE_WORD = regex.compile(r"(?<![\w])(?i:the|a|an|this|these|those|every|each|any|some)[ \t]+$")
_AGE_OF_BEFORE = regex.compile(r"(?<![\w])\d{1,3}[ \t]*,?[ \t]+(?i:of|from)[ \t]+$")
_ADVERB = regex.compile(
    r"(?i:ally|ully|ously|ively|ately|edly|ingly|antly|ently|ibly|ably|ssly|ctly|rly|dly|tly|sly|nly)$"
)
# Plural nationality nouns ("Italians", "Germans"); singular demonym shapes (-ish, -ese, -ian) are names too
# often (Eilish, Therese, Julian), so those are left to the determiner rule ("the French", "the Polish").
_DEMONYM = regex.compile(r"\w{4,}(?:ians|eans|ans)")
_SCHOOL = regex.compile(
    r"(?<![\w])(?-i:Elementary|Primary|Secondary|Grammar|Comprehensive|Montessori|Kindergarten|Preschool"
    r"|Infants|High[ \t]+School|Middle[ \t]+School|Sixth[ \t]+Form)(?![\w])"
)
_STYLE_LINE = regex.compile(
    r"(?i:font-(?:family|face|size)|font[ \t]*:|typeface|face=|style=|mso-|\{[^}\n]*:[^}\n]*\})"
    r"|(?<![\w.])\d{1,2}(?:\.\d)?(?:pt|px)(?![\w])"
)
_FONT_AFTER = regex.compile(r"[^\n.;]{0,25}?(?<![\w])(?i:font|fonts|typeface|typefaces)(?![\w])")
_CITATION_AFTER = regex.compile(
    r"[ \t]+v\.?[ \t]+[^\n]{0,80}?[\[(]\d{4}[\])]|[ \t]*[\[(]\d{4}[\])][ \t]*\d*[ \t]*\p{Lu}"
)
_CITATION_BEFORE = regex.compile(r"[ \t]v\.?[ \t]+$")
_YEAR_SOON = regex.compile(r"[^\n]{0,40}?[\[(]\d{4}[\])]")
_COMMA_CAPITAL = regex.compile(r"[ \t]*,[ \t]*\p{Lu}")
_NUMBER_BEFORE = regex.compile(r"\d[a-zA-Z]?[ \t]+$")
_CAPS_THEN_TITLE = regex.compile(r"(?<![\w])\p{Lu}{2,}[ \t]+\p{Lu}\p{Ll}")
_JUDICIAL_TITLE_BEFORE = regex.compile(
    r"(?:(?<![\w])|(?<=\p{Ll}))(?:(?:Deputy|Chief|Senior|Costs|Taxing)[ \t]+)?"
    r"(?:Master|Lord|Lady|Justice|Judge|HHJ|DJ|DDJ|Recorder|Registrar|Baroness|Baron|Viscount|Earl)\.?[ \t]+$"
)


# What follows a capitalised run shows it names a place or a thing: "Thomas More Building", "Hilary Term".
_THING_AFTER = regex.compile(
    rf"(?:[ \t]+\p{{Lu}}[\p{{L}}'’\-]*){{0,3}}[ \t]+(?-i:(?:{ORG_FORMS})|Building|Buildings|House|Hall|Tower|Centre"
    r"|Center|Courts?|Term|Sittings|Prize|Award|Lecture|Fund|Scheme|Project|Programme|Street|Road|Avenue)(?![\w])"
)
_STREET_TAIL = regex.compile(
    r"(?-i:Road|Street|Avenue|Lane|Drive|Crescent|Terrace|Gardens|Mews|Square|Place|Grove|Parade|Boulevard"
    r"|Rd|St|Ave)"
)
# Inside a neutral citation: "[2022] EWHC 2363 (Pat)", "[2019] EWCA Civ 1599".
_NEUTRAL_CITATION_BEFORE = regex.compile(r"\[\d{4}\][ \t]*\p{Lu}{2,}[ \t]*(?:\p{L}+[ \t]+)?\d+[ \t]*\($")


def person_span_problem(
    text: str, start: int, end: int, roles: frozenset[str] = frozenset(), common: frozenset[str] = frozenset()
) -> str:
    """Why ``text[start:end]``, a PERSON span (NER's, after trimming), is not a private person's name; ""
    when nothing says so. ``roles`` are family and party role words, ``common`` words that are not names (both
    lower case)."""
    span = text[start:end]
    words = span.split()
    single = len(words) == 1
    before = text[max(0, start - 40) : start]
    prev = _PREV_WORD.search(before)
    if prev and prev.group("word").lower() in common and prev.group("word")[:1].isupper() and prev.group("lead"):
        return "inside a title-case phrase"  # "Brother, Where Art Thou": a title, not "Art Thou"
    if words[0].strip(".,").lower() in JUDICIAL_WORDS:
        return "judicial title"  # "Recorder Hellens", "Judge Smith"
    if _NEUTRAL_CITATION_BEFORE.search(before):
        return "neutral citation"
    if _STREET_TAIL.fullmatch(words[-1].strip(".,")) and len(words) > 1 and (
            _COMMA_CAPITAL.match(text, end) or _NUMBER_BEFORE.search(before)):
        return "street"  # "Fetter Lane, London"
    if _THING_AFTER.match(text, end):
        return "name of a place or thing"  # "Thomas More Building", "Hilary Term"
    if (_DETERMINER_BEFORE_WORD if single else _DETERMINER_BEFORE).search(before):
        return "after a determiner"  # "the French", "The Associated Press", "a Brother printer"
    if _AGE_OF_BEFORE.search(before):
        return "a place after an age"  # "Michael Chen, 28, of Sugar Land"
    if single:
        w = words[0].strip(".,'’")
        if w.lower() in roles:
            return "role word"
        if _ADVERB.search(w) and len(w) >= 5 and text[end : end + 1] in (",", ""):
            return "sentence adverb"
        if _DEMONYM.fullmatch(w) and not w[:1].islower():
            return "demonym"
        if _JUDICIAL_TITLE_BEFORE.search(before):
            return "judicial title"
    if _CAPS_THEN_TITLE.search(span):
        return "capitals word before a title-case word (heading)"
    if ORG_AFTER.match(text, end) or any(ORG_NAME.fullmatch(w.strip(".,")) for w in words):
        return "organisation"
    if _SCHOOL.search(span) or _SCHOOL.match(text, end + 1):
        return "school"
    if org_chain(before):
        return "tail of an organisation's name"
    if professional_context(text, start, end):
        return "professional role"
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    if heading_line(text, start, end):
        return "heading line"
    if _STYLE_LINE.search(line) or _FONT_AFTER.match(text, end):
        return "font or style"
    if _CITATION_AFTER.match(text, end) or (_CITATION_BEFORE.search(before) and _YEAR_SOON.match(text, end)):
        return "case citation"
    return ""
