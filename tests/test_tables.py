"""Paper-style tables: statistics, formats, literature rows and the CLI, on stored fake runs."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import compile_latex

from landmarkbench.acquire.manifest import load_manifest
from landmarkbench.cli.main import main
from landmarkbench.evaluation.statistics import (
    ImageErrors,
    bootstrap_ci,
    compare_with_best,
    is_significant,
    paired_wilcoxon,
)
from landmarkbench.protocols.split import Fold, Split
from landmarkbench.report.tables import collect_rows, literature_rows, render_table
from landmarkbench.results import summary as run_summary
from landmarkbench.results.layout import RunIdentity
from landmarkbench.results.predictions import FoldPredictions, write_predictions
from landmarkbench.results.summary import build_summary, write_fold_record

NAMES = [f"lm_{i}" for i in range(19)]
CI = re.compile(r"\d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\]")
# (method, config hash, PE scale in mm): three methods of clearly different accuracy.
METHODS = [
    ("good_net", "aaaa000001", 1.0),
    ("ok_net", "aaaa000002", 1.6),
    ("mean_shape", "bb01", 4.0),
]


def _record(dataset: str, split: Split) -> dict:
    return {
        "dataset": {
            "name": dataset,
            "ground_truth": "mean",
            "landmark_names": NAMES,
            "multi_instance": False,
            "version": "1",
        },
        "metric": {"aggregation": "pooled", "sdr_operator": "<=", "sdr_radii_mm": [2.0, 4.0]},
        "protocol": {"name": split.protocol, "split_id": split.identity, "params": split.params},
    }


def _store(root: Path, dataset: str, split: Split, method: str, config: str, scale: float, seed=0):
    """Store one complete fake run through the public writers (no training)."""
    rng = np.random.default_rng(hash((method, seed)) % 2**32)
    record = _record(dataset, split)
    identity = _identity(dataset, split, method, config, seed, record)
    for fold in split.folds:
        n = len(fold.test)
        truth = rng.uniform(0, 500, size=(n, len(NAMES), 2))
        spacing = np.full((n, 2), 0.1)
        offset = rng.normal(0.0, scale / np.sqrt(2), size=truth.shape) / 0.1
        folder = identity.fold_dir(root, fold.name)
        folder.mkdir(parents=True)
        write_predictions(
            folder / "predictions.csv",
            FoldPredictions(fold.test, tuple(NAMES), truth + offset, truth, spacing),
        )
        write_fold_record(
            folder,
            fold=fold,
            train_ids=fold.train,
            val_ids=(),
            fit_summary={},
            history={},
            seconds=0.0,
            metrics={},
            record=record,
        )
    build_summary(identity, root, split, record, failed={})


def _identity(dataset, split, method, config, seed, record) -> RunIdentity:
    """The run identity; keyed by the record's conventions where the layout has them."""
    key = getattr(run_summary, "convention_key", None)
    extra = {"conventions": key(record)} if key is not None else {}
    return RunIdentity(dataset, split.identity, method, config, seed, **extra)


def _kfold(n_cases: int = 30, k: int = 3) -> Split:
    ids = [f"{i:03d}" for i in range(n_cases)]
    folds = tuple(
        Fold(i, f"fold_{i}", tuple(c for c in ids if c not in ids[i::k]), tuple(ids[i::k]))
        for i in range(k)
    )
    return Split("kfold", {"folds": k, "split_seed": 0}, folds)


def _official() -> Split:
    ids = [f"{i:03d}" for i in range(1, 41)]
    train, test1, test2 = tuple(ids[:10]), tuple(ids[10:25]), tuple(ids[25:])
    folds = (Fold(0, "test1", train, test1), Fold(1, "test2", train, test2))
    return Split("official", {"test_sets": ["test1", "test2"]}, folds)


@pytest.fixture(scope="module")
def ceph_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tables") / "results"
    split = _kfold()
    for method, config, scale in METHODS:
        _store(root, "synthetic_ceph", split, method, config, scale)
    _store(root, "synthetic_ceph", split, "good_net", "aaaa000001", 1.0, seed=1)
    return root


@pytest.fixture(scope="module")
def isbi_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("isbi") / "results"
    for method, config, scale in METHODS:
        _store(root, "isbi2015", _official(), method, config, scale)
    return root


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


# --- statistics on known inputs ---------------------------------------------------------


def test_wilcoxon_on_known_inputs() -> None:
    base = {f"c{i}": float(i) for i in range(10)}
    shifted = {k: v + 1.0 + 0.01 * int(k[1:]) for k, v in base.items()}
    p_value, n = paired_wilcoxon(shifted, base)
    # All 10 differences positive: exact two-sided p = 2 / 2**10.
    assert n == 10 and p_value == pytest.approx(2 / 1024)
    assert is_significant(p_value)
    assert paired_wilcoxon(base, dict(base)) == (1.0, 10)
    p_single, n_single = paired_wilcoxon({"c0": 1.0}, {"c0": 2.0, "x": 1.0})
    assert np.isnan(p_single) and n_single == 1 and not is_significant(p_single)
    best, tests = compare_with_best({"a": shifted, "b": base}, {"a": 5.5, "b": 4.5})
    assert best == "b" and set(tests) == {"a"} and tests["a"][0] == pytest.approx(2 / 1024)


def test_bootstrap_ci_is_seeded_and_resamples_images() -> None:
    rng = np.random.default_rng(0)
    pe = rng.gamma(2.0, 1.0, size=(50, 19))
    pe[3, 4] = np.nan
    errors = ImageErrors(tuple(map(str, range(50))), pe)
    low, high = bootstrap_ci(errors, 500, seed=7)
    assert (low, high) == bootstrap_ci(errors, 500, seed=7)
    assert low < errors.pooled_mre < high
    assert errors.pooled_mre == pytest.approx(np.nanmean(pe))
    constant = ImageErrors(("a", "b"), np.ones((2, 3)))
    assert bootstrap_ci(constant, 100) == pytest.approx((1.0, 1.0))
    assert all(np.isnan(bootstrap_ci(errors, 0)))


# --- formats on three stored methods -----------------------------------------------------


def test_markdown_has_ci_bold_and_significance_marks(ceph_results: Path) -> None:
    rows, notes = collect_rows(ceph_results, "synthetic_ceph")
    assert len(rows) == 3 and not notes
    text = render_table(rows, "markdown", title="Dataset synthetic_ceph", bootstrap=300)
    good, worst = _line(text, "| good_net |"), _line(text, "| mean_shape |")
    assert "| 0,1 | ours | mean |" in good
    assert CI.search(good) and CI.search(worst)
    assert "**" in good and "†" not in good  # the best method is bold, never tested against itself
    assert "†" in worst and "**" not in worst
    assert "paired Wilcoxon signed-rank" in text and "bootstrap confidence interval" in text
    assert "protocol kfold" in text and "literature" not in text.split("\n\n")[1]


def test_latex_is_booktabs_and_escaped(ceph_results: Path, tmp_path: Path) -> None:
    rows, _ = collect_rows(ceph_results, "synthetic_ceph")
    latex = render_table(rows, "latex", title="Dataset synthetic_ceph", bootstrap=100)
    for command in (r"\toprule", r"\midrule", r"\bottomrule", r"\caption{", r"\textbf{"):
        assert command in latex
    assert "mean\\_shape" in latex and "synthetic\\_ceph" in latex
    assert r"\textsuperscript{\dag}" in latex and r"$\pm$" in latex
    assert latex.isascii()
    assert not re.search(r"(?<!\\)_", latex), "every underscore is escaped"
    compile_latex(latex, tmp_path)


def test_csv_has_unformatted_numbers(ceph_results: Path) -> None:
    rows, _ = collect_rows(ceph_results, "synthetic_ceph")
    records = list(csv.DictReader(io.StringIO(render_table(rows, "csv", bootstrap=100))))
    assert [r["Method"] for r in records] == ["good_net", "mean_shape", "ok_net"]
    good = records[0]
    mre = float(good["Pooled MRE mm ↓ [95% CI]"])
    assert len(good["Pooled MRE mm ↓ [95% CI]"]) > 6  # full precision, not rounded
    assert float(good["Pooled MRE mm ↓ [95% CI] low"]) < mre
    assert float(records[1]["Pooled MRE mm ↓ [95% CI] Wilcoxon p"]) < 0.05
    assert good["Pooled MRE mm ↓ [95% CI] Wilcoxon p"] == ""


def test_html_has_caption_and_escaped_text(ceph_results: Path) -> None:
    rows, _ = collect_rows(ceph_results, "synthetic_ceph")
    text = render_table(rows, "html", title="A <b> & c", bootstrap=50)
    assert text.startswith("<table>") and "<caption>A &lt;b&gt; &amp; c" in text
    assert "SDR&lt;=2.0" in text and "<strong>" in text and "<b>" not in text


def test_per_landmark_table(ceph_results: Path) -> None:
    rows, _ = collect_rows(ceph_results, "synthetic_ceph")
    text = render_table(rows, "markdown", per_landmark=True)
    lines = [line for line in text.splitlines() if line.startswith("| lm_")]
    assert len(lines) == 19 and all(line.count("**") == 2 for line in lines)
    assert "| Landmark | good_net MRE mm ↓ | mean_shape MRE mm ↓ | ok_net MRE mm ↓ |" in text
    assert "| all landmarks (pooled) |" in text


def test_multi_instance_rows_skip_statistics(tmp_path: Path) -> None:
    from landmarkbench.results.instances import FoldInstances, write_instances

    split = _kfold(12, 2)
    root = tmp_path / "results"
    for method, config, jitter in (("a", "0a", 0.5), ("b", "0b", 9.0)):
        rng = np.random.default_rng(len(method))
        record = _record("synthetic_endo", split)
        record["dataset"].update(multi_instance=True, landmark_names=["tip"])
        record["metric"] = {"match_radius": 6.0, "match_unit": "px"}
        identity = _identity("synthetic_endo", split, method, config, 0, record)
        for fold in split.folds:
            truth = tuple((rng.uniform(0, 100, (3, 2)),) for _ in fold.test)
            pred = tuple((t[0] + rng.normal(0, jitter, (3, 2)),) for t in truth)
            folder = identity.fold_dir(root, fold.name)
            folder.mkdir(parents=True)
            spacing = np.ones((len(fold.test), 2))
            write_instances(
                folder / "instances.csv",
                FoldInstances(fold.test, ("tip",), pred, truth, spacing),
            )
            write_fold_record(
                folder,
                fold=fold,
                train_ids=fold.train,
                val_ids=(),
                fit_summary={},
                history={},
                seconds=0.0,
                metrics={},
                record=record,
            )
        build_summary(identity, root, split, record, failed={})
    rows, _ = collect_rows(root, "synthetic_endo")
    text = render_table(rows, "markdown")
    assert "F1 % ↑ (folds)" in text and "**" in _line(text, "| a |")
    assert "skipped for multi-instance" in text and "[" not in _line(text, "| a |")
    assert "matching radius 6 px" in text


# --- literature rows ------------------------------------------------------------------------


def test_literature_rows_come_from_the_manifest() -> None:
    published = literature_rows("isbi2015")
    assert published == list(load_manifest("isbi2015").published_results)
    assert literature_rows("synthetic_ceph") == []


def test_official_protocol_shows_test_sets_side_by_side_with_literature(
    isbi_results: Path,
) -> None:
    rows, _ = collect_rows(isbi_results, "isbi2015")
    text = render_table(rows, "markdown", literature=literature_rows("isbi2015"), bootstrap=100)
    header = _line(text, "| Method |")
    assert header.index("test1 Pooled MRE") < header.index("test2 Pooled MRE")
    lindner = _line(text, "| RFRV-CLM |")
    assert "literature: Lindner et al. 2016" in lindner and "not recorded" in lindner
    assert "1.67" in lindner and "1.92" in lindner and "**" not in lindner
    assert "| — |" in _line(text, "| AFPF |")  # SDR not published
    assert "never bold and never tested" in text
    assert len(CI.findall(_line(text, "| good_net |"))) == 2


def test_literature_of_an_unused_protocol_is_a_separate_table(ceph_results: Path) -> None:
    rows, _ = collect_rows(ceph_results, "synthetic_ceph")
    literature = literature_rows("isbi2015")
    text = render_table(rows, "markdown", literature=literature, bootstrap=50)
    first, _, rest = text.partition("published results, protocol official")
    assert "literature:" not in first and "literature: Zhong et al. 2019" in rest


def test_cli_formats_options_and_reproducibility(ceph_results: Path, capsys) -> None:
    args = [
        "table",
        "--results-dir",
        str(ceph_results),
        "--bootstrap",
        "200",
        "--bootstrap-seed",
        "3",
    ]
    assert main([*args, "--format", "html"]) == 0
    first = capsys.readouterr().out
    assert main([*args, "--format", "html"]) == 0
    assert capsys.readouterr().out == first and "<caption>Dataset synthetic_ceph" in first
    assert main([*args, "--per-landmark", "--no-literature"]) == 0
    assert "| lm_18 |" in capsys.readouterr().out
    assert main(["table", "--results-dir", str(ceph_results), "--format", "latex"]) == 0
    assert "\\toprule" in capsys.readouterr().out
