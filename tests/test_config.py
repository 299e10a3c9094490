"""Configuration overrides: types, unknown keys, hashing."""

from __future__ import annotations

import dataclasses

import pytest

from landmarkbench.config import (
    DeclaredSettings,
    at_least,
    parse_overrides,
    resolve_config,
    settings_type,
    short_hash,
    typed_settings,
)
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
    with pytest.raises(ConfigError, match=r"max_epochs='ten' is not an integer"):
        resolve_config(DEFAULTS, {"max_epochs": "ten"}, owner="method 'm'")
    with pytest.raises(ConfigError, match="is not true or false"):
        resolve_config(DEFAULTS, {"augment": "maybe"}, owner="method 'm'")


def test_override_without_equals_sign() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["max_epochs"])


def test_hash_is_order_independent_and_sensitive_to_values() -> None:
    assert short_hash({"a": 1, "b": 2}) == short_hash({"b": 2, "a": 1})
    assert short_hash({"a": 1}) != short_hash({"a": 2})


def test_declared_rules_refuse_with_value_rule_and_fix() -> None:
    from landmarkbench.config import DeclaredSettings, above, at_least, choice

    declared = DeclaredSettings(
        {"network": "unet", "lr": 1e-3, "epochs": 5, "channels": (4, 8)},
        rules={
            "network": choice("unet", "scn"),
            "lr": above(0),
            "epochs": at_least(1),
            "channels": at_least(1, nonempty=True),
        },
    )
    assert resolve_config(declared, {"epochs": "2"}, owner="method 'm'")["epochs"] == 2
    refusals = {
        "network": ("unte", "must be one of 'unet', 'scn'; pass e.g. --set network=unet."),
        "lr": ("nan", "lr=nan of method 'm' must be a finite number > 0"),
        "epochs": ("0", "epochs=0 of method 'm' must be an integer >= 1; pass e.g. --set epochs=5"),
        "channels": ("", "channels=(empty) of method 'm' must list at least one value"),
    }
    for key, (text, words) in refusals.items():
        with pytest.raises(ConfigError) as error:
            resolve_config(declared, {key: text}, owner="method 'm'")
        assert words in str(error.value)
    extended = declared.extend({"extra": 1.0}, rules={"extra": above(0)})
    assert extended.rules.keys() == {"network", "lr", "epochs", "channels", "extra"}
    assert dict(extended) == {**declared, "extra": 1.0}


def test_dataset_option_messages_name_the_option() -> None:
    with pytest.raises(
        ConfigError, match=r"Dataset option n='abc' is not an integer .* --data-option n=3"
    ):
        resolve_config({"n": 3}, {"n": "abc"}, owner="dataset 'd'", flag="--data-option")
    with pytest.raises(ConfigError, match="Unknown option of dataset 'd'"):
        resolve_config({"n": 3}, {"m": "1"}, owner="dataset 'd'", flag="--data-option")


def test_typed_values_resolve_like_their_text_and_keep_the_hash() -> None:
    defaults = DeclaredSettings(
        {"lr": 0.1, "epochs": 5, "channels": (16, 32), "augment": True}, {"epochs": at_least(1)}
    )
    typed = resolve_config(
        defaults, {"lr": 1, "epochs": 3, "channels": [8], "augment": False}, owner="m"
    )
    text = resolve_config(
        defaults, {"lr": "1", "epochs": "3", "channels": "8", "augment": "false"}, owner="m"
    )
    assert typed == text and isinstance(typed["lr"], float) and typed["channels"] == (8,)
    assert short_hash(typed) == short_hash(text)
    for key, value in {"epochs": 2.5, "augment": 1.5, "epochs ": 1}.items():
        with pytest.raises(ConfigError):
            resolve_config(defaults, {key: value}, owner="m")
    with pytest.raises(ConfigError, match="epochs=0"):
        resolve_config(defaults, {"epochs": 0}, owner="m")


def test_settings_are_a_frozen_dataclass_per_declaration_read_as_a_mapping() -> None:
    defaults = DeclaredSettings({"lr": 0.1, "channels": (16, 32)})
    settings = typed_settings(defaults, resolve_config(defaults, {"lr": "0.2"}, owner="m"))
    assert settings.lr == 0.2 and settings["channels"] == (16, 32)
    assert dict(settings) == {"lr": 0.2, "channels": (16, 32)}  # the hashed dict is unchanged
    assert short_hash(dict(settings)) == short_hash({"lr": 0.2, "channels": (16, 32)})
    assert type(settings) is settings_type(defaults)  # one class per declaration
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 1.0  # type: ignore[misc]
