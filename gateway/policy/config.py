"""Loads and validates ``config/policy.yaml`` (rules, encrypt settings, recipient lists, sender groups).

Everything a decision needs is read here, once, at start-up: the list files are resolved relative to the
policy file, validated, and kept as frozen sets on ``PolicyConfig.lists``. That is what lets
``gateway.policy.engine.decide`` stay a pure function with no I/O, and makes a missing or mistyped list file a
start-up error that names the file and the key rather than a silent gap in enforcement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from detectors.headerutil import subject_has_trigger
from detectors.lookalike import check_domains, is_public_suffix, to_ascii
from gateway.config_errors import ConfigError, ConfigProblem, FrozenModel, model_from_data, read_list_file, read_yaml
from gateway.policy.model import EncryptMode, Rule

SmimeFallback = Literal["subject_tag", "smarthost", "quarantine", "reject"]


class SmimeSettings(FrozenModel):
    cert_dir: str = Field(
        default="certs",
        description="Folder of recipients' PEM/DER certificates, relative to the policy file.",
    )
    fallback: SmimeFallback = Field(
        default="quarantine",
        description="What to do when an external recipient has no usable certificate: another encrypt "
        "mode (`subject_tag`, `smarthost`) or `quarantine` / `reject`.",
    )
    no_certificate_reason: str = Field(
        default="No encryption certificate is on file for a recipient, so it was not sent.",
        description="Added to the sender's reason when the fallback is quarantine or reject.",
    )


class EncryptSettings(FrozenModel):
    mode: EncryptMode = Field(
        default="subject_tag",
        description="`subject_tag` (prepend the trigger the encryption service acts on), `smarthost` "
        "(relay via the encryption host), `smime` (encrypt to recipients' certificates) or `reject` "
        "(ask the sender to resend with the trigger).",
    )
    triggers: list[str] = Field(
        default_factory=lambda: ["encrypt"],
        min_length=1,
        description="Words that, at the start of the subject (after RE:/FW:), ask for encryption; also "
        "accepted as `[word]` or `word:`. Any case. Read in the raw Subject header as the encryption service "
        "reads it: a word only an RFC 2047 decoder sees (`=?utf-8?q?encrypt?=`) is no trigger.",
    )
    subject_tag: str = Field(
        default="[encrypt] ",
        description="Prepended to the subject in `subject_tag` mode; must contain a trigger.",
    )
    resend_reason: str = Field(
        default="Add '{trigger}' at the start of the subject and send it again.",
        description="Appended to encrypt rules' reasons when the mode is `reject`.",
    )
    smime: SmimeSettings = Field(default_factory=lambda: SmimeSettings(), description="S/MIME mode settings.")

    @field_validator("triggers")
    @classmethod
    def _words(cls, v: list[str]) -> list[str]:
        out = [t.strip() for t in v]
        if any(not t or any(c.isspace() for c in t) for t in out):
            raise ValueError("each trigger is one word")
        return out

    @field_validator("subject_tag")
    @classmethod
    def _ascii(cls, v: str) -> str:
        if not v.strip() or not v.isascii() or not v.isprintable():
            raise ValueError("the subject tag must be printable ASCII (it is written into the raw header)")
        return v

    @model_validator(mode="after")
    def _tag_is_trigger(self) -> EncryptSettings:
        if not subject_has_trigger(self.subject_tag + "x", self.triggers):
            raise ValueError("subject_tag must start with one of the triggers, or tagging would repeat")
        return self


class LookalikeSettings(FrozenModel):
    enabled: bool = Field(default=True, description="Classify lookalike domains.")
    max_edit_distance: int = Field(default=1, ge=0, le=3, description="Typos allowed for ordinary names.")
    long_name_length: int = Field(default=9, ge=1, description="A registrable name this long or longer is `long`.")
    long_name_max_edit_distance: int = Field(default=2, ge=0, le=3, description="Typos allowed for long names.")
    min_name_length: int = Field(
        default=4, ge=1, description="Names shorter than this get no typo check (too many honest neighbours)."
    )
    name_elsewhere: bool = Field(
        default=True,
        description="The organisation's name as a label under another domain (`cafcass.co.uk`) is a lookalike.",
    )


class RecipientSettings(FrozenModel):
    freemail: str | None = Field(
        default="lists/freemail.txt",
        description="Freemail and UK ISP domains, one a line (subdomains match).",
    )
    storage_or_ai: str | None = Field(
        default="lists/storage_ai.txt",
        description="Upload addresses of cloud storage / AI services: a full address, or a domain (with "
        "its subdomains).",
    )
    partner_domains: str | None = Field(
        default="lists/partner_domains.txt",
        description="Trusted partner domains: still external, but protected from lookalikes.",
    )
    personal_directory: str | None = Field(
        default="lists/personal_addresses.txt",
        description="Known personal addresses per staff member: `staff@org personal@x [personal2@y ...]`.",
    )
    case_always_allowed: str | None = Field(
        default=None,
        description="Addresses or domains (with their subdomains) that may receive mail about any case: courts "
        "and the organisation's own partners. A list file; no case_recipient_mismatch for them.",
    )
    lookalike: LookalikeSettings = Field(default_factory=lambda: LookalikeSettings(), description="Lookalike checks.")


class SenderGroup(FrozenModel):
    file: str | None = Field(default=None, description="List file of members, relative to the policy file.")
    members: list[str] = Field(
        default_factory=list, description="Inline members: addresses, or domains for everyone there."
    )


class SensitivityLabelSettings(FrozenModel):
    headers: list[str] = Field(
        default_factory=lambda: ["msip_labels", "X-Sensitivity-Label", "X-Classification"],
        description="Headers that carry a sensitivity label (Microsoft Purview writes `msip_labels`).",
    )
    encrypting_labels: list[str] = Field(
        default_factory=list,
        description="Label names or ids whose label encrypts the message (compared loosely, any case).",
    )
    marking_labels: list[str] = Field(
        default_factory=lambda: ["OFFICIAL-SENSITIVE"],
        description="Label names that count as a protective marking (compared loosely, any case).",
    )


class MarkingSettings(FrozenModel):
    patterns: list[str] = Field(
        default_factory=lambda: [r"\bOFFICIAL[\s_-]*SENSITIVE\b"],
        description="Regular expressions (case-insensitive) for a protective marking.",
    )
    first_lines: int = Field(default=5, ge=1, description="A body marking counts only in this many non-empty lines.")
    first_chars: int = Field(default=500, ge=1, description="... and only in this many characters of the body.")
    max_other_words: int = Field(
        default=4,
        ge=0,
        description="A marking line has at most this many other words; a sentence mentioning the marking "
        "(a disclaimer) is not a marking.",
    )

    @field_validator("patterns")
    @classmethod
    def _compile(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {p!r}: {exc}") from None
        return v


@dataclass(frozen=True)
class PolicyLists:
    """List-file contents, loaded once; what ``decide`` and the recipient classifier look things up in."""

    freemail: frozenset[str] = frozenset()
    storage_or_ai: frozenset[str] = frozenset()
    partner_domains: frozenset[str] = frozenset()
    personal_directory: Mapping[str, frozenset[str]] = field(default_factory=dict)
    sender_groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    cert_dir: Path | None = None
    case_always_allowed: frozenset[str] = frozenset()
    """Addresses and domains never in a case-recipient mismatch (issue 16)."""


class PolicyConfig(FrozenModel):
    """The whole policy file. ``lists`` holds the loaded list files (set by ``load_policy``)."""

    version: Literal[1] = Field(default=1, description="Schema version of this file.")
    allow_empty: bool = Field(
        default=False,
        description="Run with no (enabled) rules, so that every message passes. Off: a policy file with no rules "
        "(empty, truncated, every rule disabled) is a config error, and a reload keeps the running policy.",
    )
    rules: list[Rule] = Field(default_factory=list, description="The policy table; most severe action wins.")
    encrypt: EncryptSettings = Field(default_factory=lambda: EncryptSettings(), description="How `encrypt` is done.")
    recipients: RecipientSettings = Field(
        default_factory=lambda: RecipientSettings(),
        description="Recipient classification lists and settings.",
    )
    sender_groups: dict[str, SenderGroup] = Field(
        default_factory=dict, description="Named groups of senders (e.g. `associates`) for rule conditions."
    )
    sensitivity_labels: SensitivityLabelSettings = Field(
        default_factory=lambda: SensitivityLabelSettings(),
        description="Sensitivity-label headers and label names.",
    )
    protective_marking: MarkingSettings = Field(
        default_factory=lambda: MarkingSettings(),
        description="What counts as a protective marking, and where.",
    )

    _lists: PolicyLists = PrivateAttr(default_factory=lambda: PolicyLists())

    @property
    def lists(self) -> PolicyLists:
        return self._lists

    def with_lists(self, lists: PolicyLists) -> PolicyConfig:
        """A copy carrying loaded lists (tests build policies in memory this way)."""
        copy = self.model_copy()
        copy._lists = lists
        return copy

    def reference_problems(self, file: Path | str) -> list[ConfigProblem]:
        """Cross-references between rules and sender groups, each named by the key where it is wrong."""
        problems: list[ConfigProblem] = []
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                problems.append(ConfigProblem(str(file), f"rules.{i}.id", f"duplicate rule id {rule.id!r}"))
            seen.add(rule.id)
            for key in ("sender_groups", "sender_not_in_groups"):
                for g in getattr(rule.when, key) or []:
                    if g not in self.sender_groups:
                        problems.append(
                            ConfigProblem(str(file), f"rules.{i}.when.{key}", f"unknown sender group {g!r}")
                        )
        return problems


def _domain_set(entries: list[str]) -> frozenset[str]:
    return frozenset(to_ascii(e) for e in entries)


def _address(entry: str) -> str:
    local, _, domain = entry.rpartition("@")
    return f"{local}@{to_ascii(domain)}" if local else to_ascii(entry)


def load_lists(policy: PolicyConfig, base: Path, policy_file: Path | str) -> PolicyLists:
    """Read every list file ``policy`` names; all problems are reported together, each naming its key."""
    problems: list[ConfigProblem] = []

    def read(key: str, rel: str | None) -> list[str]:
        if rel is None:
            return []
        path = Path(rel) if Path(rel).is_absolute() else base / rel
        try:
            return read_list_file(path)
        except ConfigError as exc:
            problems.extend(ConfigProblem(str(policy_file), key, f"{p.expected}: {path}") for p in exc.problems)
            return []

    def domains(key: str, entries: list[str]) -> frozenset[str]:
        bad = check_domains(entries)
        if bad:
            problems.append(ConfigProblem(str(policy_file), key, f"not domain names: {', '.join(bad[:5])}"))
        return _domain_set(entries)

    r = policy.recipients
    freemail = domains("recipients.freemail", read("recipients.freemail", r.freemail))
    partners = domains("recipients.partner_domains", read("recipients.partner_domains", r.partner_domains))
    suffixes = sorted(d for d in partners if is_public_suffix(d))
    if suffixes:
        problems.append(
            ConfigProblem(
                str(policy_file),
                "recipients.partner_domains",
                f"public suffixes would trust everyone under them; list registrable domains: {suffixes}",
            )
        )
    storage_entries = read("recipients.storage_or_ai", r.storage_or_ai)
    bad_storage = check_domains([e.rpartition("@")[2] for e in storage_entries])
    if bad_storage:
        problems.append(
            ConfigProblem(str(policy_file), "recipients.storage_or_ai", f"not addresses or domains: {bad_storage[:5]}")
        )
    storage = frozenset(_address(e) for e in storage_entries)

    directory: dict[str, set[str]] = {}
    for line in read("recipients.personal_directory", r.personal_directory):
        parts = [p for p in line.replace(",", " ").replace(":", " ").split() if p]
        if len(parts) < 2 or not all("@" in p for p in parts):
            problems.append(
                ConfigProblem(
                    str(policy_file),
                    "recipients.personal_directory",
                    "each line is `staff@org personal@example [more ...]`",
                )
            )
            continue
        directory.setdefault(_address(parts[0]), set()).update(_address(p) for p in parts[1:])

    always_entries = read("recipients.case_always_allowed", r.case_always_allowed)
    bad_always = check_domains([e.rpartition("@")[2] for e in always_entries])
    if bad_always:
        problems.append(ConfigProblem(
            str(policy_file), "recipients.case_always_allowed", f"not addresses or domains: {bad_always[:5]}"))
    always = frozenset(_address(e.lstrip("@")) for e in always_entries)

    groups: dict[str, frozenset[str]] = {}
    for name, group in policy.sender_groups.items():
        members = [m.strip().lower() for m in group.members if m.strip()]
        members += read(f"sender_groups.{name}.file", group.file)
        # ``someone@org`` is one sender; ``org`` or ``@org`` is everyone at that domain.
        groups[name] = frozenset(_address(m.lstrip("@")) for m in members)

    cert_dir = base / policy.encrypt.smime.cert_dir
    uses_smime = policy.encrypt.mode == "smime"
    if uses_smime and not cert_dir.is_dir():
        problems.append(
            ConfigProblem(str(policy_file), "encrypt.smime.cert_dir", f"certificate folder not found: {cert_dir}")
        )
    if problems:
        raise ConfigError(problems)
    return PolicyLists(
        freemail=freemail,
        storage_or_ai=storage,
        partner_domains=partners,
        personal_directory={k: frozenset(v) for k, v in directory.items()},
        sender_groups=groups,
        cert_dir=cert_dir,
        case_always_allowed=always,
    )


def _enabled_rules(policy: PolicyConfig) -> list[Rule]:
    return [r for r in policy.rules if r.enabled]


def empty_policy_problem(policy: PolicyConfig, file: Path | str) -> ConfigProblem | None:
    """A policy with no enabled rules passes every message. An empty or truncated file (a half-written copy, a
    bad edit) reads exactly like that, so it is only accepted when the file says ``allow_empty: true``: the
    one way to run with no rules is to write it down."""
    if _enabled_rules(policy) or policy.allow_empty:
        return None
    return ConfigProblem(
        str(file),
        "rules",
        "no enabled rules: every message would pass. If the file is empty or cut short, restore it; "
        "to run without rules on purpose, set allow_empty: true",
    )


def policy_warnings(policy: PolicyConfig) -> list[str]:
    """What ``check-config`` points out about a valid policy that enforces nothing (a trial run, or a policy
    allowed to be empty): legal, but an operator should know that no message is stopped or changed."""
    enabled = _enabled_rules(policy)
    if not enabled:
        return ["the policy has no enabled rules (allow_empty: true): every message passes unchanged"]
    if all(r.mode == "monitor" for r in enabled):
        return [f"all {len(enabled)} enabled rules are in monitor mode: nothing is enforced, hits are only recorded"]
    return [
        f"rule {r.id}: exemptable: false has no effect on a {'monitor-mode' if r.mode == 'monitor' else 'pass'} rule"
        for r in enabled
        if not r.exemptable and (r.mode == "monitor" or r.action == "pass")
    ]


def load_policy(path: Path) -> PolicyConfig:
    """Validate the file and load every list it names; raises ConfigError naming file and key (a policy with no
    enabled rules is an error unless it sets ``allow_empty``)."""
    policy = model_from_data(path, read_yaml(path), PolicyConfig)
    problems = policy.reference_problems(path)
    empty = empty_policy_problem(policy, path)
    if empty is not None:
        problems.append(empty)
    if problems:
        raise ConfigError(problems)
    return policy.with_lists(load_lists(policy, path.parent, path))
