"""Imported before Presidio: keeps its logger at WARNING.

Presidio logs every recognizer it loads and the device it picked at INFO, which is noise in the gateway's log,
and a gateway must never be one logging change away from printing what it matched.
"""

from __future__ import annotations

import logging

logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)
