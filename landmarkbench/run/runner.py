"""Cross a dataset with a method under a protocol: train, predict, store, summarise, log.

Data flow for one request::

    dataset (registry) --> split (protocol, persisted + hashed) --> for each fold:
        inner validation split cut from train --> method.fit --> method.predict(test)
        --> fold folder (predictions.csv + fold.json, written atomically)
        --> MLflow nested run
    --> summary.json (per-fold + pooled metrics recomputed from the fold files) --> MLflow parent

With ``uncertainty="conformal"`` a calibration part is cut from each training fold first
(before the inner validation split; never trained or selected on), and after predicting the
fold's conformal regions are calibrated on it and evaluated on the test cases
(``uncertainty.conformal_fold``): regions.csv + regions.npz in the fold folder, the
calibration in fold.json.

A finished fold folder is never recomputed: rerunning the same command resumes.

A trained model is keyed by what determines it (dataset identity and ground truth, training
ids, inner validation ids, training settings, training seed), never by the test set: test
sets that share a training set (ISBI 2015's official test1 and test2) share one training
seed, one inner validation split and one model. The training seed is ``seed * 1000 + k``
with ``k`` the index of the first fold with that training set, so k-fold seeds are those of
earlier versions.

Evaluation conventions (SDR operator and radii, aggregation) are part of a result's
identity: each set has its own summary and its own MLflow parent run, recomputed from the
stored predictions without retraining.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landmarkbench.atomic_io import (
    LOCK_FILE,
    check_writable_folder,
    clean_dead_folders,
    commit_dir,
    exclusive_lock,
    remove_stale_staging,
    staging_dir,
    write_text_atomically,
)
from landmarkbench.catalog import DATASETS, METHODS, PROTOCOLS
from landmarkbench.config import short_hash
from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import ResultsError, TrainingError, UsageError
from landmarkbench.methods.base import FitContext
from landmarkbench.protocols.fold_parts import declared_validation, fold_parts
from landmarkbench.protocols.split import Fold, Split, persist_split, validate_split
from landmarkbench.provenance import code_version
from landmarkbench.results.layout import RunIdentity, model_dir, run_folders, split_file
from landmarkbench.results.scoring import evaluation_for
from landmarkbench.results.summary import (
    build_summary,
    convention_key,
    describe_failures,
    load_fold_record,
    run_failures,
    write_fold_record,
)
from landmarkbench.spec.experiment import DEFAULT_FOLDS, FOLDS_PROTOCOLS, ExperimentSpec
from landmarkbench.spec.yaml_io import dump_yaml


@dataclass(frozen=True)
class RunRequest:
    """One run of an experiment: the view of its spec for one (method, seed)."""

    spec: ExperimentSpec
    method: str
    seed: int
    progress: bool = True

    @property
    def dataset(self) -> str:
        return self.spec.dataset.name

    @property
    def dataset_options(self) -> dict[str, Any]:
        return self.spec.dataset.options

    @property
    def ground_truth(self) -> str | None:
        return self.spec.dataset.ground_truth

    @property
    def protocol(self) -> str | None:
        return self.spec.protocol.kind

    @property
    def folds(self) -> int | None:
        return self.spec.protocol.folds

    @property
    def split_seed(self) -> int:
        return self.spec.protocol.split_seed

    @property
    def val_fraction(self) -> float:
        return self.spec.protocol.val_fraction

    @property
    def settings(self) -> dict[str, Any]:
        """The method's resolved settings."""
        return self.spec.method(self.method).settings

    @property
    def recipe(self) -> str | None:
        """The recipe under the method's settings (spec.recipes); None for none."""
        return self.spec.method(self.method).recipe

    @property
    def sdr_radii_mm(self) -> tuple[float, ...] | None:
        return self.spec.evaluation.sdr_radii_mm

    @property
    def sdr_operator(self) -> str:
        return self.spec.evaluation.sdr_operator

    @property
    def aggregation(self) -> str:
        return self.spec.evaluation.aggregation

    @property
    def uncertainty(self) -> str | None:
        return self.spec.uncertainty.method

    @property
    def alpha(self) -> float:
        return self.spec.uncertainty.alpha

    @property
    def calibration_fraction(self) -> float:
        return self.spec.uncertainty.calibration_fraction

    @property
    def device(self) -> str:
        return self.spec.device

    @property
    def results_dir(self) -> Path:
        return Path(self.spec.tracking.results_dir)

    @property
    def tracking_uri(self) -> str | None:
        return self.spec.tracking.uri

    def run_spec(self) -> ExperimentSpec:
        """The experiment narrowed to this run: stored as experiment.yaml with the results."""
        return self.spec.for_run(self.method, self.seed)


@dataclass
class RunOutcome:
    """Where a finished run's results are, and what happened to its folds.

    ``trained_folds``: folds predicted now by a model trained now; ``reused_models``: folds
    predicted now by a model trained before (by another method that differs only in
    decoding, or another test set with the same training set); ``resumed_folds``: folds
    whose stored predictions were reused as they are.
    """

    identity: RunIdentity
    run_dir: Path
    summary: dict[str, Any]
    trained_folds: list[str]
    resumed_folds: list[str]
    failed_folds: dict[str, str]
    reused_models: list[str] = field(default_factory=list)


@dataclass
class FoldResults:
    """What ``_fit_folds`` did to each fold (see ``RunOutcome``), before the summary."""

    trained: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    reused_models: list[str] = field(default_factory=list)

    def outcome(self, identity: RunIdentity, run_dir: Path, summary: dict[str, Any]) -> RunOutcome:
        return RunOutcome(
            identity, run_dir, summary, self.trained, self.resumed, self.failed,
            self.reused_models,
        )  # fmt: skip


def default_protocol(dataset: LandmarkDataset) -> str:
    """The protocol a run uses when none is named: the dataset's official split when it
    declares one (results then compare with the published ones), else k-fold."""
    return "kfold" if dataset.official_split() is None else "official"


class BenchmarkRun:
    """One (dataset, protocol, method, config, seed) run, resumable fold by fold."""

    def __init__(self, request: RunRequest, echo: Callable[[str], None] = print) -> None:
        self.request = request
        self.echo = echo
        dataset_cls = DATASETS.get(request.dataset)
        self.method_cls = METHODS.get(request.method)
        self.dataset: LandmarkDataset = dataset_cls(
            ground_truth=request.ground_truth, **request.dataset_options
        )
        protocol_name = request.protocol or default_protocol(self.dataset)
        protocol = PROTOCOLS.get(protocol_name)
        if request.folds is not None and protocol_name not in FOLDS_PROTOCOLS:
            raise UsageError(
                f"--folds applies to k-fold cross-validation, but dataset {request.dataset!r} "
                f"runs the {protocol_name!r} protocol"
                + ("" if request.protocol else " (its declared split, the default)")
                + "; add --protocol kfold to cross-validate (or holdout for one 1/K test "
                "part), or drop --folds."
            )
        self.evaluation = evaluation_for(self.dataset.multi_instance)
        if self.dataset.multi_instance != self.method_cls.multi_instance:
            kind = "multi-instance" if self.dataset.multi_instance else "one-point-per-landmark"
            raise UsageError(
                f"Method {request.method!r} cannot handle dataset {request.dataset!r}, which is "
                f"{kind}; pick a method listed for such data in 'landmarkbench ls methods'."
            )
        if self.dataset.ndim not in self.method_cls.supported_ndim:
            raise UsageError(
                f"Method {request.method!r} supports {self.method_cls.supported_ndim}-D data but "
                f"dataset {request.dataset!r} is {self.dataset.ndim}-D; pick another method."
            )
        self.config = dict(request.settings)  # resolved and checked by the spec
        self.radii = tuple(request.sdr_radii_mm or self.dataset.default_sdr_radii_mm)
        split = protocol(
            self.dataset, folds=request.folds or DEFAULT_FOLDS, split_seed=request.split_seed
        )
        validate_split(split, self.dataset.case_ids())
        root = Path(request.results_dir).resolve()
        if root.exists() and not root.is_dir():
            raise UsageError(
                f"--results-dir '{root}' is a file; pass a folder (it is created if missing)."
            )
        check_writable_folder(
            root,
            "The results folder",
            "make it writable (e.g. chmod u+w) or pass --results-dir with a writable folder.",
        )
        from landmarkbench.results.tracking import check_tracking_store, resolve_tracking_uri

        self.tracking_uri = resolve_tracking_uri(request.tracking_uri, create=False)
        check_tracking_store(self.tracking_uri)
        # Planning writes nothing: a stored split is read and compared now, a new one is
        # written by execute(), so a plan refused at a later run leaves no file behind.
        self._split_path = split_file(root, request.dataset, split.identity)
        self.split: Split = (
            persist_split(split, self._split_path) if self._split_path.exists() else split
        )
        # The dataset's own validation part (MML's val/ under the official protocol) is
        # selected on instead of cutting validation cases from the training part.
        self.declared_validation = declared_validation(self.dataset, self.split.protocol)
        for fold in self.split.folds:  # bad fractions fail before anything trains
            self._fold_parts(fold)
        self.root = root
        self.config_hash = short_hash(self._hashed_settings())
        self.identity = RunIdentity(
            dataset=request.dataset,
            split_id=self.split.identity,
            method=request.method,
            config_hash=self.config_hash,
            seed=request.seed,
            conventions=convention_key(self.protocol_record()),
        )

    def _uncertainty_settings(self) -> dict[str, Any] | None:
        """The region settings (None without --uncertainty): part of the run's identity."""
        if self.request.uncertainty is None:
            return None
        settings: dict[str, Any] = {
            "method": self.request.uncertainty,
            "variant": "M-R2CCP",
            # A method without probability maps gets no regions but the same training cases,
            # so its row stays comparable with the rows that have regions.
            "regions": self.method_cls.supports_conformal,
            "alpha": self.request.alpha,
            "probabilities": "spatial softmax of the (ensemble-averaged) logits on the network "
            "grid; softmax_temperature where the method has one, else 1",
        }
        if self.request.uncertainty == "hdr":
            settings["variant"] = "highest-density region of each map (uncalibrated baseline)"
        else:
            settings["calibration_fraction"] = self.request.calibration_fraction
            settings["calibration"] = (
                "cut from each training fold before the inner validation split"
            )
        return settings

    def _hashed_settings(self) -> dict[str, Any]:
        """What changes the predictions: the config hash covers exactly this."""
        settings = {
            "method": self.request.method,
            "config": self.config,
            "dataset": self.dataset.describe(),
            "val_fraction": self.request.val_fraction,
        }
        uncertainty = self._uncertainty_settings()
        if uncertainty is not None:  # runs without it keep their earlier hashes
            settings["uncertainty"] = uncertainty
        if self.request.recipe is not None:  # runs without one keep their earlier hashes
            settings["recipe"] = self.request.recipe
        if self.declared_validation is not None:  # runs without one keep their hashes
            settings["validation"] = "declared"
        return settings

    def protocol_record(self) -> dict[str, Any]:
        """Every convention that changes a number, stored and logged with each result."""
        record = {
            "dataset": self.dataset.describe(),
            "protocol": {
                "name": self.split.protocol,
                "params": self.split.params,
                "split_sha256": self.split.sha256,
                "split_id": self.split.identity,
            },
            "method": {
                "name": self.request.method,
                "config": self.config,
                **({"recipe": self.request.recipe} if self.request.recipe else {}),
            },
            "config_hash": self.config_hash,
            "seed": self.request.seed,
            "val_fraction": self.request.val_fraction,
            **(
                {"validation": "the dataset's declared validation part (model selection)"}
                if self.declared_validation is not None
                else {}
            ),
            "metric": self._metric_conventions(),
            "code_version": code_version(),
        }
        if self.request.uncertainty is not None:
            record["uncertainty"] = self._uncertainty_settings()
        if self.request.spec.tags:  # labels only: neither in the hash nor the conventions
            record["tags"] = list(self.request.spec.tags)
        record["convention_key"] = convention_key(record)
        return record

    def _metric_conventions(self) -> dict[str, Any]:
        conventions: dict[str, Any] = {
            "sdr_radii_mm": list(self.radii),
            "sdr_operator": self.request.sdr_operator,
            "aggregation": self.request.aggregation,
            "pe": "euclidean, mm, original grid, per-axis spacing; NaN landmarks excluded",
        }
        if self.dataset.multi_instance:
            conventions.update(
                match_radius=float(self.dataset.match_radius_px),
                match_unit="px",
                matching="one-to-one, closest pairs first, distance <= radius",
            )
        return conventions

    def execute(self, track: bool = True) -> RunOutcome:
        """Run (or resume) every fold, then summarise and log.

        With ``track=False`` nothing is logged to MLflow (the summary and the experiment
        file are still written): a sweep's workers train while one process, the store's
        only writer, logs their stored runs with ``record``.
        """
        from landmarkbench.devices import resolve_device

        device = resolve_device(self.request.device)
        self.split = persist_split(self.split, self._split_path)
        run_dir = self.identity.run_dir(self.root)
        self.clean_debris()
        try:
            with exclusive_lock(run_dir):
                if not track:
                    self._check_stored_folds(run_dir)
                    folds = self._fit_folds(device)
                    summary, _ = self._summarise(run_dir, folds.failed)
                    return folds.outcome(self.identity, run_dir, summary)
                return self._execute_locked(run_dir, device)
        finally:  # a run that wrote nothing leaves no lock-only folder behind
            clean_dead_folders([run_dir], stop_at=self.root, grace_s=0.0)

    def record(self, failed: dict[str, str] | None = None) -> RunOutcome:
        """Log this run's stored folds to the tracking store without training anything:
        the parent run (FAILED when ``failed`` names folds that failed where they were
        trained, with their reasons), one run per stored fold not logged yet.

        Raises:
            ResultsError: if a fold neither stored nor named in ``failed`` is missing.
        """
        self.split = persist_split(self.split, self._split_path)
        run_dir = self.identity.run_dir(self.root)
        failed = dict(failed or {})
        with exclusive_lock(run_dir):
            missing = [
                f.name
                for f in self.split.folds
                if f.name not in failed
                and load_fold_record(self.identity.fold_dir(self.root, f.name)) is None
            ]
            if missing:
                raise ResultsError(
                    f"Run {self.identity.key} has no stored fold {missing[0]!r} to record; "
                    "run it first (landmarkbench run or sweep), then record it."
                )
            folds = FoldResults(failed=failed)
            return self._execute_locked(run_dir, None, folds)

    def clean_debris(self) -> list[Path]:
        """Remove what dead runs left in this results folder: staging folders and
        lock-only run or model folders whose lock is free; returns what was removed."""
        models = [p for p in self.root.glob("*/_models/*") if (p / LOCK_FILE).is_file()]
        return clean_dead_folders([*run_folders(self.root), *models], stop_at=self.root)

    def _check_stored_folds(self, run_dir: Path) -> None:
        """Remove dead staging folders and refuse stored folds of an earlier layout."""
        remove_stale_staging(run_dir)
        for fold in self.split.folds:
            stored = load_fold_record(self.identity.fold_dir(self.root, fold.name))
            if stored is not None:
                self._check_stored_fold(fold, stored)

    def _execute_locked(
        self, run_dir: Path, device: str | None, recorded: FoldResults | None = None
    ) -> RunOutcome:
        """Fit the missing folds on ``device`` (or take ``recorded``: nothing is fitted),
        then summarise and log to the tracking store."""
        from landmarkbench.results.tracking import (
            CONVENTION_TAG,
            Tracker,
            resolve_tracking_uri,
            run_description,
            run_title,
        )

        self._check_stored_folds(run_dir)
        tracker = Tracker(resolve_tracking_uri(self.tracking_uri), self.request.dataset)
        record = self.protocol_record()
        parent, status = tracker.parent_run(
            self.identity.key,
            run_title(self.request.method, record),
            record,
            tags={CONVENTION_TAG: record["convention_key"]},
            description=run_description(self.request.method, record),
        )
        try:
            tracker.discard_unfinished_folds(self.identity.key)
            folds = recorded if recorded is not None else self._fit_folds(device)
            return self._log_run(tracker, parent, status, record, run_dir, folds)
        except BaseException:
            tracker.fail_if_running(parent)
            raise

    def _fit_folds(self, device: str | None) -> FoldResults:
        """Train and predict every fold not stored yet (failures recorded, not raised)."""
        if self.request.uncertainty and not self.method_cls.supports_conformal:
            self.echo(
                f"[{self.request.method}] gives no probability maps, so no prediction regions"
                + (
                    "; it still leaves the calibration cases out of training, like the others."
                    if self.request.uncertainty == "conformal"
                    else "."
                )
            )
        folds = FoldResults()
        for fold in self.split.folds:
            fold_dir = self.identity.fold_dir(self.root, fold.name)
            if load_fold_record(fold_dir) is not None:
                folds.resumed.append(fold.name)
                continue
            try:
                fit = self._train_fold(fold, fold_dir, device)
            except TrainingError as exc:
                folds.failed[fold.name] = str(exc)
                self.echo(f"fold {fold.name} failed: {exc}")
                continue
            done = folds.reused_models if fit.get("reused_trained_model") else folds.trained
            done.append(fold.name)
        return folds

    def _summarise(self, run_dir: Path, failed: dict[str, str]) -> tuple[dict[str, Any], str]:
        """Write the run's summary (recomputed from the stored folds) and its resolved
        experiment file; returns both (the file as text)."""
        from landmarkbench.results.tracking import EXPERIMENT_FILE

        record = self.protocol_record()
        summary = build_summary(self.identity, self.root, self.split, record, failed)
        experiment = dump_yaml(self.request.run_spec())
        write_text_atomically(run_dir / EXPERIMENT_FILE, experiment)
        return summary, experiment

    def _log_run(
        self, tracker: Any, parent: str, status: str, record: dict[str, Any], run_dir: Path,
        folds: FoldResults,
    ) -> RunOutcome:  # fmt: skip
        from landmarkbench.results.tracking import (
            CONVENTION_TAG,
            conformal_metrics,
            learned_target_metrics,
        )

        run_key = self.identity.key
        failed = folds.failed
        changed = status != "FINISHED" or bool(folds.trained or folds.reused_models)
        summary, experiment = self._summarise(run_dir, failed)
        logged = tracker.finished_folds(run_key)
        for fold in self.split.folds:
            if fold.name in logged or fold.name not in summary["per_fold"]:
                continue
            changed = True
            fold_dir = self.identity.fold_dir(self.root, fold.name)
            fold_record = load_fold_record(fold_dir) or {}
            tracker.log_fold(
                parent,
                run_key,
                fold.name,
                {**record, "fold": fold.name},
                {
                    **self.evaluation.flat_metrics(summary["per_fold"][fold.name]),
                    **learned_target_metrics(
                        fold_record.get("fit", {}), self.dataset.landmark_names
                    ),
                    **conformal_metrics((fold_record.get("uncertainty") or {}).get("metrics")),
                },
                fold_record.get("history"),
                fold_dir,
                tags={CONVENTION_TAG: record["convention_key"]},
            )
        if changed or failed:  # a rerun that changes nothing leaves the run's times alone
            tracker.log_experiment(parent, experiment)
            tracker.finish_parent(
                parent,
                {
                    **self.evaluation.flat_metrics(summary["pooled"]),
                    **conformal_metrics(summary["uncertainty"]),
                },
                "FAILED" if failed else "FINISHED",
            )
        summary["tracking_uri"] = tracker.uri
        return folds.outcome(self.identity, run_dir, summary)

    def _check_stored_fold(self, fold: Fold, stored: dict[str, Any]) -> None:
        """A stored fold must come from the training this version would do.

        Raises:
            ResultsError: for a fold of the earlier layout that trained its own model on a
                training set it shares with an earlier fold (with another seed), naming the
                folder to delete.
        """
        expected = self._training_seed(fold)
        made = stored.get("training_seed", self.request.seed * 1000 + fold.index)
        if made != expected:
            folder = self.identity.fold_dir(self.root, fold.name)
            raise ResultsError(
                f"Fold folder '{folder}' was made by an earlier version that trained a model "
                f"for each test set (seed {made}); test sets that share a training set now "
                f"share one model (seed {expected}): delete that folder and rerun to predict "
                "it with the shared model."
            )

    def _training_seed(self, fold: Fold) -> int:
        """The seed of a fold's training: equal training sets give equal seeds (the index
        of the first fold with that training set; for k-fold, the fold's own index)."""
        train = sorted(fold.train)
        first = next(f.index for f in self.split.folds if sorted(f.train) == train)
        return self.request.seed * 1000 + first

    def _model_key(self, fold: Fold) -> tuple[str, str] | None:
        """(family, hash) of the fold's trained model: what determines training, never the
        test set nor the decoding; None for methods that train nothing."""
        family = self.method_cls.training_family
        if family is None:
            return None
        train_ids, val_ids, _ = self._fold_parts(fold)
        training = {k: v for k, v in self.config.items() if k not in self.method_cls.decoder_keys}
        keyed = {
            "family": family,
            "config": training,
            "dataset": self.dataset.describe(),
            "train_ids": train_ids,
            "validation_ids": val_ids,
            "seed": self._training_seed(fold),
        }
        return family, short_hash(keyed, length=12)

    def _model_dir(self, fold: Fold) -> Path | None:
        """The fold's model folder, keyed by ``_model_key``."""
        key = self._model_key(fold)
        return None if key is None else model_dir(self.root, self.request.dataset, *key)

    def _fold_seed(self, fold: Fold) -> int:
        return self._training_seed(fold)

    def _fold_parts(self, fold: Fold) -> tuple[list[str], list[str], list[str]]:
        """(train, inner validation, conformal calibration) ids of a fold."""
        conformal = self.request.uncertainty == "conformal"
        return fold_parts(
            fold.train,
            self._fold_seed(fold),
            self.request.val_fraction,
            self.request.calibration_fraction if conformal else None,
            self.declared_validation,
        )

    def _inner_validation(
        self, method: Any, train: list, val: list, ctx: FitContext, fit_summary: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The fitted method and the mean-shape floor on the inner validation cases, with
        the failure flags (``run.inner_validation``); announced when something is flagged.
        None for multi-instance data (no mean shape)."""
        if self.dataset.multi_instance:
            return None
        from landmarkbench.methods.mean_shape import MeanShape
        from landmarkbench.run.inner_validation import inner_validation_record

        selection = fit_summary.get("best_val_error")
        inner = inner_validation_record(
            method,
            train,
            val,
            self.dataset.landmark_names,
            ctx,
            is_floor=isinstance(method, MeanShape),
            selection_error=float(selection) if isinstance(selection, (int, float)) else None,
        )
        flags = inner.get("flags") or {}
        if flags.get("method") or flags.get("landmarks"):
            single = run_failures({"fold": {"inner_validation": inner}})
            single["inner_validation"] = {"this fold": single["inner_validation"]["fold"]}
            single["not_below_floor_folds"] = ["this fold"] if flags["method"] else []
            self.echo(f"[{self.request.method}] {describe_failures(single)}")
        return inner

    def _train_fold(self, fold: Fold, fold_dir: Path, device: str) -> dict[str, Any]:
        """Train (or load the shared model of) one fold, predict its test set and commit
        its folder; returns the fit summary."""
        fold_seed = self._fold_seed(fold)
        train_ids, val_ids, calibration_ids = self._fold_parts(fold)
        calibrated = f", calibration {len(calibration_ids)}" if calibration_ids else ""
        self.echo(
            f"[{self.request.method}] fold {fold.name}: train {len(train_ids)}, "
            f"validation {len(val_ids)} (inner, not reported){calibrated}, "
            f"test {len(fold.test)}"
        )
        staging = staging_dir(fold_dir)
        history: dict[str, list[float]] = {}

        def log_metric(name: str, value: float, step: int) -> None:
            history.setdefault(name, []).append(float(value))

        ctx = FitContext(
            device=device,
            seed=fold_seed,
            workdir=staging,
            progress=self.request.progress,
            log_metric=log_metric,
            sdr_radii_mm=self.radii,
            network_shape=self.dataset.network_shape(),
            match_radius=float(getattr(self.dataset, "match_radius_px", 6.0)),
            checkpoint_dir=self._model_dir(fold),
        )
        method = self.method_cls(
            self.config, num_landmarks=self.dataset.num_landmarks, ndim=self.dataset.ndim
        )
        started = time.perf_counter()
        train_cases = self.dataset.load_many(train_ids)
        val_cases = self.dataset.load_many(val_ids)
        with contextlib.ExitStack() as stack:
            if ctx.checkpoint_dir is not None:  # one trainer per model; others wait, reuse
                stack.enter_context(exclusive_lock(Path(ctx.checkpoint_dir), wait=True))
            fit_summary = method.fit(train_cases, val_cases, ctx)
        inner = self._inner_validation(method, train_cases, val_cases, ctx, fit_summary)
        del train_cases
        test_cases = self.dataset.load_many(fold.test)
        predicted = method.predict(test_cases)
        self.evaluation.check_predictions(
            predicted, len(test_cases), self.dataset.num_landmarks, self.dataset.ndim,
            owner=f"Method {self.request.method!r}",
        )  # fmt: skip
        records = self.evaluation.fold_records(test_cases, predicted, self.dataset.landmark_names)
        self.evaluation.write(staging, records)
        uncertainty = None
        if self.request.uncertainty and self.method_cls.supports_conformal:
            from landmarkbench.run.conformal_fold import uncertainty_fold_record

            uncertainty = uncertainty_fold_record(
                self.request.uncertainty,
                method,
                self.dataset.load_many(calibration_ids),
                test_cases,
                records,
                staging,
                alpha=self.request.alpha,
                echo=lambda text: self.echo(f"[{self.request.method}] {text}"),
            )
        record = self.protocol_record()
        write_fold_record(
            staging,
            fold=fold,
            train_ids=train_ids,
            val_ids=val_ids,
            fit_summary=fit_summary,
            history=history,
            seconds=time.perf_counter() - started,
            metrics=self.evaluation.summarize([records], record["metric"]),
            record=record,
            calibration_ids=calibration_ids,
            uncertainty=uncertainty,
            training_seed=fold_seed,
            model_key="/".join(self._model_key(fold) or ()) or None,
            inner_validation=inner,
        )
        commit_dir(staging, fold_dir)
        return dict(fit_summary)
