"""Optional OCR through the ``tesseract`` binary (no Python dependency); absent binary means "not text-scanned".

Run as a subprocess with a timeout so a slow image can never outlive the attachment's deadline, and with one
OpenMP thread because the gateway already runs one extraction per worker process.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess

from gateway.mime.guards import Deadline, DeadlineExceeded
from gateway.mime.limits import ExtractionLimits

LANGUAGE = "eng"


class OcrFailed(Exception):
    """tesseract ran but could not read a valid image: the image is noted as not text-scanned."""


@functools.cache
def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def ocr_available(limits: ExtractionLimits) -> bool:
    return limits.ocr and tesseract_path() is not None


@functools.cache
def _languages(binary: str) -> frozenset[str] | None:
    """The languages ``tesseract --list-langs`` reports (None when it cannot run)."""
    try:
        done = subprocess.run([binary, "--list-langs"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    lines = (done.stdout + done.stderr).decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())


def ocr_problem(limits: ExtractionLimits) -> str | None:
    """Why images will not be read although OCR is switched on; None when OCR is off or works.

    OCR is optional, so a gateway without tesseract still runs (images are only noted as not text-scanned,
    the ``images_not_scanned`` condition). But an operator who switched it on and believes images are read
    must be told: the start-up log, ``check-config`` and ``/readyz`` all show this text."""
    if not limits.ocr:
        return None
    binary = tesseract_path()
    if binary is None:
        return "extraction.ocr is on but the tesseract binary is not on PATH: images are not text-scanned"
    languages = _languages(binary)
    if languages is None:
        return f"extraction.ocr is on but {binary} does not run: images are not text-scanned"
    if LANGUAGE not in languages:
        return f"extraction.ocr is on but tesseract has no '{LANGUAGE}' language data: images are not text-scanned"
    return None


def ocr_png(png: bytes, deadline: Deadline) -> str:
    """Text tesseract reads from one PNG; raises ``DeadlineExceeded`` when the attachment's time runs out."""
    binary = tesseract_path()
    if binary is None:  # pragma: no cover - callers check ocr_available first
        raise OcrFailed("tesseract not installed")
    timeout = deadline.remaining()
    if timeout <= 0:
        raise DeadlineExceeded(f"time > {deadline.seconds:g}s")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        done = subprocess.run(
            [binary, "stdin", "stdout", "-l", LANGUAGE, "--psm", "3"],
            input=png,
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise DeadlineExceeded(f"time > {deadline.seconds:g}s (ocr)") from exc
    except OSError as exc:
        raise OcrFailed("tesseract could not run") from exc
    if done.returncode != 0:
        raise OcrFailed("tesseract failed")
    return done.stdout.decode("utf-8", "replace")


def to_png(image: object) -> bytes:
    """Encode a Pillow image as greyscale PNG, the input tesseract handles best."""
    from PIL import Image

    if not isinstance(image, Image.Image):  # pragma: no cover - defensive
        raise TypeError("not an image")
    grey = image.convert("L")
    buffer = io.BytesIO()
    grey.save(buffer, format="PNG")
    return buffer.getvalue()
