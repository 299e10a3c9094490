"""Plots from stored results: every kind writes valid, non-empty PNG files (2D and 3D)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.cli.main import main
from landmarkbench.cli.plot_cmd import plot_command
from landmarkbench.report.plots import (
    all_plots,
    landmark_heatmaps,
    prediction_overlays,
    sdr_curves,
    sigma_ellipses,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_WIDTH_PX = 1600  # issue 14: every figure readable at 1600 px


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG header (IHDR)."""
    data = Path(path).read_bytes()[:24]
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _assert_pngs(paths: list[Path]) -> None:
    assert paths
    for path in paths:
        data = Path(path).read_bytes()
        assert len(data) > 1000, path
        assert data[:8] == PNG_SIGNATURE, path
        assert png_size(path)[0] <= MAX_WIDTH_PX, (path, png_size(path))
    leftovers = list(Path(paths[0]).parent.glob(".*.tmp"))
    assert not leftovers


@pytest.fixture(scope="module")
def results_2d(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plots2d")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("LANDMARKBENCH_CACHE", str(root / "cache"))
        code = main(
            [
                "run",
                "--folds",
                "3",
                "--no-progress",
                "--data-option",
                "n_cases=12",
                "--data-option",
                "image_shape=64,48",
                "--method",
                "mean_shape",
            ]
        )
    assert code == 0
    return root / "results"


def test_2d_plots(results_2d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(results_2d.parent / "cache"))
    out = tmp_path / "plots"
    _assert_pngs(sdr_curves(results_2d, "synthetic_ceph", out))
    _assert_pngs(landmark_heatmaps(results_2d, "synthetic_ceph", out))
    overlays = prediction_overlays(results_2d, "synthetic_ceph", out, n_cases=2)
    assert len(overlays) == 2
    _assert_pngs(overlays)
    assert sigma_ellipses(results_2d, "synthetic_ceph", out) == []  # mean_shape learns none


def test_sigma_ellipses_from_learned_targets(
    results_2d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of the run with learned sigmas in its fold records draws ellipses."""
    import shutil

    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(results_2d.parent / "cache"))
    copy = tmp_path / "results"
    shutil.copytree(results_2d, copy)
    for fold_file in copy.glob("synthetic_ceph/*/*__*/seed_*/fold_*/fold.json"):
        record = json.loads(fold_file.read_text())
        c = len(record["record"]["dataset"]["landmark_names"])
        record["fit"] = {
            "network_shape": [32, 32],
            "learned_targets": {"sigma": [[2.0, 1.0]] * c, "angles": [0.5] * c},
        }
        fold_file.write_text(json.dumps(record))
    paths = sigma_ellipses(copy, "synthetic_ceph", tmp_path / "plots")
    assert len(paths) == 1 and "_sigma_mean_shape" in paths[0].name
    _assert_pngs(paths)


def test_plot_command(results_2d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(results_2d.parent / "cache"))
    out = tmp_path / "cli"
    plot_command.main(
        [
            "--dataset",
            "synthetic_ceph",
            "--results-dir",
            str(results_2d),
            "--out",
            str(out),
            "--kind",
            "all",
            "--cases",
            "1",
        ],
        standalone_mode=False,
    )
    names = sorted(p.name for p in out.glob("*.png"))
    assert "synthetic_ceph_sdr_curves.png" in names
    assert "synthetic_ceph_landmarks.png" in names
    assert sum("_overlay_" in n for n in names) == 1
    _assert_pngs(list(out.glob("*.png")))


def test_plot_command_logs_to_mlflow(
    results_2d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(results_2d.parent / "cache"))
    from mlflow.tracking import MlflowClient

    from landmarkbench.results.tracking import resolve_tracking_uri

    out = tmp_path / "logged"
    db = results_2d.parent / "mlflow.db"
    plot_command.main(
        [
            "--dataset",
            "synthetic_ceph",
            "--results-dir",
            str(results_2d),
            "--out",
            str(out),
            "--kind",
            "sdr",
            "--log-to-mlflow",
            "--tracking-uri",
            str(db),
        ],
        standalone_mode=False,
    )
    client = MlflowClient(tracking_uri=resolve_tracking_uri(str(db)))
    experiment = client.get_experiment_by_name("landmarkbench/synthetic_ceph")
    parents = [
        r
        for r in client.search_runs([experiment.experiment_id])
        if "landmarkbench.fold" not in r.data.tags
    ]
    assert parents
    logged = [a.path for a in client.list_artifacts(parents[0].info.run_id, "plots")]
    assert "plots/synthetic_ceph_sdr_curves.png" in logged


def test_3d_plots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "run",
            "--dataset",
            "synthetic_ct",
            "--folds",
            "2",
            "--no-progress",
            "--data-option",
            "n_cases=6",
            "--data-option",
            "image_shape=16,32,32",
            "--method",
            "mean_shape",
        ]
    )
    assert code == 0
    results, out = tmp_path / "results", tmp_path / "plots"
    _assert_pngs(sdr_curves(results, "synthetic_ct", out))
    _assert_pngs(landmark_heatmaps(results, "synthetic_ct", out))
    overlays = prediction_overlays(results, "synthetic_ct", out, n_cases=1)
    assert len(overlays) == 1 and overlays[0].name.endswith("_mean_shape.png")
    _assert_pngs(overlays)
    _with_training_history(results)
    every = all_plots(results, "synthetic_ct", tmp_path / "all", n_cases=1)
    assert any("_training_" in p.name for p in every)
    _assert_pngs(every)


def _with_training_history(results: Path, epochs: int = 12) -> None:
    """Give every stored fold a training history and a best epoch, as a trained method's
    fold.json has them (mean_shape has none), the best epoch the last in fold 0."""
    for fold_file in results.glob("*/*/*__*/seed_*/fold_*/fold.json"):
        record = json.loads(fold_file.read_text())
        index = record["fold"]["index"]
        loss = [10.0 / (e + 1 + index) for e in range(epochs)]
        val = [5.0 / (e + 1) + 0.1 * max(0, e - 8) for e in range(epochs)]
        best = epochs - 1 if index == 0 else int(np.argmin(val))
        record["history"] = {"train_loss": loss, "val_error": val}
        record["fit"] = {**(record.get("fit") or {}), "best_epoch": best, "epochs_run": epochs}
        fold_file.write_text(json.dumps(record))


def test_training_curves_mark_the_best_epoch(
    results_2d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The training figure exists for runs with a history and counts late best epochs;
    every figure of --kind all stays within 1600 px (sizes written for the note)."""
    import shutil

    from landmarkbench.report.plot_training import training_curves

    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(results_2d.parent / "cache"))
    copy = tmp_path / "results"
    shutil.copytree(results_2d, copy)
    assert training_curves(copy, "synthetic_ceph", tmp_path / "none") == []  # no history
    _with_training_history(copy)
    [path] = training_curves(copy, "synthetic_ceph", tmp_path / "curves")
    assert path.name == "synthetic_ceph_training_mean_shape_seed0.png"
    _assert_pngs([path])
    every = all_plots(copy, "synthetic_ceph", tmp_path / "all", n_cases=1)
    _assert_pngs(every)
    assert {p.name.split("_")[2] for p in every} >= {"sdr", "landmarks.png", "training"}
