"""ContentDetector behaviour: correspondents left out, offsets, reveal, cache, when NER runs, config errors."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
import yaml

from detectors.content import ContentDetector, DetectionContext
from detectors.findings import Sensitivity
from detectors.sensitivity import assess_sensitivity, distinct_case_numbers
from detectors.settings import load_detectors_settings
from gateway.config_errors import ConfigError
from gateway.mime.model import TextChunk
from tests.integration.detector_fixtures import DETECTORS_YAML, ctx, found, shared_detector


@pytest.fixture(scope="module")
def content_detector() -> ContentDetector:
    """The engine shared by the whole test session."""
    return shared_detector()

BUSINESS = """Hi Sarah,

Thanks for sending the agenda. Mark Jones from the council will join us on Tuesday.

Kind regards,
Priya Patel
Senior Family Court Adviser
Cafcass
Mobile: 07911 123456
Tel: 0300 456 4000
"""


def body(text: str) -> list[TextChunk]:
    return [TextChunk(location="subject", text="Update", kind="subject"), TextChunk(location="body", text=text)]


def test_signature_greeting_and_org_numbers_are_not_findings(content_detector: ContentDetector) -> None:
    """The sender's name, work mobile and organisation number in the signature, and the greeted name, are
    left out; a third party named in the body is kept."""
    findings = content_detector.analyze(body(BUSINESS), ctx())
    texts = {(f.entity, f.text) for f in findings}
    assert ("PERSON", "Mark Jones") in texts or not any(f.entity == "PERSON" for f in findings)
    assert not any(f.text in ("Sarah", "Priya Patel", "07911 123456", "0300 456 4000") for f in findings)
    assert assess_sensitivity(findings) == Sensitivity.NONE


def test_detect_mode_finds_third_party_names(content_detector: ContentDetector) -> None:
    """With NER on everything (the detect command) the third party's name is reported, the sender's is not."""
    names = [t for e, t in found(content_detector, BUSINESS) if e == "PERSON"]
    assert names == ["Mark Jones"]


def test_quoted_header_block_names_are_correspondents(content_detector: ContentDetector) -> None:
    """A quoted From/To block is exempt when its author is a correspondent of this message (issue 12 section 6):
    Tomasz as a recipient of the reply; when he is not one, his quoted message is content."""
    text = (
        "Thanks, noted.\n\nFrom: Tomasz Nowak <tomasz.nowak@harrisonco.co.uk>\nSent: 12 March 2025 10:14\n"
        "To: Priya Patel <priya.patel@cafcass.gov.uk>\nSubject: RE: hearing\n\nDear Priya,\n"
        "Please see attached.\n"
    )
    replying = DetectionContext(sender_address="priya.patel@cafcass.gov.uk", sender_name="Priya Patel",
                                recipients=(("tomasz.nowak@harrisonco.co.uk", ""),), reveal=True)
    findings = content_detector.analyze(body(text), replying)
    assert not any(f.entity in ("PERSON", "EMAIL_ADDRESS") for f in findings)
    forwarding = content_detector.analyze(body(text), ctx())
    assert [f.text for f in forwarding if f.entity == "EMAIL_ADDRESS"] == ["tomasz.nowak@harrisonco.co.uk"]


def test_sender_name_elsewhere_is_not_a_finding(content_detector: ContentDetector) -> None:
    """The envelope sender's own name and address are never findings, wherever they appear."""
    text = "As Priya Patel said, write to priya.patel@cafcass.gov.uk or p.patel@gmail.com."
    findings = content_detector.analyze(body(text), ctx())
    assert [f.text for f in findings] == ["p.patel@gmail.com"]


def test_org_public_number_allowed_in_any_format(content_detector: ContentDetector) -> None:
    """The organisation's published number is allowed however it is written."""
    for number in ("0300 456 4000", "+44 300 456 4000", "03004564000"):
        assert ("PHONE_NUMBER", number) not in found(content_detector, f"Please call {number} today.")


def test_business_address_is_not_personal(content_detector: ContentDetector) -> None:
    """A venue's address is not personal data; the same address as someone's home is."""
    venue = "The training will be held at 21 Bloomsbury Street, London WC1B 3HF. Mark Jones will meet you."
    home = "Mark Jones now lives at 21 Bloomsbury Street, London WC1B 3HF with his partner."
    assert not any(e in ("UK_STREET_ADDRESS", "UK_POSTCODE") for e, _ in found(content_detector, venue))
    findings = content_detector.analyze(body(home), ctx())
    assert {"UK_STREET_ADDRESS", "UK_POSTCODE", "PERSON"} <= {f.entity for f in findings}
    assert assess_sensitivity(findings) == Sensitivity.PERSONAL


def test_offsets_point_into_the_original_text(content_detector: ContentDetector) -> None:
    """Start and end index the text as given, through full-width digits, zero-width spaces and quote marks."""
    text = "> Child: Amir Khan\n> NHS ９４３\u200b４７６ ５９１９\n> DOB: 01/02/2015\n"
    findings = content_detector.analyze([TextChunk(location="body", text=text)], ctx())
    assert findings
    for f in findings:
        assert text[f.start : f.end] == f.text
    assert {f.entity for f in findings} >= {"PERSON", "UK_NHS", "DATE_OF_BIRTH"}


def test_reveal_off_keeps_text_out(content_detector: ContentDetector) -> None:
    """Without reveal no matched text leaves the detector: only the masked form and a keyed fingerprint."""
    findings = content_detector.analyze(body("NHS number 943 476 5919"), ctx(reveal=False))
    (nhs,) = findings
    assert nhs.text is None
    assert nhs.redacted == "NHS *** *** 5919"
    assert nhs.fingerprint and "5919" not in nhs.fingerprint


def test_fingerprints_count_distinct_case_numbers(content_detector: ContentDetector) -> None:
    """The same case number written twice counts once; a second case number counts again."""
    text = "Case ZW24C50123 and again ZW24 C 50123; also case LS22P00456."
    findings = content_detector.analyze(body(text), ctx())
    assert distinct_case_numbers(findings) == 2


def test_locations_are_kept_and_layout_only_applies_to_bodies(content_detector: ContentDetector) -> None:
    """Findings name their chunk; a letter attached to the mail keeps its addressee as a third party."""
    letter = "Dear Ms Okafor,\n\nYour son Tunde's date of birth is recorded as 04/05/2016.\n"
    chunks = [TextChunk(location="subject", text="Case ZW24C50123", kind="subject"),
              TextChunk(location="attachment:letter.docx", text=letter, kind="attachment")]
    findings = content_detector.analyze(chunks, ctx())
    by_loc = {(f.location, f.entity) for f in findings}
    assert ("subject", "UK_FAMILY_CASE_NUMBER") in by_loc
    assert ("attachment:letter.docx", "DATE_OF_BIRTH") in by_loc
    assert any(f.location == "attachment:letter.docx" and f.text == "Okafor" for f in findings)


def test_cache_reuses_quoted_history(content_detector: ContentDetector) -> None:
    """A reply's quoted history is analysed once: the second message adds only its new block to the cache."""
    first = "Hi Tom,\n\nChild: Amir Khan, DOB 01/02/2015. Case ZW24C50999.\n\nThanks\nPriya\n"
    content_detector.analyze(body(first), ctx())
    before = len(content_detector.cache)
    reply = "Thanks Priya, agreed.\n\nOn 12 March 2025 at 09:12, Priya Patel <priya.patel@cafcass.gov.uk> wrote:\n"
    reply += "".join("> " + line + "\n" for line in first.splitlines())
    again = content_detector.analyze(body(reply), ctx())
    assert len(content_detector.cache) <= before + 2
    assert {"PERSON", "DATE_OF_BIRTH", "UK_FAMILY_CASE_NUMBER"} <= {f.entity for f in again}


def test_ner_skipped_when_it_cannot_change_sensitivity(content_detector: ContentDetector) -> None:
    """Strong identifiers plus a special-category topic already make a message special: NER does not run."""
    text = "Child: Amir Khan, NHS 943 476 5919. Case ZW24C51234. Mother disclosed domestic abuse."
    runs = content_detector.ner_runs
    findings = content_detector.analyze(body(text + " Unique sentence 1."), ctx())
    assert content_detector.ner_runs == runs
    assert assess_sensitivity(findings) == Sensitivity.SPECIAL_CATEGORY


def test_ner_runs_when_a_name_could_make_it_personal(content_detector: ContentDetector) -> None:
    """A home address with no name found by pattern needs NER; the name it finds makes the message personal."""
    text = "For your records, Beatriz Carvalho has moved to 9 Willow Close, Exeter EX4 6PX. Unique 2."
    runs = content_detector.ner_runs
    findings = content_detector.analyze(body(text), ctx())
    assert content_detector.ner_runs > runs
    assert assess_sensitivity(findings) == Sensitivity.PERSONAL


def test_run_ner_false_never_loads_ner(content_detector: ContentDetector) -> None:
    """Internal-only mail (run_ner=False) never goes through NER, even when a name could matter."""
    runs = content_detector.ner_runs
    content_detector.analyze(body("Beatriz Carvalho moved to 9 Willow Close, Exeter EX4 6PX. Unique 3."),
                             ctx(run_ner=False))
    assert content_detector.ner_runs == runs


def test_person_spans_that_are_not_names_are_dropped(content_detector: ContentDetector) -> None:
    """Common words, places and organisations tagged as PERSON by the model are not reported."""
    text = "Lunch will be provided. Leeds City Council and Bradford agreed. Kind Regards"
    assert [t for e, t in found(content_detector, text) if e == "PERSON"] == []


def test_org_tagged_name_becomes_low_score_person(content_detector: ContentDetector) -> None:
    """A name the small model tags as ORG is reported as PERSON with the reduced score."""
    hits = [f for f in content_detector.analyze_text("I spoke with Yashasvi Ramaswamy yesterday about the school.")
            if f.entity == "PERSON"]
    assert [f.text for f in hits] == ["Yashasvi Ramaswamy"]
    assert hits[0].score < 0.85


def test_email_validation_never_touches_the_network(content_detector: ContentDetector,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """tldextract (used by Presidio's EmailRecognizer) works from its bundled list, with no fetch attempt."""
    import tldextract.tldextract as tt

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert tt.TLD_EXTRACTOR.suffix_list_urls == ()
    assert ("EMAIL_ADDRESS", "someone@newdomain-example.org.uk") in found(
        content_detector, "write to someone@newdomain-example.org.uk"
    )


# ---- configuration errors name the file and the key


def _config_copy(tmp_path: Path, edit: dict[str, object] | None = None, drop: str | None = None) -> Path:
    shutil.copytree(DETECTORS_YAML.parent / "lists", tmp_path / "lists")
    data = yaml.safe_load(DETECTORS_YAML.read_text())
    if drop:
        data.pop(drop)
    data.update(edit or {})
    path = tmp_path / "detectors.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_missing_model_fails_with_install_hint(tmp_path: Path) -> None:
    """A model that is not installed stops start-up with a pip hint; it is never downloaded."""
    data = yaml.safe_load(DETECTORS_YAML.read_text())
    nlp = data["nlp_configuration"]
    nlp["models"] = [{"lang_code": "en", "model_name": "en_core_web_notinstalled"}]
    path = _config_copy(tmp_path, {"nlp_configuration": nlp})
    with pytest.raises(ConfigError) as err:
        ContentDetector.from_file(path)
    assert err.value.problems[0].key == "nlp_configuration.models"
    assert "pip install" in str(err.value)


def test_unknown_recognizer_argument_names_the_key(tmp_path: Path) -> None:
    """A typo in a recognizer's arguments is an error naming the file and the key."""
    data = yaml.safe_load(DETECTORS_YAML.read_text())
    recs = data["recognizer_registry"]["recognizers"]
    index = next(i for i, r in enumerate(recs) if r["name"] == "UkPhoneRecognizer")
    recs[index]["default_regoin"] = "GB"
    path = _config_copy(tmp_path, {"recognizer_registry": data["recognizer_registry"]})
    with pytest.raises(ConfigError) as err:
        ContentDetector.from_file(path)
    assert err.value.problems[0].key == f"recognizer_registry.recognizers.{index}.default_regoin"
    assert str(path) in str(err.value)


def test_unknown_recognizer_class_is_an_error(tmp_path: Path) -> None:
    """A predefined recognizer that does not exist is reported by name."""
    data = yaml.safe_load(DETECTORS_YAML.read_text())
    data["recognizer_registry"]["recognizers"].append({"name": "UkNoSuchRecognizer", "type": "predefined"})
    path = _config_copy(tmp_path, {"recognizer_registry": data["recognizer_registry"]})
    with pytest.raises(ConfigError, match="UkNoSuchRecognizer"):
        ContentDetector.from_file(path)


def test_unknown_top_level_key_and_missing_list_are_errors(tmp_path: Path) -> None:
    """Unknown keys and missing list files are caught when the file is loaded, with their keys."""
    path = _config_copy(tmp_path, {"cache_sise": 10})
    with pytest.raises(ConfigError) as err:
        load_detectors_settings(path)
    assert err.value.problems[0].key == "cache_sise"
    (tmp_path / "lists" / "detect_places.txt").unlink()
    path.write_text(DETECTORS_YAML.read_text())
    with pytest.raises(ConfigError) as err:
        load_detectors_settings(path)
    assert any(p.key == "person.places_file" for p in err.value.problems)
