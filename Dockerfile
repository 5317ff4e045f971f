# dlpgate container. Install steps are the README's Quick start (scripts/setup), so both stay true.
# python:3.11-slim tracks the newest 3.11 patch release; dlpgate needs >= 3.11.10 for the email/zipfile
# security fixes (CVE-2023-27043, CVE-2024-6923, CVE-2024-0450) although its own guards do not rely on them.
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 dlpgate

WORKDIR /opt/dlpgate
COPY pyproject.toml requirements.lock README.md ./
COPY scripts/setup scripts/setup
COPY gateway gateway
COPY detectors detectors
COPY config config
# A relative state_dir (and the default Maildir) is relative to the config folder's parent: /opt/dlpgate/var.
RUN scripts/setup && mkdir -p /var/lib/dlpgate /opt/dlpgate/var && chown dlpgate /var/lib/dlpgate /opt/dlpgate/var

USER dlpgate
WORKDIR /var/lib/dlpgate
ENV PATH=/opt/dlpgate/.venv/bin:$PATH
EXPOSE 10025 9125
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9125/healthz', timeout=3).status != 200)"
ENTRYPOINT ["dlpgate"]
CMD ["serve", "--config", "/opt/dlpgate/config", "--listen", "0.0.0.0:10025"]
