"""The one stored-run reader: damaged files are sentences naming them, one bad run never stops
the others, every column comes from predictions.csv, and rows are grouped by conventions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.cli.main import main
from landmarkbench.protocols.split import Fold, Split
from landmarkbench.report.leaderboard import build_site
from landmarkbench.report.tables import collect_rows, render_table
from landmarkbench.results import summary as run_summary
from landmarkbench.results.layout import RunIdentity
from landmarkbench.results.predictions import FoldPredictions, write_predictions
from landmarkbench.results.store import read_runs
from landmarkbench.results.summary import build_summary, write_fold_record

NAMES = [f"lm_{i}" for i in range(5)]


def kfold(n_cases: int = 12, k: int = 3) -> Split:
    ids = [f"{i:03d}" for i in range(n_cases)]
    folds = tuple(
        Fold(i, f"fold_{i}", tuple(c for c in ids if c not in ids[i::k]), tuple(ids[i::k]))
        for i in range(k)
    )
    return Split("kfold", {"folds": k, "split_seed": 0}, folds)


def store_run(
    root: Path,
    method: str,
    *,
    scale: float = 1.0,
    seed: int = 0,
    dataset: str = "synthetic_ceph",
    split: Split | None = None,
    ground_truth: str = "mean",
    operator: str = "<=",
    aggregation: str = "pooled",
    truth: dict[str, np.ndarray] | None = None,
    names: list[str] | None = None,
    spacing: float = 0.1,
    radii: tuple[float, ...] = (2.0, 4.0),
    failed: dict[str, str] | None = None,
) -> Path:
    """Store one fake run through the public writers (no training); returns its folder.

    ``truth``: case id -> (C, d) true landmarks (NaN: missing); random 2D points otherwise.
    """
    split = split or kfold()
    names = names or NAMES
    rng = np.random.default_rng(abs(hash((method, seed, ground_truth))) % 2**32)
    record = {
        "dataset": {
            "name": dataset,
            "version": "1",
            "ground_truth": ground_truth,
            "landmark_names": names,
            "multi_instance": False,
            "options": {"n_cases": 12},
        },
        "metric": {"aggregation": aggregation, "sdr_operator": operator, "sdr_radii_mm": radii},
        "protocol": {"name": split.protocol, "split_id": split.identity, "params": split.params},
    }
    key = getattr(run_summary, "convention_key", None)
    extra = {"conventions": key(record)} if key is not None else {}
    # As in the runner, the ground truth is part of the dataset, so of the config hash.
    config = "c0ffee" if ground_truth == "mean" else f"c0ffee{sum(map(ord, ground_truth)):04x}"
    identity = RunIdentity(dataset, split.identity, method, config, seed, **extra)
    for fold in split.folds:
        if failed and fold.name in failed:
            continue
        if truth is None:
            points = rng.uniform(0, 500, size=(len(fold.test), len(names), 2))
        else:
            points = np.stack([truth[c] for c in fold.test])
        pred = np.nan_to_num(points, nan=50.0) + rng.normal(0, scale / spacing, points.shape)
        folder = identity.fold_dir(root, fold.name)
        folder.mkdir(parents=True)
        cell = np.full((len(fold.test), points.shape[2]), spacing)
        write_predictions(
            folder / "predictions.csv", FoldPredictions(fold.test, tuple(names), pred, points, cell)
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
    build_summary(identity, root, split, record, failed=failed or {})
    return identity.run_dir(root)


def _summary(run_dir: Path) -> Path:
    return next(run_dir.glob("summary*.json"))


def _table(root: Path, capsys) -> tuple[int, str, str]:
    code = main(["table", "--results-dir", str(root), "--bootstrap", "50"])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "damage",
    ["{not json", "", "[1, 2]", '{"identity": {}}'],
    ids=["garbage", "empty", "a list", "no record"],
)
def test_a_bad_summary_is_skipped_with_a_note(tmp_path: Path, capsys, damage: str) -> None:
    good = store_run(tmp_path, "good_net")
    bad = store_run(tmp_path, "bad_net", scale=3.0)
    _summary(bad).write_text(damage)
    code, out, err = _table(tmp_path, capsys)
    assert code == 0 and "| good_net |" in out and "bad_net" not in out
    assert str(_summary(bad)) in err and "internal error" not in err
    assert str(good) not in err
    # The leaderboard keeps going too.
    pages, notes = build_site(tmp_path, tmp_path / "site", bootstrap=0)
    assert len(pages) == 1 and any(str(_summary(bad)) in n for n in notes)
    # Alone, it is one sentence naming the file, exit 1.
    _summary(good).write_text(damage)
    code, _, err = _table(tmp_path, capsys)
    assert code == 1 and str(_summary(good)) in err and "internal error" not in err


@pytest.mark.parametrize(
    ("target", "damage", "words"),
    [
        ("fold.json", "{oops", "Fold record"),
        ("predictions.csv", "\x00\x01garbage\n1,2\n", "Predictions file"),
        ("predictions.csv", "", "Predictions file"),
        ("predictions.csv", "duplicate", "duplicated row"),
        ("predictions.csv", "drop", "rows are missing"),
        ("predictions.csv", "drop case", "lacks test case"),
    ],
)
def test_damaged_fold_files_are_named(
    tmp_path: Path, capsys, target: str, damage: str, words: str
) -> None:
    store_run(tmp_path, "good_net")
    bad = store_run(tmp_path, "bad_net")
    path = bad / "fold_1" / target
    lines = path.read_text().splitlines(keepends=True)
    if damage == "duplicate":
        text = "".join([*lines, lines[3]])
    elif damage == "drop":
        text = "".join(lines[:4] + lines[5:])
    elif damage == "drop case":
        text = "".join(lines[: 1 + 3 * len(NAMES)])
    else:
        text = damage
    path.write_text(text)
    code, out, err = _table(tmp_path, capsys)
    assert code == 0 and "| good_net |" in out and "| bad_net |" not in out
    assert str(path) in err and words in err and "internal error" not in err


def test_every_column_comes_from_predictions(tmp_path: Path, capsys) -> None:
    run = store_run(tmp_path, "edited_net")
    path = run / "fold_0" / "predictions.csv"
    text = path.read_text().splitlines()
    header = text[0].split(",")
    column = header.index("pred_0")
    cells = text[1].split(",")
    cells[column] = str(float(cells[column]) + 5000.0)  # one landmark 500 mm off
    path.write_text("\n".join([text[0], ",".join(cells), *text[2:]]) + "\n")
    [row], _ = collect_rows(tmp_path, "synthetic_ceph")
    folds = row.groups()[0][1]
    pooled_mre = row.image_errors(folds).pooled_mre
    shown = row.group_metrics(folds)[0]
    assert shown["mre"] == pytest.approx(pooled_mre)  # pooled aggregation: the same number
    fold_mean = np.mean(row.fold_values(folds, _primary()))
    assert fold_mean > 5.0  # the edit shows in the per-fold column too, not the old summary
    stored = json.loads(_summary(run).read_text())["pooled"]["mre"]
    assert stored < pooled_mre  # the summary on disk is stale; the table does not use it


def _primary():
    from landmarkbench.results.scoring import PointEvaluation

    return PointEvaluation.primary


def test_conventions_are_separate_groups(tmp_path: Path, capsys) -> None:
    store_run(tmp_path, "net", ground_truth="senior", scale=1.0)
    store_run(tmp_path, "net", ground_truth="junior", scale=3.0)
    store_run(tmp_path, "other", seed=0, operator="<", aggregation="per_image")
    store_run(tmp_path, "other", seed=1, operator="<=", aggregation="pooled")
    store_run(tmp_path, "other", seed=2, operator="<=", aggregation="pooled")
    rows, _ = collect_rows(tmp_path, "synthetic_ceph")
    assert sorted((r.method, r.ground_truth, tuple(r.seeds)) for r in rows) == [
        ("net", "junior", (0,)),
        ("net", "senior", (0,)),
        ("other", "mean", (0,)),
        ("other", "mean", (1, 2)),
    ]
    text = render_table(rows, "markdown", bootstrap=50)
    captions = [line for line in text.splitlines() if line.startswith("dataset synthetic_ceph")]
    assert len(captions) == 4
    assert any("ground truth senior" in c for c in captions)
    assert any("ground truth junior" in c for c in captions)
    assert any("SDR operator <, radii 2, 4 mm, aggregation per_image" in c for c in captions)
    # One row per table: nothing is bolded or tested across conventions.
    assert "**" not in text and "†" not in re.sub(r"^†:.*$", "", text, flags=re.M)
    # Seeds 1 and 2 share the key: one row with the spread over seeds beside the folds'.
    assert "| other | kfold-" in text and "| 1,2 |" in text and "MRE mm ↓ (seeds)" in text
    pages, _ = build_site(tmp_path, tmp_path / "site", bootstrap=0)
    assert len(pages) == 4 and len({p.path for p in pages}) == 4
    index = (tmp_path / "site" / "index.html").read_text()
    assert "ground truth senior" in index and "ground truth junior" in index


def test_diverged_run_note_says_what_to_change(tmp_path: Path) -> None:
    store_run(tmp_path, "good_net")
    store_run(tmp_path, "nan_net", failed={"fold_1": "The training loss became nan at epoch 3"})
    _, notes = read_runs(tmp_path, "synthetic_ceph")
    [note] = notes
    assert "fold_1 failed" in note and "--set learning_rate=" in note
    assert "rerun it to finish" not in note


def test_plot_command_names_a_bad_summary_and_goes_on(tmp_path: Path, capsys) -> None:
    store_run(tmp_path, "good_net")
    bad = store_run(tmp_path, "bad_net")
    _summary(bad).write_text("{")
    args = ["plot", "--results-dir", str(tmp_path), "--out", str(tmp_path / "p"), "--kind", "sdr"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "synthetic_ceph_sdr_curves.png" in out
    assert str(_summary(bad)) in err and "internal error" not in err
