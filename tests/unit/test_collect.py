"""DATA collected line by line (issue 13) ends up exactly where the whole-message checks of ``sanitize`` would:
same bytes kept, same NUL / bare line ending / header count / X-DLP-* findings; small messages stay in memory,
large ones go to a spool file of whole-line records (encrypted when a key is given)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from gateway.message_spool import MessageSpool, fernet_from_env
from gateway.smtp.collect import Budget, DataCollector
from gateway.smtp.sanitize import line_ending_issue, normalise_line_endings, strip_dlp_headers


def wire_lines(message: bytes) -> list[bytes]:
    """The DATA lines aiosmtpd's reader yields (split on CRLF only), dot-stuffed as a client sends them."""
    stuffed = message.replace(b"\r\n.", b"\r\n..")
    stuffed = b"." + stuffed if stuffed.startswith(b".") else stuffed
    return [line + b"\r\n" for line in stuffed.split(b"\r\n")[:-1]]


def collect(message: bytes, tmp_path: Path, *, normalise: bool, memory_limit: int = 1 << 20,
            fernet: MultiFernet | None = None, key_env: str | None = None) -> DataCollector:
    spool = MessageSpool(tmp_path, memory_limit=memory_limit, fernet=fernet, key_env=key_env)
    body = DataCollector(spool, Budget(1 << 30), normalise=normalise, max_headers=1000)
    for line in wire_lines(message):
        body.feed(line)
    body.finish()
    return body


MESSAGES = [
    b"From: a\r\nX-DLP-Decision: pass\r\n\tcontinued\r\nx-dlp-rules: y\r\nSubject: s\r\n\r\nX-DLP-Body: stays\r\n",
    b"\r\nX-DLP-Decision: in the body\r\n",
    b" leading continuation\r\nX-DLP-A: 1\r\nB: 2\r\n",
    b"Subject: bare\nX-DLP-Smuggled: 1\r\n\r\n.\nbody\rline\r\n.dot\r\n",
    b"Subject: nul\r\n\r\nzero\x00byte\r\n",
    b"Subject: ok\r\n\r\n.leading\r\n..two\r\n.\r\n" + b"x" * 5000 + b"\r\n",
]


@pytest.mark.parametrize("message", MESSAGES)
@pytest.mark.parametrize("normalise", [False, True])
def test_line_by_line_matches_whole_message_checks(message: bytes, normalise: bool, tmp_path: Path) -> None:
    """Flags, counts and (for messages that are kept) the bytes equal the whole-message functions' results."""
    body = collect(message, tmp_path, normalise=normalise)
    issue = line_ending_issue(message)
    assert body.nul == bool(issue and issue.nul)
    assert body.bare == bool(issue and issue.bare)
    if body.bare and not normalise:
        return  # refused for the bare line ending before anything else is looked at
    expected, removed, fields = strip_dlp_headers(normalise_line_endings(message) if normalise else message)
    assert (body.removed, body.fields) == (removed, fields)
    if not body.doomed:
        assert body.spool.in_memory() == expected


def test_large_message_goes_to_disk_in_whole_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the memory limit the rest is written to a file as records of whole lines; reading it back (all at
    once, or block by block after the header) gives the message; close() removes the file."""
    message = b"Subject: big\r\nX-DLP-Evil: 1\r\n\r\n" + b"".join(b"line %d .dot\r\n" % i for i in range(50_000))
    monkeypatch.setenv("TEST_SPOOL_KEY", Fernet.generate_key().decode())
    key = fernet_from_env("TEST_SPOOL_KEY")
    for fernet in (None, key):
        body = collect(message, tmp_path, normalise=False, memory_limit=10_000, fernet=fernet,
                       key_env="TEST_SPOOL_KEY")
        spool = body.spool
        expected = strip_dlp_headers(message)[0]
        assert spool.on_disk and spool.path is not None and spool.head == b"Subject: big\r\n"
        assert spool.read() == expected and spool.ref().read() == expected
        blocks = list(spool.body_blocks())
        assert all(b.endswith(b"\r\n") for b in blocks) and spool.head + b"".join(blocks) == expected
        assert (b"line 49999" in spool.path.read_bytes()) == (fernet is None)
        path = spool.path
        body.close()
        assert not path.exists()


def test_budget_is_taken_and_given_back(tmp_path: Path) -> None:
    """Bytes are counted against the in-flight budget as they arrive and given back at close; past the budget
    the message is marked and nothing more is kept."""
    budget = Budget(1000)
    body = DataCollector(MessageSpool(tmp_path, memory_limit=1 << 20), budget, normalise=False, max_headers=10)
    for line in wire_lines(b"Subject: x\r\n\r\n" + b"y" * 98 + b"\r\n"):
        body.feed(line)
    assert budget.used == 114 and not body.over_budget
    other = DataCollector(MessageSpool(tmp_path, memory_limit=1 << 20), budget, normalise=False, max_headers=10)
    for line in wire_lines(b"Subject: x\r\n\r\n" + (b"z" * 98 + b"\r\n") * 10):
        other.feed(line)
    assert other.over_budget and other.doomed and budget.used <= 1000
    other.close()
    body.close()
    assert budget.used == 0


@pytest.mark.parametrize(
    ("message", "bare_cr", "bare_lf"),
    [
        (b"Subject: a\r\n\r\nline\nnext\r\n", False, True),
        (b"Subject: a\r\n\r\nline\rnext\r\n", True, False),
        (b"Subject: a\r\n\r\n\r\r\n", True, False),
        (b"Subject: a\nX-Other: b\r\n\r\nbody\r\n", False, True),
    ],
)
def test_bare_lf_is_normalised_and_bare_cr_always_refused(message: bytes, bare_cr: bool, bare_lf: bool,
                                                           tmp_path: Path) -> None:
    """Issue 17: in `normalise` mode (the default) a bare LF becomes a CRLF line end and the message is kept; a
    bare CR dooms the message in either mode; in `reject` mode a bare LF dooms it too."""
    body = collect(message, tmp_path, normalise=True)
    assert (body.bare_cr, body.bare_lf) == (bare_cr, bare_lf)
    assert body.doomed == bare_cr
    if not bare_cr:
        kept = body.spool.in_memory()
        assert kept == message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert kept.count(b"\n") == kept.count(b"\r\n") and b"\r" not in kept.replace(b"\r\n", b"")
    assert collect(message, tmp_path, normalise=False).doomed


def test_smuggled_end_of_data_becomes_an_ordinary_line(tmp_path: Path) -> None:
    """`\\n.\\n` inside DATA is kept as a CRLF `.` content line of the same message (the next hop's client
    dot-stuffs it), never an end of data; the text after it stays in this message."""
    message = b"Subject: s\r\n\r\nhello\n.\nMAIL FROM:<evil@example.org>\nsmuggled\r\n"
    body = collect(message, tmp_path, normalise=True)
    assert not body.doomed
    assert body.spool.in_memory() == b"Subject: s\r\n\r\nhello\r\n.\r\nMAIL FROM:<evil@example.org>\r\nsmuggled\r\n"
    # A client that dot-stuffs after a bare LF too (smtplib does): the stuffed dot is removed like any other.
    stuffed = collect(b"Subject: s\r\n\r\nhello\n..\n..x\r\n", tmp_path, normalise=True)
    assert stuffed.spool.in_memory() == b"Subject: s\r\n\r\nhello\r\n.\r\n.x\r\n"


def test_watched_header_values_are_kept_unfolded(tmp_path: Path) -> None:
    """The chosen header field (the Exchange Online tenant header) is collected in any case, folded or not, in
    message order; the same name in the body is not a header field."""
    message = (b"From: a\r\nX-MS-Exchange-CrossTenant-Id: 11111111-2222-3333-4444-555555555555\r\n"
               b"x-ms-exchange-crosstenant-id:\r\n\t66666666-2222-3333-4444-555555555555 \r\nSubject: s\r\n\r\n"
               b"X-MS-Exchange-CrossTenant-Id: body-not-header\r\n")
    spool = MessageSpool(tmp_path, memory_limit=1 << 20)
    body = DataCollector(spool, Budget(1 << 30), normalise=True, max_headers=100,
                         watch=b"X-MS-Exchange-CrossTenant-Id")
    for line in wire_lines(message):
        body.feed(line)
    assert body.watched_values() == ["11111111-2222-3333-4444-555555555555",
                                     "66666666-2222-3333-4444-555555555555"]
    assert body.spool.in_memory() == message
