"""UK bank accounts (a sort code together with an account number) and payment card numbers.

Either number alone is weak (six digits in pairs look like a date, eight digits like anything), but the pair
within a short distance, with banking words around it, is a bank account. One finding spans both numbers.
An organisation's account (the payee on an invoice, "Account name: Northgate Consulting LLP", a payment footer)
is business furniture, not a person's: it scores under every threshold.
"""

from __future__ import annotations

import regex
from presidio_analyzer import LocalRecognizer, RecognizerResult

from detectors.presidio_adapter import NlpArtifacts
from detectors.recognizers.business import ORG_NAME, business_reason
from detectors.recognizers.text import result

_DIGIT = regex.compile(r"\d")
_SORT_CODE = regex.compile(r"(?<![\d\-./])(\d{2})[ \t]?([\-–. ])[ \t]?(\d{2})[ \t]?\2[ \t]?(\d{2})(?![\d]|[\-./]\d)")
_SORT_CODE_PLAIN = regex.compile(r"(?<![\d\-./])\d{6}(?![\d]|[\-./]\d)")
_ACCOUNT = regex.compile(
    r"(?<![\d\-./])(?:\d{8}|\d{4}[ \t\-]\d{4}|\d{2}[ \t\-]\d{2}[ \t\-]\d{2}[ \t\-]\d{2})(?![\d]|[\-./]\d)"
)

_TWO_DIGITS = regex.compile(r"\d{2}")
_GROUP_SEP = regex.compile(r"[ \-]")


def _date_like(sort_code: str) -> bool:
    digits = [int(x) for x in _TWO_DIGITS.findall(sort_code)]
    return len(digits) == 3 and 1 <= digits[0] <= 31 and 1 <= digits[1] <= 12


# Who the account belongs to: the payee named on an "account name" / "payable to" line, or the line above.
_PAYEE = regex.compile(
    r"(?<![\w])(?:account[ \t]+(?:name|holder)|beneficiary(?:[ \t]+name)?|payee(?:[ \t]+name)?|pay(?:able)?[ \t]+to"
    r"|(?:made|paid)[ \t]+(?:payable[ \t]+)?to|in[ \t]+favou?r[ \t]+of|remit[ \t]+to|bank[ \t]+details[ \t]+(?:of|for))"
    r"[ \t]*[:\-]?[ \t]*(?P<payee>[^\n]{0,80})",
    regex.IGNORECASE,
)
_PERSONAL_PAYEE = regex.compile(
    r"(?<![\w])(?:(?-i:Mr|Mrs|Ms|Miss|Mx|Dr)\.?[ \t]|my|his|her|their|personal|joint)(?![\w])", regex.IGNORECASE
)


def _organisation_account(text: str, start: int, end: int) -> bool:
    """The account is an organisation's: the nearest payee named before it (same paragraph, within 200
    characters) carries an organisation word, or the account sits in a footer or letterhead."""
    window = text[max(0, start - 200) : start]
    window = window.rsplit("\n\n", 1)[-1] if "\n\n" in window.rstrip() else window
    payees = list(_PAYEE.finditer(window))
    if payees:
        payee = payees[-1].group("payee")
        return bool(ORG_NAME.search(payee)) and not _PERSONAL_PAYEE.search(payee)
    if _PERSONAL_PAYEE.search(window[-80:]):
        return False
    return bool(business_reason(text, start, end))


DEFAULT_CONTEXT = [
    "sort code",
    "sortcode",
    "s/c",
    "account",
    "account number",
    "acc",
    "acct",
    "a/c",
    "bank",
    "banking",
    "bacs",
    "payee",
]


class UkBankAccountRecognizer(LocalRecognizer):
    """``UK_BANK_ACCOUNT``: sort code (12-34-56, or six digits after "sort code") with an 8-digit account."""

    name: str

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "UK_BANK_ACCOUNT",
        context: list[str] | None = None,
        max_gap: int = 60,
        score: float = 0.85,
        score_without_context: float = 0.45,
        score_business: float = 0.3,
        name: str | None = None,
    ) -> None:
        self.max_gap = max_gap
        self.score = score
        self.score_without_context = score_without_context
        self.score_business = score_business
        words = context or list(DEFAULT_CONTEXT)
        alts = "|".join(regex.escape(w).replace(r"\ ", r"\s*") for w in sorted(words, key=len, reverse=True))
        self._context_re = regex.compile(rf"(?<![\w])(?:{alts})(?![a-z])", regex.IGNORECASE)
        self._sort_label = regex.compile(r"sort[\s\-]*code|s/c", regex.IGNORECASE)
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            context=words,
            name=name or type(self).__name__,
        )

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not _DIGIT.search(text):
            return []
        sorts = [(m.start(), m.end()) for m in _SORT_CODE.finditer(text)]
        for m in _SORT_CODE_PLAIN.finditer(text):
            if self._sort_label.search(text[max(0, m.start() - 25) : m.start()]):
                sorts.append((m.start(), m.end()))
        if not sorts:
            return []
        accounts = [(m.start(), m.end()) for m in _ACCOUNT.finditer(text)]
        results: list[RecognizerResult] = []
        used: set[tuple[int, int]] = set()
        for s_start, s_end in sorted(sorts):
            best: tuple[int, int] | None = None
            for a_start, a_end in accounts:
                if (a_start, a_end) in used or (a_start < s_end and a_end > s_start):
                    continue
                gap = a_start - s_end if a_start >= s_end else s_start - a_end
                if 0 <= gap <= self.max_gap and (best is None or gap < abs(best[0] - s_end)):
                    best = (a_start, a_end)
            if best is None:
                continue
            used.add(best)
            start, end = min(s_start, best[0]), max(s_end, best[1])
            window = text[max(0, start - 40) : end]
            labelled = bool(self._sort_label.search(window))
            context = labelled or bool(self._context_re.search(window))
            if _organisation_account(text, start, end):
                score = self.score_business  # an organisation's account: an invoice, a payment footer
            elif context and (labelled or not _date_like(text[s_start:s_end])):
                score = self.score
            else:  # no banking words, or "12-03-15" that reads as a date with no "sort code" label
                score = self.score_without_context
            results.append(
                result(self, start, end, score, "sort code with account number")
            )
        return results


# ---------------------------------------------------------------------------------------------------- cards

_CARD = regex.compile(r"(?<![\d\-./,]|\d[ \-])\d(?:[ \-]?\d){11,18}(?![\d]|[\-./]\d|[ \-]\d)")
_CARD_LABEL = regex.compile(
    r"(?<![\w])(?:(?:credit[ \t]+|debit[ \t]+)?card[ \t]*(?:no\.?|number|num|#)|long[ \t]+number|credit|debit|card"
    r"|cards|visa|mastercard|master[ \t]+card|maestro|amex|american[ \t]+express|discover|diners|jcb|cc|pan)"
    r"(?![\w])",
    regex.IGNORECASE,
)
_CARD_DETAIL = regex.compile(
    r"(?<![\w])(?:exp|expiry|expires|expiration|valid[ \t]+(?:to|thru|through|until)|cvv|cvc|cv2|security[ \t]+code"
    r"|start[ \t]+date|issue[ \t]+number|cardholder|card[ \t]+holder|name[ \t]+on[ \t]+card)(?![\w])",
    regex.IGNORECASE,
)
_NOT_CARD_LABEL = regex.compile(
    r"(?<![\w])(?:order|invoice|inv|po|ref|reference|ticket|tracking|consignment|shipment|sku|part|item|serial"
    r"|model|product|article|catalogue|catalog|cat|isbn|issn|barcode|upc|ean|gtin|imei|iccid|sim|meter|mpan|mprn"
    r"|account|acct|customer|member|membership|policy|booking|confirmation|transaction|txn|receipt|deal"
    r"|contract|quote|licence|license|key|id|no|number|qty|quantity|unit|units)(?![\w])",
    regex.IGNORECASE,
)
# a price or amount on the line: a table row of an order, invoice or price list
_AMOUNT = regex.compile(r"(?:[£$€¥]|\b(?:GBP|USD|EUR)\b)[ \t]?\d|(?<![\d.,/])\d{1,6}[.,]\d{2}(?![\d]|[.,/]\d)")
_TABLE_GAP = regex.compile(r"\t|[ ]{2,}|\|")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _issuer_ok(digits: str) -> bool:
    """An issuer prefix with a length that issuer uses (Visa, Mastercard, Amex, Discover, Maestro, JCB,
    Diners, UnionPay)."""
    n = len(digits)
    two, four, six = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= two <= 55 or 222100 <= six <= 272099:
        return n == 16
    if two in (34, 37):
        return n == 15
    if two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305 or four == 3095:
        return 14 <= n <= 19
    if 3528 <= four <= 3589:
        return 16 <= n <= 19
    if four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649 or two == 62:
        return 16 <= n <= 19
    if two == 50 or 56 <= two <= 69 or four == 6759:
        return 12 <= n <= 19
    return False


def _grouped(raw: str) -> bool:
    """Printed the way cards are: groups of four (``4111 1111 1111 1111``) or Amex's 4-6-5."""
    groups = _GROUP_SEP.split(raw)
    sizes = [len(g) for g in groups]
    if len(groups) < 3 or len(set(_GROUP_SEP.findall(raw))) > 1:
        return False
    return (all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4) or sizes in ([4, 6, 5], [4, 6, 4])


class PaymentCardRecognizer(LocalRecognizer):
    """``CREDIT_CARD``: a payment card number, judged by issuer prefix, Luhn check, layout and the line it is on.

    Presidio's ``CreditCardRecognizer`` scores every Luhn-valid run of 13-19 digits at 1.0, and one run of
    digits in ten passes Luhn: part numbers in price tables, order and tracking numbers, deal ids. Here the
    checksum only makes a candidate. A card label or card details (expiry, CVV) around it make a finding; an
    order, item or reference label, or a price on the same line (a table row), rule it out; a number printed
    in card groups (``4111 1111 1111 1111``) with neither counts, and a bare run of digits does not.
    """

    name: str

    def __init__(
        self,
        supported_language: str = "en",
        supported_entity: str = "CREDIT_CARD",
        context: list[str] | None = None,
        score: float = 0.9,
        grouped_score: float = 0.6,
        bare_score: float = 0.3,
        name: str | None = None,
    ) -> None:
        self.score = score
        self.grouped_score = grouped_score
        self.bare_score = bare_score
        super().__init__(
            supported_entities=[supported_entity],
            supported_language=supported_language,
            context=context or ["card", "credit card", "debit card", "visa", "mastercard", "amex", "expiry", "cvv"],
            name=name or type(self).__name__,
        )

    def load(self) -> None:
        """Nothing to load."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not _DIGIT.search(text):
            return []
        results: list[RecognizerResult] = []
        for m in _CARD.finditer(text):
            raw = m.group()
            digits = "".join(c for c in raw if c.isdigit())
            if not 12 <= len(digits) <= 19 or len(set(digits)) == 1 or not _issuer_ok(digits) or not luhn_ok(digits):
                continue
            score = self._score(text, m.start(), m.end(), raw)
            if score > 0:
                results.append(result(self, m.start(), m.end(), score, "card number: issuer, Luhn, layout, labels",
                                      context_fixed=score >= self.score))
        return results

    def _score(self, text: str, start: int, end: int, raw: str) -> float:
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        before = text[max(line_start, start - 40) : start]
        after = text[end : min(line_end, end + 40)]
        labels = [(m.end(), 1, "card") for m in _CARD_LABEL.finditer(before)]
        labels += [(m.end(), 0, "other") for m in _NOT_CARD_LABEL.finditer(before)]
        nearest = max(labels)[2] if labels else ""  # "card number" beats the "number" inside it
        if nearest == "card" or (not nearest and (_CARD_DETAIL.search(after) or _CARD_LABEL.search(after))):
            return self.score
        line = text[line_start:line_end]
        if nearest == "other" or _AMOUNT.search(line) or len(_TABLE_GAP.findall(line)) >= 2:
            return 0.0
        return self.grouped_score if _grouped(raw) else self.bare_score
