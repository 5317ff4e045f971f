"""Business furniture: signs that an address, account or number belongs to an organisation, not a person.

Signatures, letterheads, law-firm blocks, invoices and newsletter footers carry addresses and bank details that
are an organisation's, and sensitivity must not read them as someone's home or account. The signs are
structural and generic, never particular names:

* on the address itself: a suite, floor, unit, building, PO box, DX or mail-stop part;
* an organisation's name on the same line before it, or on the line or two above it (a legal-form or
  institution word: ``Ltd``, ``LLP``, ``Inc``, ``Corp``, ``Council``, ``Trust``, ``University``, ``Solicitors``...);
* website, fax, DX or switchboard lines right next to it (contact blocks of organisations);
* footer language around it (unsubscribe, copyright, registered office, company or VAT number, c/o).

A home cue introducing the address (``lives at``, ``her address is``, ``moved to``) always wins over all of
these except the address's own parts (nobody lives at "Suite 400").
"""

from __future__ import annotations

import regex

# Legal forms and institution types that end (or make up) an organisation's name. Capitalised as printed.
ORG_FORMS = (
    r"Ltd|Limited|PLC|Plc|plc|LLP|LLC|L\.L\.C|LP|L\.P|Inc|Incorporated|Corp|Corporation|Company|GmbH|AG|SA|S\.A"
    r"|SARL|BV|B\.V|NV|N\.V|Pty|Pte|SpA|S\.p\.A|KK|Group|Holdings|Partners|Partnership|Associates|Solicitors"
    r"|Chambers|Barristers|Attorneys|Lawyers|Accountants|Consultants|Consulting|Council|Trust|Foundation"
    r"|University|College|School|Academy|Institute|Hospital|Clinic|Surgery|Practice|Centre|Center|Bank|Agency"
    r"|Authority|Department|Ministry|Office|Services|Association|Society|Federation|Church|Tribunal|Tribunals"
    r"|Police|Constabulary|NHS|HMCTS|Media|Industries|International|Enterprises|Ventures|Systems|Technologies"
    r"|Solutions|Networks|Labs|Studios|Publishing|Committee|Commission|Registry|Hotel|Restaurant|Motors"
    r"|Estates|Lettings|Insurance|Finance|Capital|Investments|Energy|Telecom|Airlines"
)
# The one-word forms, lower case (names in capitals on court title pages are compared in lower case).
ORG_FORM_WORDS = frozenset(a.lower() for a in ORG_FORMS.split("|") if regex.fullmatch(r"[A-Za-z]{2,}", a))
ORG_FORMS += (
    r"|(?:Crown|County|Family|Magistrates['’]?|Combined|Civil|Justice|High|Law|Coroner['’]?s)[ \t]+Courts?"
    r"|Royal[ \t]+Courts"
)
ORG_NAME = regex.compile(rf"(?<![\w])(?-i:(?:{ORG_FORMS}))\.?(?![\w'’])|(?<![\w])&[ \t]*Co\b")
# An organisation word right after a name on the same line: "Smith Jones Solicitors", "Brother International".
ORG_AFTER = regex.compile(rf"(?:[ \t]+|[ \t]*&[ \t]*)(?-i:(?:{ORG_FORMS}))\.?(?![\w'’])|[ \t]*&[ \t]*Co\b")
# A named venue right before an address: "at Memorial Park, 6501 Memorial Drive", "The Grand Hotel, 1 Kings Rd".
VENUE_BEFORE = regex.compile(
    r"(?-i:Park|Hall|Stadium|Arena|Club|Library|Theatre|Theater|Museum|Gallery|Pavilion|Inn|Tavern|Pub|Cafe"
    r"|Café|Bar|Hotel|Lodge|Centre|Center|Church|Chapel|Cathedral|Ground|Racecourse|Showground|Campus|Plaza"
    r"|Mall|Market|Station|Airport|Terminal|Venue|Studios?|Rooms)[ \t]*,[ \t]*$"
    # "at the Marriott, 1 Wellington Street": a proper name with an article is a place, not a person
    r"|(?<![\w])(?i:at|to|in)[ \t]+(?i:the)[ \t]+\p{Lu}[\p{L}'’&\-]*(?:[ \t]+\p{Lu}[\p{L}'’&\-]*){0,3}[ \t]*,[ \t]*$"
)
# Parts of an address that only premises have.
PREMISES = regex.compile(
    r"(?<![\w])(?:suite|ste\.?|floor|fl\.|level|(?:ground|first|second|third|fourth|fifth|\d+(?:st|nd|rd|th))"
    r"[ \t]+floor|unit|units|building|bldg\.?|tower|business[ \t]+park|industrial[ \t]+estate|trading[ \t]+estate"
    r"|science[ \t]+park|retail[ \t]+park|enterprise[ \t]+(?:park|centre|center)|p\.?[ \t]?o\.?[ \t]*box"
    r"|post[ \t]+office[ \t]+box|mail[ \t]*stop|m/?s[ \t]+\d\w*|dx[ \t]+\d+|room[ \t]+\d\w*|dept\.?|department)"
    r"(?![\w])",
    regex.IGNORECASE,
)
# Lines that only an organisation's contact block has.
CONTACT_LINE = regex.compile(
    r"(?<![\w])(?:www\.|https?://|fax|facsimile|f:|dx[ \t]+\d+|switchboard|reception|main[ \t]+line"
    r"|registered[ \t]+(?:office|in|number|no)|company[ \t]+(?:registration|reg|no|number)|vat[ \t]+(?:reg|no|number)"
    r"|sra[ \t]+(?:no|number|id)|authorised[ \t]+and[ \t]+regulated)",
    regex.IGNORECASE,
)
FOOTER = regex.compile(
    r"(?<![\w])(?:unsubscribe|opt[ \t-]?out|manage[ \t]+(?:your[ \t]+)?(?:preferences|subscription)"
    r"|view[ \t]+(?:this[ \t]+(?:email|message)[ \t]+)?(?:in|on)[ \t]+(?:your[ \t]+)?(?:browser|web)"
    r"|copyright|all[ \t]+rights[ \t]+reserved|registered[ \t]+office|registered[ \t]+in[ \t]+(?:england|scotland|wales"
    r"|northern[ \t]+ireland)|company[ \t]+(?:registration[ \t]+)?(?:no|number)|registered[ \t]+(?:no|number)"
    r"|vat[ \t]+(?:reg|registration|no|number)|privacy[ \t]+(?:policy|notice|statement)"
    r"|terms[ \t]+(?:and|&)[ \t]+conditions"
    r"|you[ \t]+are[ \t]+receiving[ \t]+this|you[ \t]+received[ \t]+this|mailing[ \t]+list|newsletter|c/o)(?![\w])"
    r"|©|\(c\)[ \t]*\d{4}",
    regex.IGNORECASE,
)
HOME_CUE = regex.compile(
    r"(?<![\w])(?:lives?|living|lived|resides?|residing|resident|home(?![ \t]+office)|moved|moving|relocated"
    r"|stays?|staying"
    r"|tenancy|tenant|her[ \t]+address|his[ \t]+address|their[ \t]+address|my[ \t]+address|home[ \t]+address"
    r"|address[ \t]+of[ \t]+the[ \t]+(?:child|mother|father|applicant|respondent))(?![\w])",
    regex.IGNORECASE,
)
# How an organisation word stands to an address after it. Directly followed by a lower-case word it modifies that
# word ("NHS patient", "council tenant", "a Leeds School pupil") unless the word is premises or a connector
# ("Council offices", "Trust is at"); followed by a number or an identifier label it labels an identifier ("NHS
# No. 943 476 5919"); inside a bracketed aside closed before the address it describes the noun before it
# ("Amelia Brown (NHS) is at"). In each case it names someone's circumstances, not whose premises the address is.
ORG_TO_ADDRESS = frozenset({
    "at", "is", "are", "was", "were", "the", "our", "their", "its", "located", "based", "on", "in", "of", "and",
    "for", "to", "by", "from", "with", "within", "office", "offices", "premises", "building", "buildings", "site",
    "sites", "headquarters", "hq", "depot", "reception", "campus", "address", "main", "head", "registered",
    "branch", "base", "now", "here", "new", "postal", "trading", "business", "correspondence", "or",
})
_MODIFIED = regex.compile(r"[ \t]+(\p{Ll}[\p{L}'’\-]*)")
_IDENTIFIER_LABEL = regex.compile(r"[ \t.:#]*(?:(?i:no|nos|number|num|id|ref|reference)(?![\w])|\d)")


def organisation_word_owns(rest: str) -> bool:
    """Given the text from just after an organisation word up to an address, whether the word names the address's
    organisation (see ``ORG_TO_ADDRESS``)."""
    if _IDENTIFIER_LABEL.match(rest):
        return False
    m = _MODIFIED.match(rest)
    if m is not None and m.group(1).lower() not in ORG_TO_ADDRESS:
        return False
    close = rest.find(")")
    return not (close >= 0 and "(" not in rest[:close])


_SENTENCE_END = regex.compile(r"[.!?][ \t]+(?=\p{Lu})|\n[ \t]*\n")
FOOTER_REACH = 200


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _neighbour_lines(text: str, start: int, end: int, count: int) -> tuple[list[str], list[str]]:
    """Up to ``count`` non-empty lines above ``start``'s line and below ``end``'s line (blank lines skipped:
    HTML parts put one between every line)."""
    above: list[str] = []
    line_start, _ = _line_bounds(text, start)
    pos = line_start - 1
    while pos > 0 and len(above) < count:
        s = text.rfind("\n", 0, pos) + 1
        line = text[s:pos]
        if line.strip():
            above.append(line)
        pos = s - 1
    below: list[str] = []
    _, line_end = _line_bounds(text, max(start, end - 1))
    pos = line_end + 1
    while pos < len(text) and len(below) < count:
        e = text.find("\n", pos)
        e = len(text) if e < 0 else e
        line = text[pos:e]
        if line.strip():
            below.append(line)
        pos = e + 1
    return above, below


def _is_heading_line(line: str) -> bool:
    """A short line that is not a sentence: a name, a role, an organisation, an address line."""
    stripped = line.strip()
    return 0 < len(stripped) <= 80 and not (stripped.endswith((".", "?", "!")) and len(stripped.split()) >= 6)


def home_cue_before(text: str, start: int) -> bool:
    """A home cue in the clause introducing the text at ``start`` (back to a sentence end, at most 120 chars)."""
    window = text[max(0, start - 160) : start]
    parts = _SENTENCE_END.split(window)
    clause = parts[-1][-120:] if parts else ""
    return bool(HOME_CUE.search(clause))


def names_organisation(before: str) -> bool:
    """An organisation's name in ``before`` (text leading up to an address) that the address belongs to."""
    return any(organisation_word_owns(before[m.end() :]) for m in ORG_NAME.finditer(before))


def business_reason(text: str, start: int, end: int) -> str:
    """Why the address (or account) at ``text[start:end]`` is an organisation's, or "" when nothing says so."""
    span = text[start:end]
    line_start, _ = _line_bounds(text, start)
    if PREMISES.search(span):
        return "premises part"
    home = home_cue_before(text, start)
    if home:
        return ""
    same_line_before = text[line_start:start]
    if names_organisation(same_line_before) or PREMISES.search(same_line_before):
        return "organisation on the same line"
    if VENUE_BEFORE.search(same_line_before):
        return "a named venue"
    _, span_line_end = _line_bounds(text, max(start, end - 1))
    same_line_after = _SENTENCE_END.split(text[end : min(span_line_end, end + 80)])[0]
    if PREMISES.search(same_line_after) or CONTACT_LINE.search(same_line_after):
        return "premises or contact details on the same line"
    above, below = _neighbour_lines(text, start, end, 2)
    if same_line_before.strip() == "" or len(same_line_before.strip()) < 30:
        for line in above:
            if not _is_heading_line(line):
                break
            if names_organisation(line) or PREMISES.search(line) or CONTACT_LINE.search(line):
                return "organisation or premises on the line above"
    for line in (*above[:1], *below):
        if CONTACT_LINE.search(line):
            return "organisation's contact lines next to it"
    around = text[max(0, start - FOOTER_REACH) : min(len(text), end + FOOTER_REACH)]
    if FOOTER.search(around):
        return "footer"
    return ""
