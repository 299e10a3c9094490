"""Method configuration: defaults, their rules, ``--set key=value`` overrides, the config hash.

A method (or a dataset) declares its settings once, as a ``DeclaredSettings``: the default
of each key (which fixes its type), the ``Rule`` of the keys whose values are bounded
(choices or a range), and checks that involve several keys. ``resolve_config`` applies the
overrides and enforces all of them, so a bad value is refused with one sentence when a run
is planned, never during training.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from landmarkbench.errors import ConfigError
from landmarkbench.registry import did_you_mean

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Rule:
    """The values one setting accepts: a list of choices, or a numeric range.

    For a tuple setting the range applies to every element and ``nonempty`` requires at
    least one. Numbers must be finite whenever a range is given.

    Attributes:
        choices: The accepted values (text settings).
        minimum: Lowest accepted number (inclusive unless ``exclusive_minimum``).
        maximum: Highest accepted number (inclusive unless ``exclusive_maximum``).
        nonempty: Tuple settings: at least one element.
        odd: Integers only: the value must be odd (0 is accepted when ``zero_means`` is set).
        zero_means: What 0 stands for, when 0 is a special value outside the range.
        example: A valid value for the fix, e.g. "16,32,64".
    """

    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    nonempty: bool = False
    odd: bool = False
    zero_means: str | None = None
    example: str | None = None

    def describe(self, integer: bool = False) -> str:
        """The rule as words, e.g. "a finite number > 0" or "one of 'unet', 'scn'"."""
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        noun = "an odd integer" if self.odd else "an integer" if integer else "a finite number"
        text = " ".join([noun, " and ".join(bounds)]) if bounds else noun
        if self.zero_means:
            text += f" (or 0 for {self.zero_means})"
        return text

    def problem(self, value: Any) -> str | None:
        """Why ``value`` breaks the rule (a clause), or None when it is accepted."""
        integer = all(
            isinstance(v, int) and not isinstance(v, bool)
            for v in (value if isinstance(value, (tuple, list)) else [value])
        )
        if isinstance(value, (tuple, list)):
            if self.nonempty and not value:
                return "must list at least one value"
            for element in value:
                if self._element_problem(element) is not None:
                    return f"holds {element!r}; every element must be {self.describe(integer)}"
            return None
        reason = self._element_problem(value)
        return None if reason is None else f"must be {self.describe(integer)}"

    def _element_problem(self, value: Any) -> str | None:
        if self.choices is not None:
            return None if value in self.choices else "choice"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if self.zero_means and value == 0:
            return None
        if not math.isfinite(value):
            return "finite"
        low, high = self.minimum, self.maximum
        if low is not None and (value < low or (self.exclusive_minimum and value == low)):
            return "range"
        if high is not None and (value > high or (self.exclusive_maximum and value == high)):
            return "range"
        if self.odd and int(value) % 2 == 0:
            return "odd"
        return None


def choice(*values: Any) -> Rule:
    """A setting that takes one of ``values``."""
    return Rule(choices=tuple(values))


def at_least(minimum: float, **more: Any) -> Rule:
    """A number (or every element of a tuple) >= ``minimum``."""
    return Rule(minimum=minimum, **more)


def above(minimum: float, **more: Any) -> Rule:
    """A finite number > ``minimum``."""
    return Rule(minimum=minimum, exclusive_minimum=True, **more)


# A check involving several settings: (resolved config, owner) -> a sentence or None.
CrossCheck = Callable[[Mapping[str, Any], str], "str | None"]


class DeclaredSettings(dict):
    """Defaults of a method's (or dataset's) settings, with the rules they must obey.

    It is a plain ``dict`` of the defaults (hashes and equality are those of the dict);
    ``rules`` maps keys to a ``Rule`` and ``checks`` are functions over the whole resolved
    configuration (e.g. a grid that must be divisible for the network's depth).
    """

    def __init__(
        self,
        values: Mapping[str, Any],
        rules: Mapping[str, Rule] | None = None,
        checks: Sequence[CrossCheck] = (),
    ) -> None:
        super().__init__(values)
        unknown = sorted(set(rules or {}) - set(values))
        if unknown:  # a programming error of the declaring module
            raise KeyError(f"Rules for undeclared settings: {', '.join(unknown)}.")
        self.rules: dict[str, Rule] = dict(rules or {})
        self.checks: tuple[CrossCheck, ...] = tuple(checks)

    def extend(
        self,
        values: Mapping[str, Any],
        rules: Mapping[str, Rule] | None = None,
        checks: Sequence[CrossCheck] = (),
    ) -> DeclaredSettings:
        """These settings with more (or changed) defaults, rules and checks."""
        return DeclaredSettings(
            {**self, **values}, {**self.rules, **(rules or {})}, (*self.checks, *checks)
        )


class Settings(Mapping[str, Any]):
    """Base of the typed settings of a method family: a frozen dataclass with one typed field
    per declared setting (built by ``settings_type``), readable as attributes and, for code
    written against the dict, as a read-only mapping in declared order."""

    def __getitem__(self, key: str) -> Any:
        if key in self.__dataclass_fields__:  # type: ignore[attr-defined]
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dataclass_fields__)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)  # type: ignore[attr-defined]

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (what hashes and files hold)."""
        return dict(self.items())


def settings_type(defaults: Mapping[str, Any], name: str = "Settings") -> type[Settings]:
    """The frozen dataclass of ``defaults``: a field per key, typed and defaulted by its
    declared default (made once per ``DeclaredSettings``)."""
    cached = getattr(defaults, "_settings_type", None)
    if cached is None:  # plain dicts: one class per (name, defaults)
        cached = _SETTINGS_TYPES.get((name, canonical_json(defaults)))
    if cached is not None:
        return cached
    made = dataclasses.make_dataclass(
        name,
        [
            (key, Any if value is None else type(value), dataclasses.field(default=value))
            for key, value in defaults.items()
        ],
        bases=(Settings,),
        frozen=True,
    )
    if isinstance(defaults, DeclaredSettings):
        defaults._settings_type = made
    else:
        _SETTINGS_TYPES[(name, canonical_json(defaults))] = made
    return made


_SETTINGS_TYPES: dict[tuple[str, str], type[Settings]] = {}


def typed_settings(
    defaults: Mapping[str, Any], values: Mapping[str, Any], name: str = "Settings"
) -> Settings:
    """Resolved ``values`` (every key of ``defaults``, already checked) as typed settings."""
    if isinstance(values, settings_type(defaults, name)):
        return values
    return settings_type(defaults, name)(**{**defaults, **values})


def check_settings(
    settings: Mapping[str, Any], declared: Mapping[str, Any], *, owner: str, flag: str = "--set"
) -> None:
    """Enforce the rules and cross-checks of ``declared`` on resolved ``settings``.

    Raises:
        ConfigError: naming the first setting that breaks its rule, the rule and a fix.
    """
    for key, rule in getattr(declared, "rules", {}).items():
        if key not in settings:
            continue
        value = settings[key]
        reason = rule.problem(value)
        if reason is None:
            continue
        example = rule.example or _example(declared[key])
        if rule.choices is not None and isinstance(value, str):
            close = difflib.get_close_matches(value, [str(c) for c in rule.choices], n=1)
            example = close[0] if close else example
        what = "Dataset option" if flag == "--data-option" else "Setting"
        # A flag ending in ':' is a section of an experiment file.
        fix = f"{flag} {key}={example}" if not flag.endswith(":") else f"{key}: {example}"
        raise ConfigError(f"{what} {key}={_shown(value)} of {owner} {reason}; pass e.g. {fix}.")
    for check in getattr(declared, "checks", ()):
        sentence = check(settings, owner)
        if sentence:
            raise ConfigError(sentence)


def _shown(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value)) if value else "(empty)"
    return str(value)


def _example(default: Any) -> str:
    if isinstance(default, (tuple, list)):
        return ",".join(map(str, default))
    return str(default)


def _parse_value(key: str, text: str, default: Any, flag: str = "--set") -> Any:
    """Convert ``text`` to the type of ``default`` or raise a ConfigError sentence."""
    kind = {"int": "an integer", "float": "a number", "bool": "true or false"}.get(
        type(default).__name__, f"a {type(default).__name__}"
    )
    if isinstance(default, (tuple, list)):
        kind = "a comma-separated list"
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
            return tuple(_parse_value(key, p.strip(), element, flag) for p in parts)
        if default is None or isinstance(default, str):
            return text
    except ValueError:
        pass
    example = ",".join(map(str, default)) if isinstance(default, (tuple, list)) else default
    what = "Dataset option" if flag == "--data-option" else "Setting"
    raise ConfigError(
        f"{what} {key}={text!r} is not {kind} (default {default!r}); "
        f"pass {kind}, e.g. {flag} {key}={example}."
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
    defaults: Mapping[str, Any],
    overrides: Mapping[str, Any],
    *,
    owner: str,
    flag: str = "--set",
) -> dict[str, Any]:
    """Apply text ``overrides`` to ``defaults`` with type checks, then enforce the rules.

    Args:
        defaults: The default configuration (its values fix each key's type); a
            ``DeclaredSettings`` also brings the rules every resolved value must obey.
        overrides: ``key -> value``: text from the command line, or typed values (numbers,
            flags, lists) from an experiment file.
        owner: Name used in messages, e.g. "method 'argmax'".
        flag: The command-line option the values come from, for the fix in messages.

    Raises:
        ConfigError: for an unknown key (with close matches), a badly typed value or a value
            that breaks its rule (a choice, a range, a cross-check).
    """
    resolved = dict(defaults)
    for key, value in overrides.items():
        if key not in defaults:
            kind = "option of" if flag == "--data-option" else "setting for"
            raise ConfigError(did_you_mean(f"{kind} {owner}", key, list(defaults)))
        resolved[key] = typed_value(key, value, defaults[key], flag)
    check_settings(resolved, defaults, owner=owner, flag=flag)
    return resolved


def typed_value(key: str, value: Any, default: Any, flag: str = "--set") -> Any:
    """``value`` (text from a command line, or a number, flag or list from an experiment
    file) as the type of ``default``: 3 becomes 3.0 for a float setting and a list a tuple,
    so a setting's canonical JSON (and every hash over it) does not depend on its source.

    Raises:
        ConfigError: for a value of another type, with the fix.
    """
    if isinstance(value, str):
        return _parse_value(key, value, default, flag)
    if isinstance(default, (tuple, list)) and isinstance(value, (tuple, list)):
        element = default[0] if default else value[0] if value else 0
        return tuple(typed_value(key, v, element, flag) for v in value)
    if default is None or isinstance(value, type(default)):
        if not isinstance(value, bool) or isinstance(default, bool) or default is None:
            return value
    elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return _parse_value(key, _example(value) if value is not None else "", default, flag)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the text that hashes identify."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def short_hash(value: Any, length: int = 10) -> str:
    """Prefix of the sha256 of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]
