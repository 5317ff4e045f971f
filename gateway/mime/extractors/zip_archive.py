"""ZIP archives: every member is sniffed and read; encrypted entries are listed as ``encrypted``."""

from __future__ import annotations

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.filetype import guess_type_from_name
from gateway.mime.guards import EncryptedContent, LimitExceeded
from gateway.mime.names import clean_member_path
from gateway.mime.zipsafe import is_encrypted, open_zip, read_member


def _zip(item: Item, ctx: Context) -> None:
    limits = ctx.limits
    with open_zip(item.data, limits) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        over = len(members) > limits.max_archive_members
        for info in members[: limits.max_archive_members]:
            ctx.deadline.check()
            path = clean_member_path(info.filename)
            location = f"{item.location}/{path}"
            if is_encrypted(info):
                ctx.walker.unreadable_member(
                    location=location, name=path, size=info.file_size, reason="encrypted", detail="zip entry encrypted"
                )
                continue
            try:
                data = read_member(archive, info, limits, ctx.sink)
            except LimitExceeded as exc:
                ctx.walker.unreadable_member(
                    location=location, name=path, size=info.file_size, reason="limit", detail=exc.detail
                )
                continue
            except EncryptedContent as exc:
                ctx.walker.unreadable_member(
                    location=location, name=path, size=info.file_size, reason="encrypted", detail=exc.detail
                )
                continue
            ctx.walker.extract_member(
                data, location=location, name=path, declared_type=guess_type_from_name(path), depth=item.depth + 1
            )
    if over:
        raise LimitExceeded(f"archive members > {limits.max_archive_members}")


ZIP = Extractor("zip", frozenset({"zip"}), _zip)
