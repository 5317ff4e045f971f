"""Policy outcome types shared by the engine, the actions, the store and the CLI.

The policy configuration models (rules, conditions, encrypt settings) live here too; see ``PolicyConfig``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gateway.config_errors import FrozenModel

Mode = Literal["enforce", "monitor"]
EncryptMode = Literal["subject_tag", "smarthost", "smime", "reject"]


class Action(IntEnum):
    """Least to most severe; the most severe action of all firing rules wins."""

    PASS = 0
    TAG = 1
    ENCRYPT = 2
    QUARANTINE = 3
    REJECT = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Action:
        return cls[value.strip().upper()]


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    clause: str
    """Policy clause the rule enforces, e.g. ``IA 4.3``."""
    action: Action
    mode: Mode
    reason: str
    """Sender-facing text, types never values; may contain ``{ref}`` for the incident reference."""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    hits: tuple[RuleHit, ...] = ()
    """Enforced rules that fired (their actions decided ``action``)."""
    monitor: tuple[RuleHit, ...] = ()
    """Monitor-mode rules that fired: recorded, outcome unchanged."""
    encrypt_mode: EncryptMode | None = None
    """For ``Action.ENCRYPT``: how to encrypt."""
    outranked: tuple[RuleHit, ...] = ()
    """Enforced rules that fired but were outranked by a more severe action: kept for the incident record,
    left out of the sender's reply so it names only what decided the outcome."""
    exempted: tuple[RuleHit, ...] = ()
    """Enforced rules that fired but an approved exception relaxed (issue 15): they changed nothing."""
    exemptions_used: tuple[int, ...] = ()
    """The ids of those exceptions: each message they let through is recorded against them."""

    @property
    def rule_ids(self) -> list[str]:
        return [h.rule_id for h in self.hits]

    @property
    def clauses(self) -> list[str]:
        return sorted({h.clause for h in self.hits})

    def reasons(self, ref: str = "") -> list[str]:
        return [h.reason.replace("{ref}", ref or "n/a") for h in self.hits]


PASS_DECISION = Decision(Action.PASS)


# --- Rule data (policy.yaml ``rules:``) ---------------------------------------------------------------------
# Rules are data so that the security team can change what the gateway enforces without a release, and so
# that ``check-config`` can validate every rule (unknown keys, bad patterns, unknown groups) at start-up.

ActionName = Literal["pass", "tag", "encrypt", "quarantine", "reject"]
RecipientClassName = Literal["internal", "personal", "lookalike", "storage_or_ai", "freemail", "external"]
SensitivityName = Literal["none", "personal", "special_category"]
UnscannableName = Literal["encrypted", "limit", "corrupt", "partial"]

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class EntityCondition(FrozenModel):
    """One entity type the message must contain, counted over all locations."""

    type: str = Field(description="Entity name, e.g. `UK_NHS`, `UK_FAMILY_CASE_NUMBER`, `PERSON`.")
    min_count: int = Field(default=1, ge=1, description="Fewest findings at or above min_score.")
    min_score: float = Field(default=0.0, ge=0.0, le=1.0, description="Lowest detector score that counts.")


class HeaderCondition(FrozenModel):
    """A header whose (decoded) value matches a regular expression; the value is never reported."""

    name: str = Field(description="Header name, any case.")
    pattern: str = Field(default=".*", description="Regex searched in the value, any case.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return v


CONTENT_CONDITIONS = (
    "entities",
    "sensitivity_at_least",
    "distinct_case_numbers_at_least",
    "unscannable",
    "protective_marking",
    "false_encryption_claim",
    "redaction_failed",
    "images_not_scanned",
    "case_recipient_mismatch",
    "distinct_cases_at_least",
    "first_time_recipient",
)
"""Conditions about the message content. A rule that uses any of them fires only when the message has a
non-internal recipient (DESIGN: content rules look only at non-internal recipients)."""


class Conditions(FrozenModel):
    """All conditions that are set must hold (AND). Unset conditions are not checked."""

    recipient_classes: list[RecipientClassName] | None = Field(
        default=None,
        description="Fires if any recipient has one of these classes; `external` means every class but "
        "`internal`.",
    )
    entities: list[EntityCondition] = Field(
        default_factory=list, description="Entity types with minimum count and score."
    )
    entities_match: Literal["any", "all"] = Field(
        default="any", description="Whether any or all of `entities` must be present."
    )
    sensitivity_at_least: SensitivityName | None = Field(
        default=None, description="Sensitivity at or above this (`personal` = IA 4.5 protected)."
    )
    forwarded: bool | None = Field(default=None, description="Forwarded by a rule (not by a person), or not.")
    auto_reply: bool | None = Field(default=None, description="An automatic reply (out-of-office), or not.")
    encrypted: bool | None = Field(
        default=None, description="Already encrypted (S/MIME, PGP, subject trigger, label), or not."
    )
    sender_groups: list[str] | None = Field(
        default=None, description="The envelope sender is in any of these groups (see `sender_groups:`)."
    )
    sender_not_in_groups: list[str] | None = Field(
        default=None, description="The envelope sender is in none of these groups (exemptions)."
    )
    distinct_case_numbers_at_least: int | None = Field(
        default=None, ge=1, description="At least this many distinct family case numbers in the message."
    )
    case_recipient_mismatch: bool | None = Field(
        default=None,
        description="The message is about one or more cases in the case directory and an external recipient is "
        "not linked to every one of them (its address or domain is not on the case) nor in "
        "`recipients.case_always_allowed`. Never holds with no directory imported.",
    )
    distinct_cases_at_least: int | None = Field(
        default=None,
        ge=1,
        description="At least this many distinct cases, by case number or by a known child from the case "
        "directory (IA 4.14). Never holds with no directory imported; `distinct_case_numbers_at_least` does.",
    )
    first_time_recipient: bool | None = Field(
        default=None,
        description="Personal or special-category content to an external address this sender (or, by "
        "`cases.first_time_scope`, anyone in the organisation) has never delivered to. Unknown (no history "
        "key, store unreachable) never holds.",
    )
    visible_external_at_least: int | None = Field(
        default=None, ge=1, description="At least this many non-internal addresses visible in To/Cc."
    )
    unscannable: list[UnscannableName] | None = Field(
        default=None, description="Some part could not be scanned for one of these reasons."
    )
    protective_marking: bool | None = Field(
        default=None, description="OFFICIAL-SENSITIVE marking in the subject, first lines or a label."
    )
    false_encryption_claim: bool | None = Field(
        default=None,
        description="A content type, name, header or PGP armour says encrypted where the bytes are not "
        "ciphertext (a label is a hint, never proof).",
    )
    redaction_failed: bool | None = Field(
        default=None,
        description="A document has live text under a black box (PDF) or a redaction colour (DOCX): the "
        "'redacted' text can still be copied out.",
    )
    images_not_scanned: bool | None = Field(
        default=None,
        description="Some image or scanned page was not read for text (OCR off or tesseract missing). Signature "
        "logos count too, so a rule on this alone holds ordinary mail.",
    )
    headers: list[HeaderCondition] = Field(
        default_factory=list, description="Every listed header pattern must match some header."
    )
    size_at_least: int | None = Field(default=None, ge=0, description="Message size in bytes at least this.")
    size_at_most: int | None = Field(default=None, ge=0, description="Message size in bytes at most this.")

    @property
    def uses_content(self) -> bool:
        """Content conditions matter only for mail leaving the organisation (see CONTENT_CONDITIONS)."""
        return bool(self.entities) or any(getattr(self, name) is not None for name in CONTENT_CONDITIONS[1:])


class Rule(FrozenModel):
    """One row of the policy table."""

    id: str = Field(pattern=RULE_ID_PATTERN, description="Stable id (lower case, digits, `.-_`).")
    description: str = Field(default="", description="What the rule is for (incident records, digests).")
    clause: str = Field(description="Policy clause the rule enforces, e.g. `IA 4.3`, `IT 2.7(n)`.")
    when: Conditions = Field(default_factory=lambda: Conditions(), description="Conditions; all must hold.")
    action: ActionName = Field(description="pass, tag, encrypt, quarantine or reject.")
    mode: Mode = Field(default="enforce", description="`monitor` records, changes nothing.")
    enabled: bool = Field(default=True, description="Switch the rule off without deleting it.")
    exemptable: bool = Field(
        default=True,
        description="`false`: no exception may relax this rule (the review console refuses one, the engine "
        "ignores one).",
    )
    four_eyes: bool = Field(
        default=False,
        description="Releasing a message this rule held needs a second person's approval in the review console "
        "(as any special_category message does).",
    )
    reason: str = Field(
        description="Text the sender sees: one or two short lines, types never values. Placeholders: "
        "{entities} {classes} {cases} {visible} {unscannable} {trigger} {clause} {ref} {recipient}.",
        min_length=1,
    )

    @model_validator(mode="after")
    def _has_conditions(self) -> Rule:
        if self.when == Conditions() and self.action != "pass":
            raise ValueError("a rule needs at least one condition under `when:`")
        return self
