"""Images: OCR with tesseract when installed; otherwise listed as not text-scanned (never unscannable).

A signature logo without OCR must not hold a message, so absence of OCR is a note, not a failure.
"""

from __future__ import annotations

import warnings

from gateway.mime.extractors.base import Context, Extractor, Item
from gateway.mime.guards import CorruptContent, LimitExceeded
from gateway.mime.ocr import OcrFailed, ocr_available, ocr_png, to_png

# Formats Pillow (and so tesseract, via PNG) cannot decode here; they are noted, not failed.
_NOT_DECODABLE = frozenset({"heic"})


def _image(item: Item, ctx: Context) -> None:
    if not ocr_available(ctx.limits) or item.filetype.kind in _NOT_DECODABLE:
        ctx.sink.add_not_text_scanned(item.location)
        return
    import io

    from PIL import Image, ImageSequence, UnidentifiedImageError

    texts: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(item.data)) as image:
                width, height = image.size
                if width * height > ctx.limits.max_image_pixels:
                    raise LimitExceeded(f"image > {ctx.limits.max_image_pixels} pixels")
                # Multi-page TIFFs are how scanners send documents: every frame is read.
                for frame in ImageSequence.Iterator(image):
                    ctx.deadline.check()
                    texts.append(ocr_png(to_png(frame), ctx.deadline))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LimitExceeded(f"image > {ctx.limits.max_image_pixels} pixels") from exc
    except OcrFailed:
        ctx.sink.add_not_text_scanned(item.location)
        return
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptContent("image unreadable") from exc
    ctx.sink.add_text(item.location, "\n".join(texts), "ocr")


IMAGE = Extractor("image", frozenset({"png", "jpeg", "gif", "tiff", "bmp", "webp", "heic"}), _image)
