"""Incident export rows (CSV for the Data Security and Protection Toolkit and ICO reports): metadata and redacted
evidence only, as the incident keeps them. Pure, shared by ``dlpgate incidents export`` and the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.store.records import IncidentRecord

CSV_FIELDS = (
    "reference", "created_at", "node", "status", "deadline_at", "action", "encrypt_mode", "delivered", "quarantined",
    "sender", "recipients", "rules", "clauses", "sensitivity", "entities", "evidence", "attachments", "unscannable",
    "message_id", "size", "forwarded", "encrypted", "upstream_reply",
)


def _cell(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: attachment names are sender-controlled."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_row(r: IncidentRecord) -> dict[str, str]:
    d = r.as_dict()
    flat = {
        **{k: "" if d[k] is None else str(d[k]) for k in CSV_FIELDS if k in d and not isinstance(d[k], list)},
        "recipients": "; ".join(f"{x['address']} ({x['class']})" for x in r.recipients),
        "rules": "; ".join(f"{x['rule_id']} ({x['mode']}, {x['action']})" for x in r.rules),
        "clauses": "; ".join(r.clauses),
        "entities": "; ".join(f"{e['entity']}:{e['count']}" for e in r.entities),
        "evidence": "; ".join(f"{e['entity']}: {', '.join(e['redacted'])}" for e in r.entities if e["redacted"]),
        "attachments": "; ".join(f"{a['name']} ({a['content_type']})" for a in r.attachments),
        "unscannable": "; ".join(f"{u['location']} ({u['reason']})" for u in r.unscannable),
    }
    return {k: _cell(flat.get(k, "")) for k in CSV_FIELDS}
