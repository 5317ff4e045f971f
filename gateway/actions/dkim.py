"""DKIM signing of the messages the gateway changed (issue 17).

Exchange Online (or the sender's own MTA) signs before the message reaches us. The ``encrypt`` action's subject
tag rewrites a signed header and S/MIME replaces the body, so that signature no longer verifies and DMARC at
the recipient fails. When ``dkim.enabled`` is set, the relay adds its own signature for the organisation's
domain (``dkim.domain``/``dkim.selector``) over exactly the bytes it sends. Messages relayed unchanged are not
signed here: their original signature still holds, and the X-DLP-* fields we prepend are not among the signed
ones. The original, now broken, signature is left in place: verifiers judge each signature on its own and
DMARC needs one aligned pass.

The private key is read from ``dkim.key_file`` and cached by the file's identity (a replaced key file is read
again); it is never logged, and errors name the file, never its content.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import dkim
import structlog

from gateway.config import Config, DkimSettings

log = structlog.get_logger(__name__)


class DkimError(Exception):
    """The message could not be signed (key missing or unusable): the relay answers 451, as for any internal
    failure, rather than send a changed message whose signature every receiver would see as broken."""


@dataclass(frozen=True, slots=True)
class _KeyId:
    path: Path
    mtime_ns: int
    size: int


_cache: dict[Path, tuple[_KeyId, bytes]] = {}
_lock = threading.Lock()


def _key(path: Path) -> bytes:
    try:
        st = path.stat()
        ident = _KeyId(path, st.st_mtime_ns, st.st_size)
        with _lock:
            cached = _cache.get(path)
            if cached is not None and cached[0] == ident:
                return cached[1]
        key = path.read_bytes()
    except OSError as exc:
        raise DkimError(f"dkim.key_file {path} cannot be read ({exc.__class__.__name__})") from None
    with _lock:
        _cache[path] = (ident, key)
    return key


def sign(message: bytes, settings: DkimSettings, key_file: Path) -> bytes:
    """``message`` with a ``DKIM-Signature`` field prepended (relaxed/relaxed, rsa-sha256 or ed25519-sha256 as
    the key is). ``From`` is always among the signed fields, as RFC 6376 requires."""
    assert settings.domain and settings.selector
    headers = [h.lower().encode("ascii") for h in settings.headers]
    if b"from" not in headers:
        headers.insert(0, b"from")
    key = _key(key_file)
    try:
        signature: bytes = dkim.sign(
            message,
            settings.selector.encode("ascii"),
            settings.domain.encode("ascii"),
            key,
            include_headers=headers,
            canonicalize=(b"relaxed", b"relaxed"),
            linesep=b"\r\n",
        )
    except dkim.DKIMException as exc:
        # The exception text may quote parts of the key: name only the file and the kind of error.
        raise DkimError(f"cannot sign with dkim.key_file {key_file} ({exc.__class__.__name__})") from None
    return signature + message


def sign_if_configured(cfg: Config, message: bytes) -> bytes:
    """The pipeline's one call after it changed a message: signed when ``dkim.enabled``, else as it was."""
    settings = cfg.gateway.dkim
    if not settings.enabled or settings.key_file is None:
        return message
    return sign(message, settings, cfg.resolve(settings.key_file))
