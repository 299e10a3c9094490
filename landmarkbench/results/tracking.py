"""MLflow logging and querying: one parent run per result (dataset, protocol, method,
config, seed, conventions), one nested run per fold, in a SQLite store by default.

Runs are found again by tags, so a resumed benchmark adds the folds that are missing and
never duplicates a finished one. Every query of stored MLflow runs goes through
``find_runs``. MLflow is imported only here and only when a run starts or a query is made.

A SQLite store is created once, under a file lock beside it, so runs started together on a
fresh store do not race in MLflow's table creation. Each process holds a liveness lock for
the runs it opens (``landmarkbench.live`` tag); a run left RUNNING by a process that died
(killed, crashed) is marked FAILED by the next process that opens the store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landmarkbench.errors import UsageError

RUN_KEY_TAG = "landmarkbench.run_key"
FOLD_TAG = "landmarkbench.fold"
CONVENTION_TAG = "landmarkbench.convention_key"
LIVE_TAG = "landmarkbench.live"
# A parent run's name before any suffix (run_title): runs sharing it get told apart.
TITLE_TAG = "landmarkbench.title"
TAGS_TAG = "landmarkbench.tags"
# MLflow shows this tag as the run's description.
DESCRIPTION_TAG = "mlflow.note.content"
EXPERIMENT_PREFIX = "landmarkbench"


def resolve_tracking_uri(value: str | None, *, create: bool = True) -> str:
    """Turn a path or URI into an MLflow tracking URI with an absolute SQLite path.

    ``None`` means ``./mlflow.db``; a plain path becomes ``sqlite:////abs/path``; any
    ``scheme://`` URI is passed through. With ``create`` the database's folder is created.
    """
    if value and "://" in value:
        if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
            relative = value.removeprefix("sqlite:///")
            return f"sqlite:///{Path(relative).resolve()}"
        return value
    path = Path(value or "mlflow.db").expanduser().resolve()
    if path.is_dir():
        raise UsageError(
            f"--tracking-uri '{path}' is a folder; give a database file such as "
            f"'{path / 'mlflow.db'}' or a URI such as sqlite:////abs/path/mlflow.db."
        )
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def sqlite_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///"))
    return None


def check_tracking_store(tracking_uri: str) -> None:
    """Fail fast (instead of minutes of MLflow retries) when a SQLite store cannot be
    written: the database file, or the folder that holds it (SQLite writes a journal there).

    Raises:
        UsageError: naming the file or folder and the fix.
    """
    from landmarkbench.atomic_io import check_writable_folder

    path = sqlite_path(tracking_uri)
    if path is None:
        return
    fix = (
        "make it writable (e.g. chmod u+w) or pass --tracking-uri with a writable file, "
        "e.g. --tracking-uri /tmp/mlflow.db."
    )
    check_writable_folder(path.parent, "The MLflow store's folder", fix)
    if path.exists():
        reason = None
        if not os.access(path, os.W_OK):
            reason = "is read-only"
        else:
            try:
                with open(path, "ab"):
                    pass
            except OSError as exc:
                reason = f"cannot be written ({exc.strerror or exc})"
        if reason:
            raise UsageError(f"The MLflow store '{path}' {reason}; {fix}")


@contextlib.contextmanager
def _store_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise store creation and experiment creation between processes (SQLite)."""
    path = sqlite_path(tracking_uri)
    if path is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow  # noqa: F401 - configures its loggers when imported

    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _client(tracking_uri: str):
    """An ``MlflowClient`` whose store exists (created under the store lock)."""
    _quiet_mlflow()
    from mlflow.tracking import MlflowClient

    with _store_lock(tracking_uri):  # the client creates and migrates a new store
        client = MlflowClient(tracking_uri=tracking_uri)
        client.search_experiments(max_results=1)
    return client


# ------------------------------------------------------------------ liveness

_LIVE: dict[str, tuple[str, Any]] = {}


def _live_dir(tracking_uri: str) -> Path | None:
    path = sqlite_path(tracking_uri)
    return None if path is None else path.parent / f".{path.name}.live"


def _live_token(tracking_uri: str) -> str | None:
    """This process's liveness token for the store, its lock held until the process ends."""
    folder = _live_dir(tracking_uri)
    if folder is None:
        return None
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    held = _LIVE.get(str(folder))
    if held is not None and held[1] is not None and (folder / f"{held[0]}.lock").is_file():
        return held[0]
    folder.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    handle = open(folder / f"{token}.lock", "w")  # noqa: SIM115 - held for the process
    fcntl.flock(handle, fcntl.LOCK_EX)
    _LIVE[str(folder)] = (token, handle)
    return token


def _token_alive(folder: Path, token: str) -> bool:
    import fcntl

    own = _LIVE.get(str(folder))
    if own is not None and own[0] == token:
        return True
    try:
        handle = open(folder / f"{token}.lock")  # noqa: SIM115 - closed below
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    (folder / f"{token}.lock").unlink(missing_ok=True)
    return False


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = str(value)[:6000]


def flatten_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Nested mapping -> flat ``a.b.c`` keys with string values (MLflow params)."""
    out: dict[str, str] = {}
    _flatten("", params, out)
    return out


# The resolved experiment file stored beside each run's summary and logged with it.
EXPERIMENT_FILE = "experiment.yaml"


# ------------------------------------------------------------------ run names


def run_title(method: str, record: Mapping[str, Any]) -> str:
    """A parent run's name before any suffix: the method with its recipe and marks
    (``results.summary.run_name``), the training seed and the run's tags, e.g.
    ``subpixel (cpu) seed 0 #smoke``."""
    from landmarkbench.results.summary import run_name

    tags = "".join(f" #{t}" for t in record.get("tags") or ())
    return f"{run_name(method, record)} seed {record.get('seed')}{tags}"


def run_description(method: str, record: Mapping[str, Any]) -> str:
    """The run's protocol in a sentence (MLflow's description of the parent run)."""
    from landmarkbench.results.summary import run_name

    dataset = record.get("dataset", {})
    protocol = record.get("protocol", {})
    metric = record.get("metric", {})
    options = ", ".join(f"{k}={v}" for k, v in sorted((dataset.get("options") or {}).items()))
    version = f" v{dataset['version']}" if dataset.get("version") is not None else ""
    params = protocol.get("params") or {}
    shape = f"{params['folds']} folds, " if "folds" in params else ""
    if "sdr_operator" in metric:
        radii = ", ".join(f"{float(r):g}" for r in metric.get("sdr_radii_mm", []))
        scoring = (
            f"SDR counted with PE {metric['sdr_operator']} r at r = {radii} mm, "
            f"{metric.get('aggregation', 'pooled')} over images"
        )
    else:
        radius, unit = metric.get("match_radius"), metric.get("match_unit")
        scoring = f"instances matched within {radius} {unit}"
    regions = record.get("uncertainty") or {}
    extra = f", {regions['method']} regions at alpha {regions.get('alpha')}" if regions else ""
    tags = f" Tags: {', '.join(record['tags'])}." if record.get("tags") else ""
    return (
        f"{run_name(method, record)}, training seed {record.get('seed')}, on "
        f"{dataset.get('name')}{version}"
        + (f" ({options})" if options else "")
        + f", ground truth {dataset.get('ground_truth')}: {protocol.get('name')} protocol "
        f"({shape}split {protocol.get('split_id')}), inner validation "
        f"{100 * float(record.get('val_fraction', 0)):g} % of each training part{extra}; "
        f"point error in mm on the original grid, {scoring}; config {record.get('config_hash')}"
        f", conventions {record.get('convention_key')}, code {record.get('code_version')}." + tags
    )


# What tells two runs of one title apart, in the order shown: (label, param key).
_DISTINCT = (
    ("cfg", "config_hash"),
    ("split", "protocol.split_id"),
    ("gt", "dataset.ground_truth"),
    ("SDR", "metric.sdr_operator"),
    ("radii", "metric.sdr_radii_mm"),
    ("agg", "metric.aggregation"),
    ("data", "dataset.options"),
)


def distinct_names(params_by_run: Mapping[str, Mapping[str, str]], title: str) -> dict[str, str]:
    """Names for runs sharing ``title``: the title with what differs between them (config
    hash, split, ground truth, SDR operator, radii, aggregation, dataset options), e.g.
    ``subpixel seed 0 [cfg 1a2b3c]``; a lone run keeps the bare title.

    ``params_by_run``: run id -> the run's logged params (``flatten_params`` of its record).
    """
    if len(params_by_run) < 2:
        return {run_id: title for run_id in params_by_run}

    def value(params: Mapping[str, str], key: str) -> str:
        if key == "dataset.options":
            found = {k: v for k, v in params.items() if k.startswith("dataset.options.")}
            return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in sorted(found.items()))
        return params.get(key, "")

    shown = [
        (label, key)
        for label, key in _DISTINCT
        if len({value(p, key) for p in params_by_run.values()}) > 1
    ]
    names = {}
    for run_id, params in params_by_run.items():
        parts = []
        for label, key in shown:
            text = value(params, key)
            text = text[:6] if label == "cfg" else text
            parts.append(f"{label} {text}")
        if not parts:  # another convention: its key
            parts = [f"conventions {params.get('convention_key', run_id[:8])}"]
        names[run_id] = f"{title} [{', '.join(parts)}]"
    return names


class Tracker:
    """Logs benchmark runs to MLflow through ``MlflowClient`` (no global active run)."""

    def __init__(self, tracking_uri: str, dataset: str) -> None:
        check_tracking_store(tracking_uri)
        self.uri = tracking_uri
        self.client = _client(tracking_uri)
        self.token = _live_token(tracking_uri)
        name = f"{EXPERIMENT_PREFIX}/{dataset}"
        with _store_lock(tracking_uri):  # two processes must not both create it
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                artifacts = self._artifact_root(tracking_uri, dataset)
                self.experiment_id = self.client.create_experiment(
                    name, artifact_location=artifacts
                )
            else:
                self.experiment_id = experiment.experiment_id
        self.fail_dead_runs()

    @staticmethod
    def _artifact_root(tracking_uri: str, dataset: str) -> str | None:
        path = sqlite_path(tracking_uri)
        if path is not None:
            return (path.parent / "mlartifacts" / dataset).resolve().as_uri()
        return None

    def _tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        return {**tags, LIVE_TAG: self.token} if self.token else dict(tags)

    def _search(self, filter_string: str) -> list[Any]:
        return self.client.search_runs([self.experiment_id], filter_string=filter_string)

    def fail_dead_runs(self) -> int:
        """Mark FAILED every landmarkbench run of this store left RUNNING by a process that
        is gone (its liveness lock is free, or it predates liveness tags); returns how many."""
        folder = _live_dir(self.uri)
        if folder is None:
            return 0
        experiments = [
            e.experiment_id
            for e in self.client.search_experiments()
            if e.name.startswith(f"{EXPERIMENT_PREFIX}/")
        ]
        if not experiments:
            return 0
        running = self.client.search_runs(
            experiments, filter_string="attributes.status = 'RUNNING'"
        )
        failed = 0
        for run in running:
            token = run.data.tags.get(LIVE_TAG)
            if token and _token_alive(folder, token):
                continue
            self.client.set_terminated(run.info.run_id, "FAILED")
            failed += 1
        return failed

    def parent_run(
        self,
        run_key: str,
        run_name: str,
        params: Mapping[str, Any],
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> tuple[str, str]:
        """(id, status) of the parent run for ``run_key``, created (with params) if
        missing; a new run's status is RUNNING.

        ``run_name`` is the title (``run_title``); parent runs of this experiment that share
        it are renamed by ``distinct_names`` so that no two show the same name. The run's
        description (``description``) and its ``record["tags"]`` are (re)set every time.
        """
        found = self._search(f"tags.`{RUN_KEY_TAG}` = '{_quoted(run_key)}'")
        parents = [r for r in found if FOLD_TAG not in r.data.tags]
        labels = {TITLE_TAG: run_name}
        if description:
            labels[DESCRIPTION_TAG] = description
        if params.get("tags"):
            labels[TAGS_TAG] = ",".join(map(str, params["tags"]))
        if parents:
            run_id, status = parents[0].info.run_id, parents[0].info.status
            for key, value in labels.items():
                if parents[0].data.tags.get(key) != value:
                    self.client.set_tag(run_id, key, value)
        else:
            run = self.client.create_run(
                self.experiment_id,
                run_name=run_name,
                tags=self._tags({RUN_KEY_TAG: run_key, **labels, **(tags or {})}),
            )
            run_id, status = run.info.run_id, "RUNNING"
            try:
                self._log_params(run_id, params)
            except BaseException:
                self.fail_if_running(run_id)
                raise
        self._name_apart(run_name)
        return run_id, status

    def _name_apart(self, title: str) -> None:
        """Rename the parent runs titled ``title`` so that their names differ."""
        found = self._search(f"tags.`{TITLE_TAG}` = '{_quoted(title)}'")
        parents = {r.info.run_id: r for r in found if FOLD_TAG not in r.data.tags}
        names = distinct_names({i: r.data.params for i, r in parents.items()}, title)
        for run_id, name in names.items():
            if parents[run_id].info.run_name != name:
                self.client.update_run(run_id, name=name)

    def status(self, run_id: str) -> str:
        return self.client.get_run(run_id).info.status

    def fail_if_running(self, run_id: str) -> None:
        """Mark ``run_id`` FAILED if it is still RUNNING (after an error); never raises."""
        with contextlib.suppress(Exception):
            if self.status(run_id) == "RUNNING":
                self.client.set_terminated(run_id, "FAILED")

    def finished_folds(self, run_key: str) -> set[str]:
        """Names of folds of ``run_key`` that already have a FINISHED nested run."""
        found = self._search(
            f"tags.`{RUN_KEY_TAG}` = '{_quoted(run_key)}' and attributes.status = 'FINISHED'"
        )
        return {r.data.tags[FOLD_TAG] for r in found if FOLD_TAG in r.data.tags}

    def discard_unfinished_folds(self, run_key: str) -> None:
        """Delete nested runs a killed process left unfinished, so each fold ends with one
        run."""
        found = self._search(
            f"tags.`{RUN_KEY_TAG}` = '{_quoted(run_key)}' and attributes.status != 'FINISHED'"
        )
        for run in found:
            if FOLD_TAG in run.data.tags:
                self.client.delete_run(run.info.run_id)

    def log_fold(
        self,
        parent_id: str,
        run_key: str,
        fold_name: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        history: Mapping[str, list[float]] | None = None,
        artifacts: Path | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create one finished nested run holding a fold's params, metrics, training curves
        (``history``: metric name -> value per epoch) and files; FAILED if logging fails."""
        run = self.client.create_run(
            self.experiment_id,
            run_name=fold_name,
            tags=self._tags(
                {
                    RUN_KEY_TAG: run_key,
                    FOLD_TAG: fold_name,
                    "mlflow.parentRunId": parent_id,
                    **(tags or {}),
                }
            ),
        )
        run_id = run.info.run_id
        try:
            self._log_params(run_id, params)
            self._log_metrics(run_id, metrics)
            for name, values in (history or {}).items():
                self._log_metrics(run_id, {}, series=(name, values))
            if artifacts is not None:
                self.client.log_artifacts(run_id, str(artifacts))
        except BaseException:
            self.fail_if_running(run_id)
            raise
        self.client.set_terminated(run_id, "FINISHED")
        return run_id

    def log_experiment(self, run_id: str, yaml_text: str) -> None:
        """Attach the run's resolved experiment file (``experiment.yaml``) to ``run_id``."""
        self.client.log_text(run_id, yaml_text, EXPERIMENT_FILE)

    def finish_parent(self, parent_id: str, metrics: Mapping[str, float], status: str) -> None:
        """Log the pooled metrics on the parent run and close it with ``status``."""
        self._log_metrics(parent_id, metrics)
        self.client.set_terminated(parent_id, status)

    def _log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = flatten_params(params)
        items = [Param(k, v) for k, v in sorted(flat.items())]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def _log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, float],
        series: tuple[str, list[float]] | None = None,
    ) -> None:
        """Log scalar ``metrics`` at step 0, or one ``series`` (name, value per step)."""
        import time

        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        items = [Metric(k, float(v), stamp, 0) for k, v in sorted(metrics.items()) if v == v]
        if series is not None:
            name, values = series
            items += [
                Metric(name, float(v), stamp, step) for step, v in enumerate(values) if v == v
            ]
        for start in range(0, len(items), 500):
            self.client.log_batch(run_id, metrics=items[start : start + 500])


def _quoted(value: str) -> str:
    return value.replace("'", "\\'")


# ------------------------------------------------------------------ queries


@dataclass(frozen=True)
class TrackedRun:
    """One stored MLflow run of landmarkbench, as ``find_runs`` returns it."""

    run_id: str
    run_key: str
    fold: str | None  # None for a parent run
    status: str
    experiment: str
    start_time: int | None
    end_time: int | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    experiment_id: str = ""
    name: str = ""


def run_page_url(ui_url: str, run: TrackedRun) -> str:
    """The run's page in the MLflow UI served at ``ui_url`` (e.g. http://127.0.0.1:5000)."""
    return f"{ui_url.rstrip('/')}/#/experiments/{run.experiment_id}/runs/{run.run_id}"


def compare_runs_url(ui_url: str, runs: Sequence[TrackedRun]) -> str:
    """The MLflow UI's comparison page of ``runs``: their params and metrics side by side."""
    import json
    from urllib.parse import quote

    ids = json.dumps([r.run_id for r in runs], separators=(",", ":"))
    experiments = json.dumps(
        list(dict.fromkeys(r.experiment_id for r in runs)), separators=(",", ":")
    )
    return f"{ui_url.rstrip('/')}/#/compare-runs?runs={quote(ids)}&experiments={quote(experiments)}"


def find_runs(
    tracking_uri: str | None,
    dataset: str | None = None,
    run_keys: Sequence[str] | None = None,
    *,
    folds: bool = False,
) -> list[TrackedRun]:
    """The one query of stored landmarkbench MLflow runs.

    Args:
        tracking_uri: A store URI or a path (as ``--tracking-uri`` takes). A SQLite store
            that does not exist means no runs: nothing is created.
        dataset: Only runs of this dataset's experiment; None for every dataset.
        run_keys: Only runs with these run keys (``RunIdentity.key``); None for all.
        folds: Also return nested fold runs (by default parent runs only).

    Returns:
        Runs sorted by (run key, fold), deleted runs left out.
    """
    if not tracking_uri:
        return []
    uri = resolve_tracking_uri(tracking_uri, create=False)
    path = sqlite_path(uri)
    if path is not None and not path.is_file():
        return []
    client = _client(uri)
    names = {
        e.experiment_id: e.name
        for e in client.search_experiments()
        if e.name.startswith(f"{EXPERIMENT_PREFIX}/")
        and (dataset is None or e.name == f"{EXPERIMENT_PREFIX}/{dataset}")
    }
    if not names or (run_keys is not None and not run_keys):
        return []
    filters = (
        [None]
        if run_keys is None
        else [f"tags.`{RUN_KEY_TAG}` = '{_quoted(k)}'" for k in sorted(set(run_keys))]
    )
    found: list[TrackedRun] = []
    for filter_string in filters:
        runs = client.search_runs(list(names), filter_string=filter_string or "")
        for run in runs:
            tags = dict(run.data.tags)
            if RUN_KEY_TAG not in tags or (FOLD_TAG in tags and not folds):
                continue
            found.append(
                TrackedRun(
                    run_id=run.info.run_id,
                    run_key=tags[RUN_KEY_TAG],
                    fold=tags.get(FOLD_TAG),
                    status=run.info.status,
                    experiment=names[run.info.experiment_id],
                    start_time=run.info.start_time,
                    end_time=run.info.end_time,
                    params=dict(run.data.params),
                    metrics=dict(run.data.metrics),
                    tags=tags,
                    experiment_id=run.info.experiment_id,
                    name=run.info.run_name or "",
                )
            )
    return sorted(found, key=lambda r: (r.run_key, r.fold or ""))


def log_artifacts(
    tracking_uri: str, run_id: str, folder: Path, artifact_path: str | None = None
) -> None:
    """Log the files of ``folder`` as artifacts of the stored run ``run_id``."""
    _client(resolve_tracking_uri(tracking_uri, create=False)).log_artifacts(
        run_id, str(folder), artifact_path=artifact_path
    )


def learned_target_metrics(fit: dict[str, Any], names: Sequence[str]) -> dict[str, float]:
    """Learned sigmas (per landmark and axis) and angles of adaptive targets, for MLflow."""
    learned = fit.get("learned_targets") or {}
    metrics: dict[str, float] = {}
    for name, sigmas in zip(names, learned.get("sigma") or [], strict=False):
        for axis, value in enumerate(sigmas):
            metrics[f"learned_sigma_px.{name}.{axis}"] = float(value)
    for name, angles in zip(names, learned.get("angles") or [], strict=False):
        for axis, value in enumerate(angles if isinstance(angles, list) else [angles]):
            metrics[f"learned_angle_rad.{name}.{axis}"] = float(value)
    return metrics


def conformal_metrics(stats: dict[str, Any] | None) -> dict[str, float]:
    """Conformal coverage, region size and error-size correlation, for MLflow."""
    if not stats:
        return {}
    keys = ("coverage_percent", "mean_size", "median_size", "spearman_rho_error_size")
    return {f"conformal_{k}": float(stats[k]) for k in keys if stats.get(k) is not None}
