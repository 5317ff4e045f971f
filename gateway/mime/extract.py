"""One parsed message in, every piece of text to scan out, and an explicit item for everything unreadable.

The walker goes through the MIME tree (and into attached messages), hands each attachment to the extractor
registered for its sniffed type, and turns every failure inside one part into an ``Unscannable`` for that part
only. ``extract`` never raises.

Locations: ``subject``, ``body``, ``body.html``, ``body.2``..., ``attachment:NAME``, archive members
``attachment:a.zip/dir/b.pdf``, attached messages ``attachment:fwd.eml/{headers,body,attachment:x.pdf}``;
text longer than one chunk continues at ``LOCATION#2``, ``#3``... Besides the parts, everything else a person
can read: display names and unstructured header fields (``header:To``, ``header:X-Case``:
``gateway.mime.headers``), what link targets carry (``body.html:link``, ``body:link``: ``gateway.mime.links``),
MIME preamble and epilogue (``preamble``, ``epilogue``) and attachment names (``attachment-name:NAME``, added
by the sink with every attachment). A ``message/partial`` fragment is read as far as it goes and is
``unscannable: partial`` (it cannot be reassembled here).
"""

from __future__ import annotations

import base64
import quopri
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage, Message
from typing import Any

from gateway.mime import protected, smime
from gateway.mime.charset import decode_bytes
from gateway.mime.extractors import default_registry
from gateway.mime.extractors.base import Context, Item
from gateway.mime.extractors.registry import Registry
from gateway.mime.filetype import extension_for, guess_type_from_name, sniff
from gateway.mime.guards import (
    Deadline,
    EncryptedContent,
    ExtractionProblem,
    LimitExceeded,
)
from gateway.mime.headers import readable_header_lines, readable_headers
from gateway.mime.html_text import html_document
from gateway.mime.limits import ExtractionLimits
from gateway.mime.links import links_text, text_urls
from gateway.mime.model import AttachmentInfo, Extraction, UnscannableReason
from gateway.mime.names import clean_name
from gateway.mime.parse import (
    MimeNestingTooDeepDefect,
    UnparseableMessageDefect,
    charset,
    content_type,
    defect_names,
    disposition,
    filename,
    header_text,
    param,
    parse_message,
    payload_bytes,
    recover_multipart,
)
from gateway.mime.sink import Sink

# Encrypted and signature parts are never skipped on their labels: ``protected`` proves them from their bytes
# (ciphertext, a real signature, the PGP/MIME version part); everything else in them is read like any part.
_PKCS7_MIME = protected.PKCS7_TYPES
_ATTACHED_MESSAGES = frozenset({"message/rfc822", "message/global"})
# Sniffed kinds a text/plain or text/html body may really have and still be read as a body.
_BODY_KINDS = frozenset({"text", "html", "eml", "binary", "empty"})
_HEADER_FIELDS = ("Subject", "From", "To", "Cc")
_HEADER_LOWER = frozenset(f.lower() for f in _HEADER_FIELDS)
_BOILERPLATE_PREAMBLE = re.compile(r"\s*This is a multi-?part message in MIME format\.?\s*$", re.IGNORECASE)


def extract(msg: EmailMessage, limits: ExtractionLimits) -> Extraction:
    """All text chunks of ``msg`` with their locations, plus unscannable and not-text-scanned items."""
    sink = Sink(limits)
    walker = _Walker(limits, sink, default_registry())
    try:
        walker.walk_top(msg)
    except Exception as exc:  # a bug in the walker itself must still leave a fail-closed trace
        sink.add_unscannable("message", "corrupt", f"extraction failed ({type(exc).__name__})")
    return sink.result()


@dataclass(slots=True)
class _MessageState:
    """Per-message counters that name bodies (``body.2``) and unnamed parts (``part-N``)."""

    plain: int = 0
    html: int = 0
    part_no: int = 0

    def body_location(self, prefix: str, html: bool) -> str:
        if html:
            self.html += 1
            return f"{prefix}body.html" + (f".{self.html}" if self.html > 1 else "")
        self.plain += 1
        return f"{prefix}body" + (f".{self.plain}" if self.plain > 1 else "")


class _Walker:
    """Implements ``extractors.base.Walker``: MIME traversal, dispatch to extractors, failure containment."""

    def __init__(self, limits: ExtractionLimits, sink: Sink, registry: Registry) -> None:
        self.limits = limits
        self.sink = sink
        self.registry = registry
        self._deadline: Deadline | None = None
        self._proofs = 0
        """Proven ciphertexts so far: a ``multipart/encrypted`` or ``Content-Class: rpmsg`` with none is a claim."""
        self._rpmsg_proofs = 0

    # messages --------------------------------------------------------------------------------------------
    def walk_top(self, msg: EmailMessage) -> None:
        self._message_defects(msg, "message")
        subject = header_text(msg, "Subject")
        if subject:
            self.sink.add_text("subject", subject, "subject")
        for location, text in readable_headers(msg):
            self.sink.add_text(location, text, "header")
        rpmsg_before = self._rpmsg_proofs
        self._walk_part(msg, "", 0, _MessageState(), 0, "message")
        self._content_class_claim(msg, "", rpmsg_before)

    def extract_message(self, msg: EmailMessage, *, prefix: str, depth: int) -> None:
        location = prefix.rstrip("/")
        if depth > self.limits.max_depth:
            self.sink.add_unscannable(location, "limit", f"depth > {self.limits.max_depth}")
            return
        self._message_defects(msg, location)
        lines = [f"{name}: {value}" for name in _HEADER_FIELDS if (value := header_text(msg, name))]
        lines += readable_header_lines(msg, _HEADER_LOWER)
        if lines:
            self.sink.add_text(f"{prefix}headers", "\n".join(lines), "header")
        rpmsg_before = self._rpmsg_proofs
        self._walk_part(msg, prefix, depth, _MessageState(), 0, location)
        self._content_class_claim(msg, prefix, rpmsg_before)

    def _content_class_claim(self, msg: Message, prefix: str, rpmsg_before: int) -> None:
        """``Content-Class: rpmsg.message`` says "rights-protected"; only a proven message.rpmsg shows it."""
        if header_text(msg, "Content-Class").lower().startswith("rpmsg.message") and self._rpmsg_proofs == rpmsg_before:
            self._record(protected.Verdict("claim", "Content-Class: rpmsg.message without an rpmsg container"),
                         f"{prefix}header:Content-Class", 0)

    def _message_defects(self, msg: Message, location: str) -> None:
        self.sink.add_defects(defect_names(msg))
        for defect in getattr(msg, "defects", []):
            if isinstance(defect, MimeNestingTooDeepDefect):
                self.sink.add_unscannable(location, "limit", "MIME nesting too deep to parse")
            elif isinstance(defect, UnparseableMessageDefect):
                self.sink.add_unscannable(location, "corrupt", "MIME structure unparseable")

    # MIME tree -------------------------------------------------------------------------------------------
    def _walk_part(
        self, part: Message, prefix: str, depth: int, state: _MessageState, nesting: int, container: str
    ) -> None:
        if self.sink.parts_exhausted:
            return
        state.part_no += 1
        number = state.part_no
        if not self._admit_part(container):
            return
        self.sink.add_defects(defect_names(part))
        ctype = content_type(part)
        if ctype in protected.SIGNATURE_TYPES and protected.is_signature(ctype, payload_bytes(part)):
            return  # a real detached signature; anything else under a signature type is read below
        if ctype == "application/pgp-encrypted" and protected.is_pgp_control(payload_bytes(part)):
            return  # the PGP/MIME version part ("Version: 1")
        proofs = self._proofs
        try:
            payload = part.get_payload()
        except Exception:
            payload = None
        if ctype.startswith("multipart/"):
            if not isinstance(payload, list):
                recovered = recover_multipart(part)
                if recovered is None:  # no boundary to be found: the whole thing is read as one text body
                    self._body(part, prefix, state, "text/plain", payload_bytes(part), depth)
                    return
                self.sink.add_defects(defect_names(recovered))
                payload = recovered.get_payload()
            self._outside_parts(part, prefix, "preamble")
            self._children(payload, prefix, depth, state, nesting, container)
            self._outside_parts(part, prefix, "epilogue")
            if ctype == "multipart/encrypted" and self._proofs == proofs:
                self._record(protected.Verdict("claim", "multipart/encrypted without ciphertext"), container, 0)
            return
        if ctype in _ATTACHED_MESSAGES and isinstance(payload, list) and payload:
            if isinstance(payload[0], EmailMessage):
                self._attached_message(part, payload[0], prefix, depth, number, ctype)
                return
        if ctype == "message/partial":
            self._partial(part, prefix, number, container if number == 1 else "")
            return
        if ctype.startswith("message/") and isinstance(payload, list):
            self._report_part(part, payload, prefix, number, ctype)
            return
        if ctype in _PKCS7_MIME:
            self._pkcs7_part(part, prefix, depth, state, nesting, container, number, ctype)
            return
        self._leaf(part, prefix, depth, state, number, ctype)

    def _children(
        self, payload: object, prefix: str, depth: int, state: _MessageState, nesting: int, container: str
    ) -> None:
        if not isinstance(payload, list):
            return
        if nesting >= self.limits.max_multipart_depth:
            self.sink.add_unscannable(container, "limit", f"multipart nesting > {self.limits.max_multipart_depth}")
            return
        for child in payload:
            if not isinstance(child, Message):
                continue
            try:
                self._walk_part(child, prefix, depth, state, nesting + 1, container)
            except RecursionError:
                self.sink.add_unscannable(container, "limit", "MIME nesting too deep")
            except Exception as exc:
                self.sink.add_unscannable(container, "corrupt", f"MIME part unreadable ({type(exc).__name__})")

    def _attached_message(
        self, part: Message, inner: EmailMessage, prefix: str, depth: int, number: int, ctype: str
    ) -> None:
        name = clean_name(filename(part) or "") or f"part-{number}.eml"
        location = f"{prefix}attachment:{name}"
        inner = _transfer_decoded(part, inner)
        self.sink.add_attachment(AttachmentInfo(location, name, "message/rfc822", ctype, _message_size(inner)))
        self.extract_message(inner, prefix=f"{location}/", depth=depth + 1)

    def _outside_parts(self, part: Message, prefix: str, which: str) -> None:
        """The MIME preamble or epilogue: no client shows it, but anyone reading the source does."""
        value = getattr(part, which, None)
        if isinstance(value, str) and value.strip() and not _BOILERPLATE_PREAMBLE.match(value):
            self.sink.add_text(f"{prefix}{which}", value, "body")

    def _partial(self, part: Message, prefix: str, number: int, whole: str) -> None:
        """A ``message/partial`` fragment (RFC 2046 5.2.2): read as text as far as it goes, and unscannable as a
        whole, since the other fragments travel in other messages."""
        name = clean_name(filename(part) or "") or f"part-{number}.partial"
        location = whole or f"{prefix}attachment:{name}"
        detail = f"message/partial fragment {param(part, 'number') or '?'} of {param(part, 'total') or '?'}"
        self.sink.add_unscannable(location, "partial", detail[:120])
        try:
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            text = inner.as_string() if isinstance(inner, Message) else str(payload or "")
        except Exception:
            return
        if text.strip() and self._charge(location, len(text)):
            self.sink.add_text(location, text, "attachment")

    def _report_part(self, part: Message, payload: list[Any], prefix: str, number: int, ctype: str) -> None:
        """Delivery and read reports: header blocks, read as one text attachment."""
        blocks: list[str] = []
        for block in payload:
            if isinstance(block, Message):
                try:
                    blocks.append("\n".join(f"{key}: {value}" for key, value in block.raw_items()))
                except Exception:  # noqa: S112 - one unreadable block must not lose the others
                    continue
        name = clean_name(filename(part) or "") or f"part-{number}.txt"
        location = f"{prefix}attachment:{name}"
        text = "\n\n".join(blocks)
        self.sink.add_attachment(AttachmentInfo(location, name, "text/plain", ctype, len(text)))
        self.sink.add_text(location, text, "attachment")

    def _pkcs7_part(
        self,
        part: Message,
        prefix: str,
        depth: int,
        state: _MessageState,
        nesting: int,
        container: str,
        number: int,
        ctype: str,
    ) -> None:
        """Opaque-signed S/MIME is read (its content is a MIME entity). Anything else (enveloped, encrypted, or
        not CMS at all whatever ``smime-type`` says) goes through the encryption check like any part."""
        data = payload_bytes(part)
        try:
            signed = smime.content_type(data) == smime.SIGNED_DATA
            content = smime.signed_content(data) if signed else None
        except (smime.BerError, IndexError):
            signed, content = False, None
        if not signed:
            self._leaf(part, prefix, depth, state, number, ctype, smime_type=param(part, "smime-type"))
            return
        if not content:
            return
        inner = parse_message(content)
        self._message_defects(inner, container)
        self._children([inner], prefix, depth, state, nesting, container)

    def _leaf(
        self,
        part: Message,
        prefix: str,
        depth: int,
        state: _MessageState,
        number: int,
        ctype: str,
        smime_type: str | None = None,
    ) -> None:
        data = payload_bytes(part)
        name = filename(part)
        ftype = sniff(data, name or "", ctype)
        is_body = (
            not name
            and disposition(part) != "attachment"
            and ctype in ("text/plain", "text/html")
            and ftype.kind in _BODY_KINDS
        )
        if is_body:
            self._body(part, prefix, state, ctype, data, depth)
            return
        if name:
            name = clean_name(name)
        else:
            generic = ftype.kind in ("text", "binary", "empty")
            name = f"part-{number}" + (extension_for(ctype) if generic else ftype.ext)
        location = f"{prefix}attachment:{name}"
        self.sink.add_attachment(AttachmentInfo(location, name, ftype.mime, ctype, len(data)))
        if not self._charge(location, len(data)):
            return
        self._run(Item(data, location, name, ctype, depth, ftype, charset(part)), smime_type)

    def _body(self, part: Message, prefix: str, state: _MessageState, ctype: str, data: bytes, depth: int) -> None:
        html = ctype == "text/html"
        location = state.body_location(prefix, html)
        if not self._charge(location, len(data)):
            return
        declared = charset(part)

        def read(ctx: Context) -> None:
            text = decode_bytes(data, declared)
            if html:
                doc = html_document(text, ctx.deadline.check)
                text, links = doc.text, doc.links
            else:
                links = links_text(text_urls(text))
            text, verdicts = protected.split_armour(text, ctx.sink.remaining_bytes())
            for verdict in verdicts:  # inline PGP: proven blocks are cut out, the rest stays to be read
                self._record(verdict, location, depth)
                self._payloads(verdict, location, depth)
            ctx.sink.add_text(location, text, "body")
            if links:
                ctx.sink.add_text(f"{location}:link", links, "link")

        self._guarded(location, "body", read)

    def _charge(self, location: str, size: int) -> bool:
        try:
            self.sink.take_bytes(size)
        except LimitExceeded as exc:
            self.sink.add_unscannable(location, "limit", exc.detail)
            return False
        return True

    # Walker protocol (used by extractors for nested content) ---------------------------------------------
    def _admit_part(self, location: str) -> bool:
        """Count one more part against max_parts; past it, record the limit once and read nothing more."""
        if self.sink.parts_exhausted:
            return False
        try:
            self.sink.count_part()
        except LimitExceeded as exc:
            self.sink.add_unscannable(location, "limit", exc.detail)
            return False
        return True

    def extract_member(
        self,
        data: bytes,
        *,
        location: str,
        name: str,
        declared_type: str,
        depth: int,
        charset: str | None = None,
        record: bool = True,
    ) -> None:
        if not self._admit_part(location):
            return
        ftype = sniff(data, name, declared_type)
        if record:
            self.sink.add_attachment(AttachmentInfo(location, name, ftype.mime, declared_type, len(data)))
        if depth > self.limits.max_depth:
            self.sink.add_unscannable(location, "limit", f"depth > {self.limits.max_depth}")
            return
        self._run(Item(data, location, name, declared_type, depth, ftype, charset))

    def unreadable_member(self, *, location: str, name: str, size: int, reason: UnscannableReason, detail: str) -> None:
        if not self._admit_part(location):
            return
        guessed = guess_type_from_name(name)
        self.sink.add_attachment(AttachmentInfo(location, name, guessed or "application/octet-stream", guessed, size))
        self.sink.add_unscannable(location, reason, detail)

    # encrypted and signature parts ------------------------------------------------------------------------
    def _record(self, verdict: protected.Verdict, location: str, depth: int) -> None:
        """Ciphertext among the message's own parts may make it encrypted; deeper (in an archive, an attached
        message, an embedded file) it is unreadable content like a password-protected file."""
        if verdict.outcome == "ciphertext":
            self._proofs += 1
            self._rpmsg_proofs += "rpmsg" in verdict.detail
            if depth == 0:
                self.sink.add_note(self.sink.ciphertext, location, verdict.detail)
            else:
                self.sink.add_unscannable(location, "encrypted", verdict.detail)
        elif verdict.outcome == "password":
            self.sink.add_unscannable(location, "encrypted", verdict.detail)
        elif verdict.outcome == "claim":
            self.sink.add_note(self.sink.false_encryption_claims, location, verdict.detail)

    def _payloads(self, verdict: protected.Verdict, location: str, depth: int) -> None:
        """Readable content found inside a protected-looking part (literal data, a fake ciphertext field)."""
        for name, data in verdict.payloads:
            self.sink.take_bytes(len(data))
            self.extract_member(data, location=f"{location}/{name}", name=name, declared_type="", depth=depth + 1,
                                record=name not in protected.GENERATED_NAMES)

    def _examine(self, item: Item, ctx: Context, smime_type: str | None) -> bool:
        """The encryption check of one item; True when it is still to be read by its extractor."""
        verdict = protected.examine(
            item.data, item.name, item.declared_type, ctx.sink.remaining_bytes(), smime_type=smime_type
        )
        if verdict is None:
            return True
        self._record(verdict, item.location, item.depth)
        self._payloads(verdict, item.location, item.depth)
        return verdict.outcome in ("claim", "unproven")

    # running extractors ----------------------------------------------------------------------------------
    def _run(self, item: Item, smime_type: str | None = None) -> None:
        still_to_read: list[bool] = []
        self._guarded(item.location, "encryption check",
                      lambda ctx: still_to_read.append(self._examine(item, ctx, smime_type)))
        if still_to_read != [True]:
            return
        extractor = self.registry.for_kind(item.filetype.kind) or self.registry.for_kind("binary")
        if extractor is None:  # pragma: no cover - the default registry always has "binary"
            self.sink.add_unscannable(item.location, "corrupt", f"no reader for {item.filetype.kind}")
            return
        run = extractor.run
        self._guarded(item.location, extractor.name, lambda ctx: run(item, ctx))

    def _guarded(self, location: str, label: str, step: Callable[[Context], None]) -> None:
        """Run one item's extraction under the attachment deadline; every failure stays with that item."""
        owner = self._deadline is None
        if self._deadline is None:
            # Top-level parts get their own clock; nested members share their attachment's.
            self._deadline = Deadline(self.limits.attachment_seconds)
        deadline = self._deadline
        try:
            deadline.check()
            step(Context(self.limits, self.sink, deadline, self))
        except LimitExceeded as exc:
            self.sink.add_unscannable(location, "limit", exc.detail)
        except EncryptedContent as exc:
            self.sink.add_unscannable(location, "encrypted", exc.detail)
        except ExtractionProblem as exc:
            self.sink.add_unscannable(location, "corrupt", exc.detail)
        except MemoryError:
            self.sink.add_unscannable(location, "limit", "out of memory")
        except RecursionError:
            self.sink.add_unscannable(location, "limit", "nested too deep")
        except Exception as exc:
            self.sink.add_unscannable(location, "corrupt", f"{label}: {type(exc).__name__}")
        finally:
            if owner:
                self._deadline = None


def _transfer_decoded(part: Message, inner: EmailMessage) -> EmailMessage:
    """A message/rfc822 part sent base64/QP-encoded (RFC 2046 forbids it; some clients do it) is parsed as a
    headerless message whose body is the encoded text: decode that text and parse it again."""
    try:
        cte = str(part.get("content-transfer-encoding", "")).strip().lower()
        encoded = inner.get_payload()
        if cte not in ("base64", "quoted-printable") or list(inner.keys()) or not isinstance(encoded, str):
            return inner
        body = encoded.encode("ascii", "ignore")
        raw = base64.b64decode(body) if cte == "base64" else quopri.decodestring(body)
    except Exception:
        return inner
    return parse_message(raw) if raw else inner


def _message_size(msg: EmailMessage) -> int:
    try:
        return len(msg.as_bytes())
    except Exception:
        return 0
