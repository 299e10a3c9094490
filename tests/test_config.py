"""Configuration overrides: types, unknown keys, hashing."""

from __future__ import annotations

import pytest

from landmarkbench.config import parse_overrides, resolve_config, short_hash
from landmarkbench.errors import ConfigError

DEFAULTS = {
    "max_epochs": 40,
    "learning_rate": 1e-3,
    "augment": True,
    "channels": (16, 32),
    "name": "x",
}


def test_overrides_take_the_type_of_the_default() -> None:
    resolved = resolve_config(
        DEFAULTS,
        parse_overrides(["max_epochs=3", "learning_rate=0.5", "augment=false", "channels=4,8,16"]),
        owner="method 'm'",
    )
    assert resolved == {
        **DEFAULTS,
        "max_epochs": 3,
        "learning_rate": 0.5,
        "augment": False,
        "channels": (4, 8, 16),
    }


def test_unknown_key_is_a_did_you_mean_error() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'max_epochs'"):
        resolve_config(DEFAULTS, {"max_epoch": "3"}, owner="method 'm'")


def test_wrong_type_is_a_sentence() -> None:
    with pytest.raises(ConfigError, match=r"max_epochs='ten' is not a valid int"):
        resolve_config(DEFAULTS, {"max_epochs": "ten"}, owner="method 'm'")
    with pytest.raises(ConfigError, match="not a valid bool"):
        resolve_config(DEFAULTS, {"augment": "maybe"}, owner="method 'm'")


def test_override_without_equals_sign() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["max_epochs"])


def test_hash_is_order_independent_and_sensitive_to_values() -> None:
    assert short_hash({"a": 1, "b": 2}) == short_hash({"b": 2, "a": 1})
    assert short_hash({"a": 1}) != short_hash({"a": 2})
