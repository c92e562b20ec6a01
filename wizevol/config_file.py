"""Reading a config: the one YAML reader and validation-error formatter (errors name the file and the key),
dotted-path CLI overrides, and the loaders of the run config and of its sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from wizevol.config import EvolveConfig
from wizevol.errors import InputError


def _set_path(d: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
        if not isinstance(d, dict):
            raise InputError(f"cannot override {dotted}: {k} is not a section")
    d[keys[-1]] = value


def format_validation(err: ValidationError, source: str) -> str:
    """One line for a pydantic error: the source, the key's dotted path, the message."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    extra = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"{source}: {where}: {msg}{extra}"


def read_yaml(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A YAML mapping from a file (a config or a prompt template); errors name the file (and the line)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: {what} not found")
    try:
        loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(f"{p}{line}: invalid YAML: {problem}") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not valid UTF-8") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise InputError(f"{p}: expected a mapping at the top level, got {type(loaded).__name__}")
    return loaded


def load_section(cls: type[BaseModel], path: str | Path | None, overrides: dict[str, Any],
                 section: str | None = None):
    """A config of type `cls` (TrialConfig, EvolStopConfig) from YAML (the whole file, or one section of it),
    then CLI overrides; errors name the file and the key."""
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    if section is not None and section in data:
        data = data[section] or {}
    data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation(e, str(path) if path is not None else "command line")) from None


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> EvolveConfig:
    """Read YAML (if given), apply dotted-path CLI overrides, validate. Errors name the file and the key."""
    data: dict[str, Any] = read_yaml(path) if path is not None else {}
    source = str(path) if path is not None else "config"
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_path(data, dotted, value)
            if path is None:
                source = "command line"
    try:
        return EvolveConfig.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation(e, source)) from None
