"""Method configuration: defaults, ``--set key=value`` overrides, and the config hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from landmarkbench.errors import ConfigError
from landmarkbench.registry import did_you_mean

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_value(key: str, text: str, default: Any) -> Any:
    """Convert ``text`` to the type of ``default`` or raise a ConfigError sentence."""
    kind = type(default).__name__
    try:
        if isinstance(default, bool):
            lowered = text.strip().lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, (tuple, list)):
            parts = [p for p in text.replace("(", "").replace(")", "").split(",") if p.strip()]
            element = default[0] if default else 0
            return tuple(_parse_value(key, p.strip(), element) for p in parts)
        if default is None or isinstance(default, str):
            return text
    except ValueError:
        pass
    example = ",".join(map(str, default)) if isinstance(default, (tuple, list)) else default
    raise ConfigError(
        f"Setting {key}={text!r} is not a valid {kind} (default {default!r}); "
        f"pass a {kind}, e.g. --set {key}={example}."
    )


def parse_overrides(pairs: Iterable[str]) -> dict[str, str]:
    """Split ``key=value`` strings into a dict (values still text).

    Raises:
        ConfigError: for an item without '='.
    """
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"Override {pair!r} is not of the form key=value; write e.g. --set max_epochs=10."
            )
        parsed[key.strip()] = value.strip()
    return parsed


def resolve_config(
    defaults: Mapping[str, Any], overrides: Mapping[str, str], *, owner: str
) -> dict[str, Any]:
    """Apply text ``overrides`` to ``defaults`` with type checks.

    Args:
        defaults: The method's default configuration (its values fix each key's type).
        overrides: ``key -> text`` from the command line.
        owner: Name used in messages, e.g. "method 'argmax'".

    Raises:
        ConfigError: for an unknown key (with close matches) or a badly typed value.
    """
    resolved = dict(defaults)
    for key, text in overrides.items():
        if key not in defaults:
            raise ConfigError(did_you_mean(f"setting for {owner}", key, list(defaults)))
        resolved[key] = _parse_value(key, text, defaults[key])
    return resolved


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the text that hashes identify."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def short_hash(value: Any, length: int = 10) -> str:
    """Prefix of the sha256 of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]
