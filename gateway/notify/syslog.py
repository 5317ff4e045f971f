"""Incidents as structured syslog events for the security team's SIEM (issue 17).

After an incident commits, the store tells its listener (``Notifier.incident_recorded``); the notifier hands the
row to ``SyslogSender``, which formats one event and sends it to the configured collector over UDP or TCP, in
the background (the SMTP reply never waits for a SIEM).

Two formats, chosen by ``syslog.format``: RFC 5424 with one structured-data element (what rsyslog, syslog-ng and
most SIEM collectors parse into fields), or ArcSight CEF in the message part of an RFC 5424 frame (for SIEMs that
only map CEF). Either way the event carries only what a SIEM needs to correlate and count: the incident
reference, action, status, sensitivity, rule ids, entity types with counts, recipient classes with counts and
the node. Never an address, a subject, a file name or a matched value: a SIEM has a wider audience than the
governance console, and the reference leads to the details there.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import structlog

from gateway.config import SyslogSettings

log = structlog.get_logger(__name__)

# Severity (RFC 5424 6.2.1) by incident status / action: a potential breach pages someone, a stop is a warning.
_SEVERITY_BY_STATUS = {"potential_breach": 2}
_SEVERITY_BY_ACTION = {"reject": 4, "quarantine": 4, "encrypt": 5, "tag": 5}
# CEF severity 0-10 for the same.
_CEF_SEVERITY = {2: 9, 4: 6, 5: 4, 6: 2}


def incident_fields(ref: str, row: Mapping[str, Any]) -> dict[str, str]:
    """The event's fields from an incident row (``gateway.store.records.incident_values``): metadata only.
    Addresses become counts per recipient class; findings become entity types with counts."""
    rules = sorted({str(r.get("rule_id")) for r in row.get("rules") or [] if r.get("rule_id")})
    entities = ",".join(f"{e['entity']}:{e['count']}" for e in row.get("entities") or [] if "entity" in e)
    classes = Counter(str(r.get("class", "external")) for r in row.get("recipients") or [])
    created = row.get("created_at")
    return {
        "reference": ref,
        "action": str(row.get("action") or ""),
        "status": str(row.get("status") or ""),
        "sensitivity": str(row.get("sensitivity") or ""),
        "rules": ",".join(rules),
        "entities": entities,
        "recipients": str(sum(classes.values())),
        "recipient_classes": ",".join(f"{k}:{v}" for k, v in sorted(classes.items())),
        "attachments": str(len(row.get("attachments") or [])),
        "delivered": "true" if row.get("delivered") else "false",
        "quarantined": "true" if row.get("quarantined") else "false",
        "node": str(row.get("node") or ""),
        "time": created.astimezone(UTC).isoformat() if isinstance(created, datetime) else "",
    }


def severity(fields: Mapping[str, str]) -> int:
    return _SEVERITY_BY_STATUS.get(fields["status"], _SEVERITY_BY_ACTION.get(fields["action"], 6))


def _sd_escape(value: str) -> str:
    """RFC 5424 6.3.3: ``"``, ``\\`` and ``]`` are escaped inside a PARAM-VALUE."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _header(settings: SyslogSettings, sev: int, msgid: str, now: datetime) -> str:
    host = (socket.gethostname() or "-")[:255]
    stamp = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"<{settings.facility * 8 + sev}>1 {stamp} {host} {settings.app_name} - {msgid}"


def rfc5424(settings: SyslogSettings, fields: Mapping[str, str], now: datetime) -> bytes:
    """``<PRI>1 TIME HOST dlpgate - INCIDENT [dlpgate@32473 reference="INC-..." ...] dlpgate incident ...``."""
    params = " ".join(f'{k}="{_sd_escape(v)}"' for k, v in fields.items() if v)
    msg = f"dlpgate incident {fields['reference']} {fields['action']} {fields['status']}"
    return f"{_header(settings, severity(fields), 'INCIDENT', now)} [{settings.sd_id} {params}] {msg}".encode()


def _cef_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("=", "\\=").replace("\r", " ").replace("\n", " ")


def cef(settings: SyslogSettings, fields: Mapping[str, str], now: datetime, version: str) -> bytes:
    """``CEF:0|dlpgate|dlpgate|VERSION|dlp:ACTION|DLP incident ACTION|SEV|ext`` in an RFC 5424 frame; the
    reference is ``externalId`` and the rest are custom string fields with labels, as CEF expects."""
    sev = severity(fields)
    ext = {
        "rt": str(int(now.timestamp() * 1000)),
        "act": fields["action"],
        "outcome": fields["status"],
        "externalId": fields["reference"],
        "dvchost": fields["node"],
        "cs1Label": "rules", "cs1": fields["rules"],
        "cs2Label": "entities", "cs2": fields["entities"],
        "cs3Label": "sensitivity", "cs3": fields["sensitivity"],
        "cs4Label": "recipientClasses", "cs4": fields["recipient_classes"],
        "cn1Label": "recipients", "cn1": fields["recipients"],
        "cn2Label": "attachments", "cn2": fields["attachments"],
    }
    extension = " ".join(f"{k}={_cef_value(v)}" for k, v in ext.items() if v)
    head = "|".join(_cef_header(x) for x in (
        "CEF:0", "dlpgate", "dlpgate", version, f"dlp:{fields['action']}", f"DLP incident {fields['action']}",
        str(_CEF_SEVERITY.get(sev, 2)),
    ))
    return f"{_header(settings, sev, 'INCIDENT', now)} - {head}|{extension}".encode()


def _package_version() -> str:
    """CEF's device version: the installed dlpgate's (a SIEM maps fields per product version)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dlpgate")
    except PackageNotFoundError:
        return "0"


class SyslogSender:
    """Formats and sends one event per incident. A collector that is down costs a logged error per event, never
    an exception into the caller: the incident itself is safe in the database."""

    def __init__(self, settings: SyslogSettings, version: str | None = None) -> None:
        self.settings = settings
        self.version = version or _package_version()
        url = urlsplit(settings.target)
        self.transport = url.scheme
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (514 if url.scheme == "udp" else 601)

    def format(self, ref: str, row: Mapping[str, Any], now: datetime | None = None) -> bytes:
        fields = incident_fields(ref, row)
        moment = now or datetime.now(UTC)
        if self.settings.format == "cef":
            return cef(self.settings, fields, moment, self.version)
        return rfc5424(self.settings, fields, moment)

    async def send(self, payload: bytes) -> None:
        if self.transport == "tcp":
            # RFC 6587 octet counting: the frame survives any byte in the message.
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.settings.timeout
            )
            try:
                writer.write(str(len(payload)).encode() + b" " + payload)
                await asyncio.wait_for(writer.drain(), self.settings.timeout)
            finally:
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), self.settings.timeout)
                except (OSError, TimeoutError):
                    pass
            del reader
            return
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(self.host, self.port)
        )
        try:
            transport.sendto(payload)
        finally:
            transport.close()

    async def incident(self, ref: str, row: Mapping[str, Any]) -> None:
        await self.send(self.format(ref, row))
        log.info("syslog.sent", reference=ref, transport=self.transport)
