"""Config errors that name the file, the key and what was expected, and the YAML-to-model loader that makes them.

Kept apart from ``gateway.config`` so that every section's owner (mime, policy, detectors, store) can load and
validate its own file without importing the whole configuration.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class FrozenModel(BaseModel):
    """Base of every configuration model: an unknown key is an error (a typo never silently drops a
    setting), and loaded settings never change under a running generation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    file: str
    key: str
    expected: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key or '<top>'}: {self.expected}"


class ConfigError(Exception):
    """One or more configuration problems; ``str()`` lists them one per line as file: key: problem."""

    def __init__(self, problems: list[ConfigProblem] | ConfigProblem) -> None:
        self.problems = problems if isinstance(problems, list) else [problems]
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, file: Path | str, key: str, expected: str) -> ConfigError:
        return cls(ConfigProblem(str(file), key, expected))


M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, turning I/O and syntax errors into ConfigError with the line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.one(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.one(path, "", f"cannot read file ({exc.__class__.__name__})") from None
    try:
        return yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError.one(path, where, f"invalid YAML: {problem}") from None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The settings models an annotation can hold (through Optional, list, dict, Annotated, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _field_names_at(model: type[BaseModel], loc: tuple[Any, ...]) -> set[str]:
    """The keys allowed at ``loc`` (a validation error's path, without its last part): what "did you mean"
    compares an unknown key with. List indexes and dict keys pass through to the element's model."""
    candidates = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        nxt = [m for c in candidates if part in c.model_fields for m in _models_in(c.model_fields[part].annotation)]
        if nxt:
            candidates = nxt
        elif not any(part in c.model_fields for c in candidates):
            continue  # a dict key or a union tag: stay with the models we have
        else:
            return set()
    return {name for c in candidates for name in c.model_fields}


def _named_position(data: Any, loc: tuple[Any, ...]) -> str:
    """``recognizers.15.patterns.0.regex`` says where, not which: the ``name`` of the outermost list entry
    on the path (a recognizer's, a rule's), so the operator can search the file for it. "" when there is none."""
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return ""
        if isinstance(part, int) and isinstance(node, dict) and isinstance(node.get("name"), str):
            return str(node["name"])
    return ""


def validation_problems(
    path: Path | str, exc: ValidationError, prefix: str = "", *, model: type[BaseModel] | None = None,
    data: Any = None,
) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in loc)
        name = _named_position(data, loc) if data is not None else ""
        if name:
            key = f"{key} (name: {name})"
        if prefix:
            key = f"{prefix}.{key}" if key else prefix
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            hint = did_you_mean(str(loc[-1]), _field_names_at(model, loc[:-1])) if model and loc else ""
            msg = f"unknown key{hint or ' (check spelling; see the documented keys)'}"
        elif err["type"] == "missing":
            msg = "required key is missing"
        problems.append(ConfigProblem(str(path), key, msg))
    return problems


def model_from_data(path: Path | str, data: Any, model: type[M], prefix: str = "") -> M:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError.one(path, prefix, f"expected a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(path, exc, prefix, model=model, data=data)) from None


def read_list_file(path: Path) -> list[str]:
    """One entry a line; blank lines and ``#`` comments ignored; entries lower-cased and stripped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError.one(path, "", "list file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.one(path, "", f"cannot read list file ({exc.__class__.__name__})") from None
    out = []
    for line in lines:
        entry = line.split("#", 1)[0].strip().lower()
        if entry:
            out.append(entry)
    return out


def did_you_mean(word: str, vocabulary: Iterable[str]) -> str:
    """`` (did you mean `UK_NHS`?)`` for the closest names of ``vocabulary`` (difflib), or ""."""
    choices = sorted(set(vocabulary))
    upper = word.upper()
    # A name inside the word or the word inside a name (UK_NHS_NUMBER, NINO) before difflib's ratio, which
    # prefers long names sharing a long suffix (UK_COURT_CASE_NUMBER).
    inside = [c for c in choices if len(c) >= 3 and len(upper) >= 3 and (c.upper() in upper or upper in c.upper())]
    close = sorted(inside, key=lambda c: -difflib.SequenceMatcher(None, upper, c.upper()).ratio())[:2]
    if not close:
        folded = {c.upper(): c for c in choices}
        close = difflib.get_close_matches(upper, list(folded), n=2, cutoff=0.6)
        close = [folded[c] for c in close]
    return f" (did you mean {' or '.join(f'`{c}`' for c in close)}?)" if close else ""
