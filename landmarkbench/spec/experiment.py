"""The experiment spec: everything that defines a benchmark experiment, typed and validated.

One ``ExperimentSpec`` is what ``run`` and ``regress`` execute: the dataset (name, options,
ground truth), the protocol (kind, folds, split seed, inner validation share), the methods
with their resolved settings, the training seeds, the evaluation conventions, prediction
regions, tracking and device. It is the one place the run defaults live (the command-line
help reads them), it validates completely when built (the per-setting rules are declared with
``config.DeclaredSettings`` and enforced by ``config.resolve_config``), and it serialises to
canonical JSON (``identity`` is its hash) and to YAML (``spec.yaml_io``).

A spec with several methods or seeds stands for several runs; ``for_run`` narrows it to the
one (method, seed) whose results a run folder holds. A run's folder and config hash are
computed by the runner from the resolved settings, exactly as before the spec existed.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from landmarkbench.catalog import DATASETS, METHODS, PROTOCOLS
from landmarkbench.config import (
    DeclaredSettings,
    Rule,
    canonical_json,
    choice,
    resolve_config,
    short_hash,
    typed_settings,
    typed_value,
)
from landmarkbench.devices import DEVICE_CHOICES
from landmarkbench.errors import UsageError
from landmarkbench.spec.recipes import (
    NO_RECIPE,
    available_recipes,
    check_recipe,
    default_recipe,
    device_kind,
    recipe_path,
    recipe_settings,
)

DEFAULT_DATASET = "synthetic_ceph"
DEFAULT_METHODS = ("mean_shape", "subpixel")
DEFAULT_SEEDS = (0,)
DEFAULT_FOLDS = 5
SDR_OPERATORS = ("<=", "<")
AGGREGATIONS = ("pooled", "per_image")
UNCERTAINTY_METHODS = ("conformal", "hdr")
FOLDS_PROTOCOLS = ("kfold", "holdout")  # the protocols that read K (--folds)

# The declared defaults and rules of the experiment-level settings (section -> settings).
PROTOCOL_SETTINGS = DeclaredSettings(
    {"kind": None, "folds": None, "split_seed": 0, "val_fraction": 0.1},
    {"split_seed": Rule(minimum=0, example="0")},
)
EVALUATION_SETTINGS = DeclaredSettings(
    {"sdr_operator": "<=", "sdr_radii_mm": None, "aggregation": "pooled"},
    {"sdr_operator": choice(*SDR_OPERATORS), "aggregation": choice(*AGGREGATIONS)},
)
UNCERTAINTY_SETTINGS = DeclaredSettings(
    {"method": None, "alpha": 0.1, "calibration_fraction": 0.2},
    {"method": choice(None, *UNCERTAINTY_METHODS)},
)
TRACKING_SETTINGS = DeclaredSettings({"uri": None, "results_dir": "results"})
DEVICE_SETTINGS = DeclaredSettings({"device": "auto"}, {"device": choice(*DEVICE_CHOICES)})


def dataset_option_defaults(dataset_cls: type) -> dict[str, Any]:
    """Keyword options of a dataset class with their defaults (which fix their types).

    An option whose default is None takes text (a path, for instance).
    """
    params = inspect.signature(dataset_cls.__init__).parameters
    return {
        name: ("" if p.default is None else p.default)
        for name, p in params.items()
        if name not in ("self", "ground_truth") and p.default is not inspect.Parameter.empty
    }


def dataset_option_settings(dataset_cls: type) -> DeclaredSettings:
    """The dataset's options with their defaults and the rules it declares
    (``option_rules``, a mapping of option name to ``config.Rule``)."""
    defaults = dataset_option_defaults(dataset_cls)
    rules = {
        key: rule
        for key, rule in getattr(dataset_cls, "option_rules", {}).items()
        if key in defaults
    }
    return DeclaredSettings(defaults, rules)


def refuse_ground_truth_option(texts: Mapping[str, Any], command: str) -> None:
    """Ground truth has one spelling on every command, ``--gt``; refuse the other one."""
    if "ground_truth" in texts:
        value = texts["ground_truth"] or "NAME"
        raise UsageError(
            f"Ground truth is chosen with --gt on every command, not with --data-option; "
            f"write 'landmarkbench {command} ... --gt {value}' instead of "
            f"--data-option ground_truth={value}."
        )


def _check(spec: Any, section: str, declared: DeclaredSettings) -> None:
    """Type a section's values as their declared defaults and enforce the declared rules
    (config.py's one checker), storing the typed values on the (frozen) section."""
    values = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    given = {k: v for k, v in values.items() if v is not None and k in declared}
    resolved = resolve_config(
        declared, given, owner=f"the experiment's {section}", flag=f"{section}:"
    )
    for key in given:
        object.__setattr__(spec, key, resolved[key])


@dataclass(frozen=True)
class DatasetSpec:
    """The data: a registered dataset, its options (only those given) and ground truth."""

    name: str = DEFAULT_DATASET
    options: dict[str, Any] = field(default_factory=dict)
    ground_truth: str | None = None

    def __post_init__(self) -> None:
        dataset_cls = DATASETS.get(self.name)
        refuse_ground_truth_option(self.options, "run")
        resolved = resolve_config(
            dataset_option_settings(dataset_cls),
            self.options,
            owner=f"dataset {self.name!r}",
            flag="--data-option",
        )
        object.__setattr__(self, "options", {k: resolved[k] for k in self.options})


@dataclass(frozen=True)
class ProtocolSpec:
    """How cases become folds: the protocol (None: the dataset's declared split, else
    k-fold), K for k-fold (None: ``DEFAULT_FOLDS``), the split seed, and the share of each
    training fold held out for early stopping."""

    kind: str | None = PROTOCOL_SETTINGS["kind"]
    folds: int | None = PROTOCOL_SETTINGS["folds"]
    split_seed: int = PROTOCOL_SETTINGS["split_seed"]
    val_fraction: float = PROTOCOL_SETTINGS["val_fraction"]

    def __post_init__(self) -> None:
        if self.kind is not None:
            PROTOCOLS.get(self.kind)
        if self.folds is not None:
            object.__setattr__(self, "folds", typed_value("folds", self.folds, 0, "--folds"))
        object.__setattr__(
            self, "split_seed", typed_value("split_seed", self.split_seed, 0, "--split-seed")
        )
        if self.split_seed < 0:
            raise UsageError(
                f"--split-seed {self.split_seed} is negative; seeds are integers >= 0, "
                "e.g. --split-seed 0."
            )
        _check(self, "protocol", PROTOCOL_SETTINGS)
        if self.folds is not None and self.folds < 2:
            raise UsageError(
                f"--folds {self.folds} is not a cross-validation: k-fold needs at least 2 "
                "folds so that every case is tested by a model that never saw it; use --folds "
                f"2 or more, or drop --folds for the default of {DEFAULT_FOLDS}."
            )
        if self.folds is not None and self.kind not in (None, *FOLDS_PROTOCOLS):
            raise UsageError(
                f"--folds applies to k-fold cross-validation, but the experiment runs the "
                f"{self.kind!r} protocol; use --protocol kfold or holdout, or drop --folds."
            )


@dataclass(frozen=True)
class MethodSpec:
    """A registered method with its settings, resolved against its declared defaults and
    rules (every key, so the spec shows what the run uses) and typed per method family
    (``config.Settings``: a frozen dataclass of the declared defaults)."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    # The recipe whose settings lie under the given ones (spec.recipes), and those settings;
    # set by ExperimentSpec, which knows the dataset. None: the declared defaults only.
    recipe: str | None = None
    recipe_settings: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # The settings as given (before the recipe and the defaults), kept so that the spec can
    # be rebuilt on another recipe; not part of equality (the resolved settings are).
    given: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        method_cls = METHODS.get(self.name)
        given = dict(self.settings if self.given is None else self.given)
        object.__setattr__(self, "given", given)
        owner = f"method {self.name!r}" + (f" (recipe {self.recipe})" if self.recipe else "")
        resolved = resolve_config(
            method_cls.defaults, {**self.recipe_settings, **given}, owner=owner
        )
        typed = typed_settings(method_cls.defaults, resolved, f"{method_cls.__name__}Settings")
        object.__setattr__(self, "settings", typed)

    def on_recipe(self, recipe: str | None, settings: Mapping[str, Any]) -> MethodSpec:
        """This method with ``settings`` (a recipe's, named ``recipe``) under its given ones."""
        return MethodSpec(self.name, self.given, recipe, dict(settings), self.given)


@dataclass(frozen=True)
class EvaluationSpec:
    """Conventions that change a number: SDR operator and radii (None: the dataset's), and
    how errors are aggregated."""

    sdr_operator: str = EVALUATION_SETTINGS["sdr_operator"]
    sdr_radii_mm: tuple[float, ...] | None = EVALUATION_SETTINGS["sdr_radii_mm"]
    aggregation: str = EVALUATION_SETTINGS["aggregation"]

    def __post_init__(self) -> None:
        _check(self, "evaluation", EVALUATION_SETTINGS)
        if self.sdr_radii_mm is not None:
            try:
                radii = tuple(float(r) for r in self.sdr_radii_mm)
            except (TypeError, ValueError):
                radii = ()
            if not radii or any(not r > 0 for r in radii):
                text = ",".join(map(str, self.sdr_radii_mm))
                raise UsageError(
                    f"--sdr-radii {text!r} must list positive radii in mm, e.g. 2,2.5,3,4."
                )
            object.__setattr__(self, "sdr_radii_mm", radii)


@dataclass(frozen=True)
class UncertaintySpec:
    """Prediction regions: None, conformal (calibrated) or hdr, with their settings."""

    method: str | None = UNCERTAINTY_SETTINGS["method"]
    alpha: float = UNCERTAINTY_SETTINGS["alpha"]
    calibration_fraction: float = UNCERTAINTY_SETTINGS["calibration_fraction"]

    def __post_init__(self) -> None:
        _check(self, "uncertainty", UNCERTAINTY_SETTINGS)
        if self.method is not None and self.method not in UNCERTAINTY_METHODS:
            raise UsageError(
                f"--uncertainty {self.method!r} is unknown; use 'conformal' "
                "(calibrated regions) or 'hdr' (the uncalibrated baseline)."
            )
        if self.method is not None and not 0.0 < self.alpha < 1.0:
            raise UsageError(
                f"--alpha {self.alpha} is outside (0, 1); use e.g. 0.1 for 90 % regions."
            )


@dataclass(frozen=True)
class TrackingSpec:
    """Where results go: the results folder and the MLflow store (None: ./mlflow.db)."""

    uri: str | None = TRACKING_SETTINGS["uri"]
    results_dir: str = TRACKING_SETTINGS["results_dir"]

    def __post_init__(self) -> None:
        object.__setattr__(self, "results_dir", str(self.results_dir))
        _check(self, "tracking", TRACKING_SETTINGS)


@dataclass(frozen=True)
class ExperimentSpec:
    """A whole experiment; validated completely when built (``UsageError`` otherwise)."""

    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    protocol: ProtocolSpec = field(default_factory=ProtocolSpec)
    methods: tuple[MethodSpec, ...] = field(
        default_factory=lambda: tuple(MethodSpec(m) for m in DEFAULT_METHODS)
    )
    seeds: tuple[int, ...] = DEFAULT_SEEDS
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    uncertainty: UncertaintySpec = field(default_factory=UncertaintySpec)
    tracking: TrackingSpec = field(default_factory=TrackingSpec)
    device: str = DEVICE_SETTINGS["device"]
    # The dataset's recipe (spec.recipes): None chooses by device (cpu -> "cpu", cuda ->
    # "paper") where the dataset ships recipes; "none" runs the methods' declared defaults.
    recipe: str | None = None
    # Whether the recipe was chosen (file, --recipe) rather than by the device; not identity.
    recipe_chosen: bool = field(default=True, compare=False, repr=False)
    # Labels of the runs (run --tag smoke), recorded with their results; never part of a
    # run's folder or config hash (reports filter on them: report.filters).
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", tuple(self.methods))
        self._apply_recipe()
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "tags", _checked_tags(self.tags))
        if not self.methods:
            raise UsageError("The experiment names no method; add e.g. --method mean_shape.")
        names = [m.name for m in self.methods]
        if len(set(names)) != len(names):
            raise UsageError(f"Methods {names} repeat a name; list each method once.")
        if not self.seeds:
            raise UsageError("The experiment names no seed; add e.g. --seed 0.")
        for seed in self.seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise UsageError(
                    f"--seed {seed} is negative; seeds are integers >= 0, e.g. --seed 0."
                    if isinstance(seed, int) and not isinstance(seed, bool)
                    else f"Seed {seed!r} is not an integer; seeds are integers >= 0, e.g. 0."
                )
        if len(set(self.seeds)) != len(self.seeds):
            raise UsageError(f"Seeds {list(self.seeds)} repeat a value; list each seed once.")
        self._check_fractions()

    def _apply_recipe(self) -> None:
        """Resolve the recipe (by device where none is chosen) and lay its settings under
        each method's given settings; a method the recipe does not list keeps no recipe."""
        _check(self, "device", DEVICE_SETTINGS)
        recipe = self.recipe
        if recipe is None:
            recipe = default_recipe(self.dataset.name, self.device)
            object.__setattr__(self, "recipe_chosen", False)
        elif not isinstance(recipe, str):
            raise UsageError(f"Recipe {recipe!r} is not a name; use e.g. cpu, paper or none.")
        else:
            check_recipe(self.dataset.name, recipe)
        object.__setattr__(self, "recipe", recipe)
        by_method = recipe_settings(self.dataset.name, recipe)
        # A method the recipe gives no settings (e.g. mean_shape) runs without a recipe: its
        # results are the same under every recipe.
        methods = tuple(
            m.on_recipe(recipe if by_method.get(m.name) else None, by_method.get(m.name, {}))
            for m in self.methods
        )
        object.__setattr__(self, "methods", methods)

    def recipe_note(self) -> str | None:
        """The sentence a run starts with where the dataset has recipes: which one, why, and
        the file (None for datasets without recipes)."""
        if self.recipe is None:
            return None
        if self.recipe == NO_RECIPE:
            return f"Recipe: none (the methods' declared defaults) for {self.dataset.name}."
        why = "as chosen"
        if not self.recipe_chosen:
            why = f"chosen for this device, {device_kind(self.device)}"
        other = [n for n in available_recipes(self.dataset.name) if n != self.recipe]
        hint = "; ".join(f"--recipe {n}" for n in (*other, NO_RECIPE))
        return (
            f"Recipe: {self.recipe} for {self.dataset.name} ({why}; others: {hint}), from "
            f"{recipe_path(self.dataset.name, self.recipe)}."
        )

    def _check_fractions(self) -> None:
        """The fractions' rule is the one each fold applies (protocols.fold_parts), checked
        on a stand-in list of ids so that a bad value is refused before anything is written."""
        from landmarkbench.protocols.fold_parts import fold_parts

        conformal = self.uncertainty.method == "conformal"
        fold_parts(
            [str(k) for k in range(100)],
            0,
            self.protocol.val_fraction,
            self.uncertainty.calibration_fraction if conformal else None,
        )

    def method(self, name: str) -> MethodSpec:
        """The spec of method ``name`` (KeyError if the experiment has none)."""
        for method in self.methods:
            if method.name == name:
                return method
        raise KeyError(name)

    def for_run(self, method: str, seed: int) -> ExperimentSpec:
        """This experiment narrowed to one (method, seed): the spec of one run folder."""
        return dataclasses.replace(self, methods=(self.method(method),), seeds=(seed,))

    def replace(self, **changes: Any) -> ExperimentSpec:
        """A copy with whole sections (or ``seeds``, ``device``, ``methods``) replaced."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists for tuples) in the experiment file's layout."""
        return {
            "dataset": _plain(dataclasses.asdict(self.dataset)),
            "protocol": _plain(dataclasses.asdict(self.protocol)),
            "methods": {m.name: _plain(m.settings) for m in self.methods},
            "seeds": list(self.seeds),
            "evaluation": _plain(dataclasses.asdict(self.evaluation)),
            "uncertainty": _plain(dataclasses.asdict(self.uncertainty)),
            "tracking": _plain(dataclasses.asdict(self.tracking)),
            "device": self.device,
            # Only where the dataset has recipes, so that other experiments keep their hash.
            **({"recipe": self.recipe} if self.recipe is not None else {}),
            # Only when given, so that untagged experiments keep their hash.
            **({"tags": list(self.tags)} if self.tags else {}),
        }

    def canonical_json(self) -> str:
        """Sorted-key compact JSON: the text ``identity`` hashes."""
        return canonical_json(self.to_dict())

    @property
    def identity(self) -> str:
        """The experiment's hash (of its canonical JSON)."""
        return short_hash(self.to_dict(), length=12)

    def describe(self) -> str:
        """One line, e.g. ``local_soft_argmax [max_epochs=25] on synthetic_ceph [...]``."""
        methods = ", ".join(
            f"{m.name}{f' (recipe {m.recipe})' if m.recipe else ''} "
            f"[{_changed(m.settings, {**METHODS.get(m.name).defaults, **m.recipe_settings})}]"
            for m in self.methods
        )
        data = ", ".join(f"{k}={_text(v)}" for k, v in sorted(self.dataset.options.items()))
        folds = f"{self.protocol.folds or DEFAULT_FOLDS} folds"
        protocol = {
            None: f"default protocol (k-fold: {folds})",
            "kfold": f"kfold {folds}",
            "holdout": f"holdout 1/{self.protocol.folds or DEFAULT_FOLDS}",
        }.get(self.protocol.kind, str(self.protocol.kind))
        return (
            f"{methods} on {self.dataset.name} [{data}], {protocol}, split seed "
            f"{self.protocol.split_seed}, {self.device}"
        )


def _checked_tags(tags: Any) -> tuple[str, ...]:
    """Tags as a tuple of distinct words (letters, digits, '_', '-', '.')."""
    import re

    values = (tags,) if isinstance(tags, str) else tuple(tags or ())
    for tag in values:
        if not isinstance(tag, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", tag):
            raise UsageError(
                f"Tag {tag!r} is not a word; tags are letters, digits, '_', '-' or '.', "
                "e.g. --tag smoke."
            )
    return tuple(dict.fromkeys(values))


def _changed(settings: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={_text(v)}" for k, v in sorted(settings.items()) if _text(defaults.get(k)) != _text(v)
    )


def _text(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def method_specs(names: Sequence[str], settings: Mapping[str, Mapping[str, Any]]) -> tuple:
    """``MethodSpec`` of each name, with its settings from ``settings`` (name -> values)."""
    return tuple(MethodSpec(name, dict(settings.get(name, {}))) for name in names)
