"""Readable places outside the parts (issue 12, section 2): header fields, link targets, CSS content, hidden text."""

from __future__ import annotations

import pytest

from gateway.mime.headers import is_readable_field, readable_headers
from gateway.mime.hidden import Hidden, flatten
from gateway.mime.html_text import css_content_text, html_document
from gateway.mime.links import links_text, text_urls, url_lines
from gateway.mime.parse import parse_message
from gateway.mime.sink import name_text


@pytest.mark.parametrize(
    "name",
    ["To", "cc", "From", "Reply-To", "Comments", "Keywords", "Thread-Topic", "X-Child", "X-Case-Ref", "X-Note",
     "Content-Description"],
)
def test_readable_fields(name: str) -> None:
    """Address fields, person-written unstructured fields and X- fields no mail system writes are read."""
    assert is_readable_field(name)


@pytest.mark.parametrize(
    "name",
    ["Message-ID", "References", "In-Reply-To", "Received", "DKIM-Signature", "ARC-Seal", "List-Unsubscribe",
     "Content-Type", "Date", "Subject", "X-MS-Exchange-Organization-SCL", "X-Microsoft-Antispam", "X-Mailer",
     "X-Originating-IP", "X-Spam-Status", "X-Google-DKIM-Signature", "X-Received", "X-DLP-Tag",
     "X-Forefront-Antispam-Report", "X-Proofpoint-Virus-Version", "X-Mimecast-Spam-Score", "Thread-Index"],
)
def test_machine_fields(name: str) -> None:
    """Routing, identifiers, list management, MIME structure and mail systems' X- fields are not read."""
    assert not is_readable_field(name)


def test_readable_headers_decode_and_group() -> None:
    """Encoded words are decoded; repeated fields share one location; only display names of addresses."""
    msg = parse_message(
        b"From: =?iso-8859-1?q?Si=E2n_Jones?= <s@x.org>\r\nTo: a@b.org, \"Jo, Bloggs\" <jo@x.org>\r\n"
        b"X-Note: first\r\nX-Note: second 943 476 5919\r\nX-Blob: abc " + b"Q" * 60 + b" def\r\n\r\nbody\r\n"
    )
    got = dict(readable_headers(msg))
    assert got["header:From"] == "Si\u00e2n Jones"
    assert got["header:To"] == "Jo, Bloggs"
    assert got["header:X-Note"] == "Note: first\nNote: second 943 476 5919"
    assert got["header:X-Blob"] == "Blob: abc def"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example/a/b?n=Amy%20Brown&nhs=943+476+5919", ["x.example a b", "n: Amy Brown", "nhs: 943 476 5919"]),
        ("https://x.example/?q=Amy%2520Brown", ["x.example", "q: Amy Brown"]),  # double encoding
        ("https://x.example/#/page?dob=01%2F02%2F2015", ["x.example", "dob: 01/02/2015"]),
        ("https://safe.example/?url=https%3A%2F%2Fi.example%2F%3Fref%3DZW24C50123", ["safe.example", "i.example",
                                                                                       "ref: ZW24C50123"]),
        ("data:text/plain,NHS%20943%20476%205919", ["NHS 943 476 5919"]),
        ("data:text/plain;base64,TkhTIDk0MyA0NzYgNTkxOQ==", ["NHS 943 476 5919"]),
        ("data:image/png;base64,iVBORw0KGgo=", []),
        ("mailto:jo@example.org", []),
        ("cid:image001.png", []),
        ("#top", []),
    ],
)
def test_url_lines(url: str, expected: list[str]) -> None:
    """Each URL becomes host/path and key: value lines, with every layer of encoding undone."""
    assert url_lines(url) == expected


def test_links_text_bounds_and_noise() -> None:
    """Duplicates once; tracking tokens (long, no spaces) dropped; base64 that is text decoded, random not."""
    text = links_text(["https://t.example/?id=" + "a1" * 30, "https://t.example/?id=" + "a1" * 30,
                       "https://t.example/?d=QW15IEJyb3du", "https://t.example/?d=x7Gq9ZpL"])
    assert text.count("t.example") == 3
    assert "a1a1" not in text
    assert "d: Amy Brown" in text
    assert text.count("d: ") == 3  # the raw values, and the one that decodes


def test_text_urls() -> None:
    """Plain-text URLs carrying parameters or encoding are picked; bare ones are not."""
    text = "see https://a.example/x?y=1 and https://b.example/plain and http://c.example/%41 ."
    assert text_urls(text) == ["https://a.example/x?y=1", "http://c.example/%41"]


def test_css_content() -> None:
    """The strings of content: declarations, escapes decoded; other declarations ignored."""
    css = 'p::before { content: "NHS \\39 43" " 476"; color: red } .x{content:\'ZW24C50123\'} .y{content:none}'
    assert css_content_text(css) == "NHS 943 476\nZW24C50123"


@pytest.mark.parametrize(
    ("html", "visible", "moved"),
    [
        ('<p>943 476 59<span style="display:none">00</span>19</p>', "943 476 5919", "00"),
        ('<p>943 476 <span style="font-size:0pt">00</span>5919</p>', "943 476 5919", "00"),
        ('<p>Am<font style="opacity:0">zz</font>y</p>', "Amy", "zz"),
        ("<p>ZW24C5<!-- c -->0123</p>", "ZW24C50123", "c"),
        ('<p>A <span hidden>hidden note</span> here</p>', "A hidden note here", ""),
    ],
)
def test_hidden_text_inside_a_run_moves_after_the_text(html: str, visible: str, moved: str) -> None:
    """Hidden text inside a word or digit run is scanned after the document; elsewhere it stays in place."""
    text = html_document(html).text
    first, _, rest = text.partition("\n\n")
    assert first.strip() == visible
    assert rest.strip() == moved


def test_flatten_nested_placeholders() -> None:
    """Placeholders nest; the moved list gets each hidden piece once."""
    outer = Hidden()
    inner = Hidden()
    inner.parts.append("x")
    outer.parts.extend(["1", inner, "2"])
    moved: list[str] = []
    assert flatten(["12", outer, "34"], moved) == "1234"
    assert moved == ["x", "12"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Amy_Brown_ZW24C50123.docx", "Amy Brown ZW24C50123"),
        ("bundle.zip/Thompson family/NHS 943 476 5919.pdf", "bundle\nThompson family\nNHS 943 476 5919"),
        ("fwd.eml/attachment:Amy+Brown.pdf", "fwd\nAmy Brown"),
        ("part-3.txt", ""),
    ],
)
def test_name_text(path: str, expected: str) -> None:
    """A name reads with separators as spaces and no extension; generated part names are not text."""
    assert name_text(path) == expected


def test_many_attachment_names_share_one_chunk() -> None:
    """Past MAX_NAME_CHUNKS the names are scanned together, so a huge archive costs one more pass, not thousands."""
    from gateway.mime.limits import ExtractionLimits
    from gateway.mime.model import AttachmentInfo
    from gateway.mime.sink import MAX_NAME_CHUNKS, Sink

    sink = Sink(ExtractionLimits())
    for i in range(MAX_NAME_CHUNKS + 30):
        sink.add_attachment(AttachmentInfo(f"attachment:a.zip/file {i}.txt", f"file {i}.txt", "text/plain", "", 1))
    chunks = sink.result().chunks
    names = [c for c in chunks if c.location.startswith("attachment-name:")]
    assert len(names) == MAX_NAME_CHUNKS + 1
    assert names[-1].location == "attachment-name:(more)" and names[-1].text.count("\n") == 29
