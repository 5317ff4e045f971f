"""dlpgate's Presidio recognizers.

Importing this package registers the classes with Presidio (its YAML loader finds ``type: predefined``
recognizers among the subclasses of ``EntityRecognizer`` by class name), and makes tldextract, which Presidio's
``EmailRecognizer`` calls on every match, work from its bundled public-suffix snapshot: by default it fetches
the list from the internet on first use, which a mail gateway must never do.
"""

from __future__ import annotations

import tldextract
import tldextract.tldextract as _tldextract_module

from detectors import presidio_adapter  # noqa: F401 - first: quietens Presidio's logger before it is imported
from detectors.recognizers.address import UkStreetAddressRecognizer
from detectors.recognizers.age import AgeRecognizer
from detectors.recognizers.bank import UkBankAccountRecognizer
from detectors.recognizers.case_numbers import UkCaseNumberRecognizer
from detectors.recognizers.dob import DateOfBirthRecognizer
from detectors.recognizers.nhs import UkNhsRecognizer
from detectors.recognizers.person import FamilyRoleNameRecognizer, TitledNameRecognizer
from detectors.recognizers.phone import UkPhoneRecognizer
from detectors.recognizers.special import SpecialCategoryRecognizer

OFFLINE_TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def make_tldextract_offline() -> None:
    """Point tldextract's module-level extractor (used by ``tldextract.extract``) at the bundled snapshot."""
    _tldextract_module.TLD_EXTRACTOR = OFFLINE_TLD_EXTRACTOR


make_tldextract_offline()

__all__ = [
    "OFFLINE_TLD_EXTRACTOR",
    "AgeRecognizer",
    "DateOfBirthRecognizer",
    "FamilyRoleNameRecognizer",
    "SpecialCategoryRecognizer",
    "TitledNameRecognizer",
    "UkBankAccountRecognizer",
    "UkCaseNumberRecognizer",
    "UkNhsRecognizer",
    "UkPhoneRecognizer",
    "UkStreetAddressRecognizer",
    "make_tldextract_offline",
]
