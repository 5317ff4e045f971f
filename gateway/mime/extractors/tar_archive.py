"""TAR archives (plain; gzip/bzip2/xz layers are removed by ``compressed``). Only regular files are read."""

from __future__ import annotations

import io
import tarfile

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.filetype import guess_type_from_name
from gateway.mime.guards import CorruptContent, LimitExceeded, ratio_detail, ratio_exceeded, read_bounded
from gateway.mime.names import clean_member_path


def read_tar(data: bytes, prefix: str, depth: int, ctx: Context) -> None:
    """Read members of a tar held in ``data`` as ``<prefix>/<member path>`` at ``depth``."""
    limits = ctx.limits
    count = 0
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
        raise CorruptContent("tar unreadable") from exc
    with archive:
        while True:
            ctx.deadline.check()
            try:
                member = archive.next()
            except (tarfile.TarError, OSError, ValueError, EOFError, UnicodeError) as exc:
                raise CorruptContent("tar unreadable") from exc
            if member is None:
                return
            if not member.isreg():
                continue
            count += 1
            if count > limits.max_archive_members:
                raise LimitExceeded(f"archive members > {limits.max_archive_members}")
            path = clean_member_path(member.name)
            location = f"{prefix}/{path}"
            # A sparse member can claim far more bytes than the archive holds.
            detail = ""
            if ratio_exceeded(member.size, len(data), limits):
                detail = ratio_detail(limits)
            elif member.size > ctx.sink.remaining_bytes():
                detail = f"extracted bytes > {limits.max_total_bytes}"
            if detail:
                ctx.walker.unreadable_member(
                    location=location, name=path, size=member.size, reason="limit", detail=detail
                )
                continue
            stream = archive.extractfile(member)
            if stream is None:
                continue
            with stream:
                content = read_bounded(stream, member.size, "tar member larger than declared")
            ctx.sink.take_bytes(len(content))
            ctx.walker.extract_member(
                content, location=location, name=path, declared_type=guess_type_from_name(path), depth=depth
            )


def _tar(item: Item, ctx: Context) -> None:
    read_tar(item.data, item.location, item.depth + 1, ctx)


TAR = Extractor("tar", frozenset({"tar"}), _tar)
