"""policy.yaml loading: the shipped file is valid; mistakes are errors naming the file and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from gateway.config_errors import ConfigError
from gateway.policy import config as policy_config
from gateway.policy import model as policy_model
from gateway.policy.config import PolicyConfig, load_policy

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "policy.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(SHIPPED, tmp_path / "policy.yaml")
    shutil.copytree(ROOT / "config" / "lists", tmp_path / "lists")
    shutil.copytree(ROOT / "config" / "certs", tmp_path / "certs")
    return tmp_path


def edit(folder: Path, change: object) -> Path:
    path = folder / "policy.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data))
    return path


def problems(path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as exc:
        load_policy(path)
    return [(p.file, p.key, p.expected) for p in exc.value.problems]


def test_shipped_policy_loads() -> None:
    """The default policy pack and its lists load, with every rule citing a clause."""
    policy = load_policy(SHIPPED)
    assert len(policy.rules) >= 10
    assert all(r.clause and r.reason for r in policy.rules)
    assert "gmail.com" in policy.lists.freemail and "btinternet.com" in policy.lists.freemail
    assert "justice.gov.uk" in policy.lists.partner_domains
    assert policy.encrypt.mode == "subject_tag"


def test_unknown_key_named(folder: Path) -> None:
    """A mistyped key is an error naming the file and the key path."""
    path = edit(folder, lambda d: d["rules"][0]["when"].update({"recipient_class": ["personal"]}))
    (p,) = problems(path)
    assert p[0] == str(path) and p[1] == "rules.0.when.recipient_class"


def test_missing_list_file_named(folder: Path) -> None:
    """A list file that is not there names the policy key that points to it."""
    (folder / "lists" / "freemail.txt").unlink()
    (p,) = problems(folder / "policy.yaml")
    assert p[1] == "recipients.freemail" and "freemail.txt" in p[2]


def test_duplicate_rule_id_and_unknown_group(folder: Path) -> None:
    """Duplicate rule ids and unknown sender groups are caught with the rule's key."""

    def change(d: dict) -> None:  # type: ignore[type-arg]
        d["rules"][1]["id"] = d["rules"][0]["id"]

    assert problems(edit(folder, change))[0][1] == "rules.1.id"

    def change2(d: dict) -> None:  # type: ignore[type-arg]
        d["rules"][1]["id"] = "x-other"
        d["rules"][0]["when"]["sender_groups"] = ["nobody"]

    assert problems(edit(folder, change2))[0][1] == "rules.0.when.sender_groups"


def test_bad_values(folder: Path) -> None:
    """Bad action, bad regex, and a subject tag that is not a trigger are rejected."""
    assert problems(edit(folder, lambda d: d["rules"][0].update({"action": "delete"})))[0][1] == "rules.0.action"
    path = edit(
        folder,
        lambda d: d["rules"][0].update({"action": "reject", "when": {"headers": [{"name": "X", "pattern": "("}]}}),
    )
    assert problems(path)[0][1].startswith("rules.0.when.headers.0.pattern")
    path = edit(folder, lambda d: d.update({"rules": [], "encrypt": {"subject_tag": "[secure] "}}))
    assert problems(path)[0][1] == "encrypt"


def test_public_suffix_partner_refused(folder: Path) -> None:
    """Listing gov.uk as a partner would trust every domain under it, lookalikes included."""
    with (folder / "lists" / "partner_domains.txt").open("a") as fh:
        fh.write("gov.uk\n")
    (p,) = problems(folder / "policy.yaml")
    assert p[1] == "recipients.partner_domains" and "gov.uk" in p[2]


def test_smime_needs_cert_dir(folder: Path) -> None:
    """S/MIME mode with no certificate folder is a start-up error."""
    shutil.rmtree(folder / "certs")
    path = edit(folder, lambda d: d["encrypt"].update({"mode": "smime"}))
    assert problems(path)[0][1] == "encrypt.smime.cert_dir"


def test_rule_without_conditions_refused(folder: Path) -> None:
    """A rule with no conditions would fire on every message; it must say when."""
    path = edit(folder, lambda d: d["rules"][0].update({"when": {}}))
    assert problems(path)[0][1].startswith("rules.0")


def test_sender_group_inline_and_file(folder: Path) -> None:
    """Sender groups combine inline members and a list file; domains cover everyone there."""
    (folder / "lists" / "associates.txt").write_text("# test\nassoc.one@cafcass.gov.uk\n")
    path = edit(folder, lambda d: d["sender_groups"]["associates"].update({"members": ["@associates.example"]}))
    policy = load_policy(path)
    assert policy.lists.sender_groups["associates"] == {"assoc.one@cafcass.gov.uk", "associates.example"}


def test_every_field_is_described() -> None:
    """Every policy setting has a description (check-config and docs rely on it)."""
    models: list[type[BaseModel]] = [
        obj
        for mod in (policy_config, policy_model)
        for obj in vars(mod).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == mod.__name__
    ]
    assert PolicyConfig in models
    for m in models:
        for name, info in m.model_fields.items():
            assert info.description, f"{m.__name__}.{name}"
        assert m.model_config.get("extra") == "forbid", m.__name__
