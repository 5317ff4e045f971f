"""CMS/PKCS#7 files found as attachments or inside containers (``.p7m``, ``smime.p7m`` in an Outlook item).

Inside a container the message-level encryption detector cannot see them, so encrypted CMS here is reported
``encrypted``; signed CMS is opened and its content read.
"""

from __future__ import annotations

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.guards import CorruptContent, EncryptedContent
from gateway.mime.smime import ENCRYPTED_TYPES, SIGNED_DATA, BerError, content_type, signed_content


def _pkcs7(item: Item, ctx: Context) -> None:
    try:
        kind = content_type(item.data)
        if kind in ENCRYPTED_TYPES:
            raise EncryptedContent("cms encrypted")
        if kind != SIGNED_DATA:
            raise CorruptContent("cms type not supported")
        content = signed_content(item.data)
    except (BerError, IndexError) as exc:
        raise CorruptContent("cms unreadable") from exc
    if not content:
        return  # a detached signature: nothing inside to read
    name = item.name[:-4] if item.name.lower().endswith(".p7m") else "content"
    ctx.walker.extract_member(
        content, location=f"{item.location}/{name}", name=name, declared_type="", depth=item.depth + 1, record=False
    )


PKCS7 = Extractor("pkcs7", frozenset({"pkcs7"}), _pkcs7)
