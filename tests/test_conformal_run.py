"""Conformal regions inside a benchmark run: calibration split, stored records, reports."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY_DATA, TINY_NET, compile_latex
from scipy import ndimage

from landmarkbench.cli.main import main
from landmarkbench.datasets.base import Case
from landmarkbench.methods.base import Method
from landmarkbench.results.layout import summary_files
from landmarkbench.run.conformal_fold import conformal_fold
from landmarkbench.training.geometry import ResizePad
from landmarkbench.uncertainty.probability_maps import spatial_softmax
from landmarkbench.uncertainty.region_records import (
    MASKS_FILE,
    REGIONS_FILE,
    read_region_masks,
    read_regions,
)

RUN = ["run", "--folds", "3", "--no-progress", *TINY_DATA, *TINY_NET]
CONFORMAL = ["--uncertainty", "conformal", "--calibration-fraction", "0.25"]


def _summary(workdir: Path, method: str) -> tuple[dict, Path]:
    paths = [
        p for p in summary_files(workdir / "results", "synthetic_ceph") if f"/{method}__" in str(p)
    ]
    assert len(paths) == 1
    return json.loads(paths[0].read_text()), paths[0].parent


def test_conformal_run_calibrates_on_held_out_training_cases(workdir: Path, capsys) -> None:
    assert main([*RUN, "--method", "one_hot", *CONFORMAL, "--alpha", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "calibration 2" in out and "Conformal regions" in out

    summary, run_dir = _summary(workdir, "one_hot")
    assert summary["record"]["uncertainty"]["alpha"] == 0.5
    coverage_hits, pairs, sizes = 0, 0, []
    for fold_dir in sorted(run_dir.glob("fold_*")):
        fold = json.loads((fold_dir / "fold.json").read_text())
        calibration = set(fold["calibration_ids"])
        train, val, test = (set(fold[k]) for k in ("train_ids", "validation_ids", "test_ids"))
        assert len(calibration) == 2
        assert not calibration & (train | val | test)  # never trained, selected or tested on
        assert fold["uncertainty"]["calibration"]["n"] == [2] * 19
        assert not any(fold["uncertainty"]["calibration"]["whole_image"])  # k = 2 <= n = 2

        frame = pd.read_csv(fold_dir / REGIONS_FILE, dtype={"case_id": str})
        assert len(frame) == len(test) * 19 and set(frame["case_id"]) == test
        regions = read_regions(fold_dir)
        masks = read_region_masks(fold_dir)
        assert masks.case_ids == regions.case_ids
        # Region size (the interpolated region, in network pixels x their area in mm^2) lies
        # between the stored mask's interior and its one-pixel dilation.
        predictions = pd.read_csv(fold_dir / "predictions.csv", dtype={"case_id": str})
        spacing = predictions.groupby("case_id")[["spacing_0", "spacing_1"]].first()
        for index, case in enumerate(regions.case_ids):
            pixel_mm2 = np.prod(spacing.loc[case].to_numpy() / masks.grid_scale[index])
            mask = masks.masks[index]
            inner = ndimage.minimum_filter(mask, size=(1, 3, 3), mode="nearest").sum(axis=(1, 2))
            outer = ndimage.maximum_filter(mask, size=(1, 3, 3), mode="nearest").sum(axis=(1, 2))
            size = regions.pairs.size[index] / pixel_mm2
            assert (inner - 1e-9 <= size).all() and (size <= outer + 1e-9).all()
        coverage_hits += int(regions.pairs.covered.sum())
        pairs += int(regions.pairs.present.sum())
        sizes.append(regions.pairs.size.reshape(-1))

    stats = summary["uncertainty"]
    assert stats["n_pairs"] == pairs == 12 * 19
    assert stats["coverage_percent"] == pytest.approx(100.0 * coverage_hits / pairs)
    assert stats["mean_size"] == pytest.approx(float(np.mean(np.concatenate(sizes))))
    assert stats["size_unit"] == "mm^2"
    assert stats["whole_image_landmarks"] == []
    per_fold = stats["per_fold"]
    assert sorted(per_fold) == ["0", "1", "2"]
    assert np.mean([f["coverage_percent"] for f in per_fold.values()]) == pytest.approx(
        stats["coverage_percent"]  # equal test folds of 4 cases x 19 landmarks
    )
    # n = 2 calibration cases, k = ceil(3 x 0.5) = 2: expected coverage k / (n + 1) = 2/3.
    assert stats["expected_coverage_percent"] == pytest.approx(200.0 / 3.0)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(workdir / 'mlflow.db').resolve()}")
    experiment = client.get_experiment_by_name("landmarkbench/synthetic_ceph")
    parents = [
        r
        for r in client.search_runs([experiment.experiment_id])
        if "landmarkbench.fold" not in r.data.tags
    ]
    assert parents[0].data.metrics["conformal_coverage_percent"] == pytest.approx(
        stats["coverage_percent"]
    )

    # Rerunning resumes; the table command reports the regions.
    assert main([*RUN, "--method", "one_hot", *CONFORMAL, "--alpha", "0.5"]) == 0
    assert "reused 3 finished fold(s)" in capsys.readouterr().out
    assert main(["table", "--dataset", "synthetic_ceph"]) == 0
    table = capsys.readouterr().out.replace("⚠ ", "")  # tiny runs may be flagged as failed
    assert "Conformal regions" in table and "50 %" in table
    assert "Coverage % per fold" in table
    assert "| one_hot (conformal) |" in table and "calibration part" in table
    assert re.search(r"\| 0 \d+\.\d, 1 \d+\.\d, 2 \d+\.\d \|", table)
    assert main(["table", "--dataset", "synthetic_ceph", "--per-landmark"]) == 0
    per_landmark = capsys.readouterr().out
    assert "Prediction regions per landmark" in per_landmark
    assert "| sella |" in per_landmark.split("Prediction regions per landmark")[1]
    assert main(["table", "--dataset", "synthetic_ceph", "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert r"Spearman $\rho$" in latex and r"mm$^2$" in latex and latex.isascii()

    # The regions are drawn on the images from the stored masks.
    assert main(["plot", "--kind", "regions", "--cases", "2", "--out", "plots"]) == 0
    pngs = sorted((workdir / "plots").glob("synthetic_ceph_regions_*_one_hot_conformal.png"))
    assert len(pngs) == 2
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    # The leaderboard page carries both regions tables.
    assert main(["leaderboard", "--out", "site", "--bootstrap", "0"]) == 0
    (page,) = [p for p in (workdir / "site").glob("*.html") if p.name != "index.html"]
    assert "Prediction regions" in page.read_text() and "regions-per-landmark" in page.read_text()
    compile_latex(latex, workdir)  # last: skips when pdflatex is absent


def test_conformal_regions_in_3d_are_volumes_and_plotted(workdir: Path, capsys) -> None:
    ct = [
        "run",
        "--dataset",
        "synthetic_ct",
        "--folds",
        "2",
        "--no-progress",
        "--data-option",
        "n_cases=8",
        "--data-option",
        "image_shape=16,32,32",
        *TINY_NET,
        "--set",
        "max_epochs=1",
        "--method",
        "argmax",
        *CONFORMAL,
        "--alpha",
        "0.5",
    ]
    assert main(ct) == 0
    summaries = summary_files(workdir / "results", "synthetic_ct")
    stats = json.loads(summaries[0].read_text())["uncertainty"]
    assert stats["size_unit"] == "mm^3" and stats["n_pairs"] > 0
    masks = read_region_masks(summaries[0].parent / "fold_0")
    assert masks.masks.ndim == 5
    assert main(["plot", "--dataset", "synthetic_ct", "--kind", "regions", "--cases", "1",
                 "--out", "plots"]) == 0  # fmt: skip
    assert len(list((workdir / "plots").glob("synthetic_ct_regions_*.png"))) == 1


def test_too_few_calibration_cases_give_whole_image_regions_and_say_so(
    workdir: Path, capsys
) -> None:
    # 2 calibration cases at alpha = 0.1: k = ceil(3 x 0.9) = 3 > 2.
    assert main([*RUN, "--method", "argmax", *CONFORMAL, "--alpha", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "region is the whole image" in out
    summary, run_dir = _summary(workdir, "argmax")
    stats = summary["uncertainty"]
    assert stats["coverage_percent"] == 100.0
    assert len(stats["whole_image_landmarks"]) == 19
    regions = read_regions(run_dir / "fold_0")
    assert regions.whole_image.all() and regions.pairs.covered.all()
    assert read_region_masks(run_dir / "fold_0").masks.all()  # every pixel of the grid
    assert (run_dir / "fold_0" / MASKS_FILE).is_file()


def test_conformal_needs_a_method_with_probability_maps(workdir: Path, capsys) -> None:
    plain = ["run", "--folds", "3", "--no-progress", *TINY_DATA]
    assert main([*plain, "--method", "mean_shape", *CONFORMAL]) == 2
    err = capsys.readouterr().err
    assert "mean_shape" in err and "prediction regions" in err and "one_hot" in err
    assert not (workdir / "results").exists() or not summary_files(
        workdir / "results", "synthetic_ceph"
    )


def test_methods_without_maps_share_the_calibration_hold_out(workdir: Path, capsys) -> None:
    both = [*RUN, "--method", "mean_shape,argmax", *CONFORMAL, "--alpha", "0.5"]
    assert main(both) == 0
    assert "[mean_shape] gives no probability maps" in capsys.readouterr().out
    shape, shape_dir = _summary(workdir, "mean_shape")
    argmax, argmax_dir = _summary(workdir, "argmax")
    assert shape["uncertainty"] is None and argmax["uncertainty"]["n_pairs"] == 12 * 19
    assert not (shape_dir / "fold_0" / REGIONS_FILE).exists()
    for fold in ("fold_0", "fold_1", "fold_2"):
        parts = [json.loads((d / fold / "fold.json").read_text()) for d in (shape_dir, argmax_dir)]
        for key in ("train_ids", "validation_ids", "calibration_ids", "test_ids"):
            assert parts[0][key] == parts[1][key]  # same cases: comparable rows


def test_conformal_runs_have_their_own_identity_and_models(workdir: Path) -> None:
    assert main([*RUN, "--method", "argmax"]) == 0
    assert main([*RUN, "--method", "argmax", *CONFORMAL, "--alpha", "0.5"]) == 0
    runs = sorted(p.parent.parent for p in summary_files(workdir / "results", "synthetic_ceph"))
    assert len(runs) == 2  # two config hashes
    model_dirs = list((workdir / "results").rglob("_models/unet_gaussian_heatmap__*"))
    folds = len(list(runs[0].glob("seed_0/fold_*")))
    # One model per training set; the calibration cases are not trained on: other models.
    assert folds == 3 and len(model_dirs) == 2 * folds
    plain = [
        json.loads(p.read_text()) for p in summary_files(workdir / "results", "synthetic_ceph")
    ]
    assert sorted(s["uncertainty"] is None for s in plain) == [False, True]


class _KnownMaps(Method):
    """A method whose probability maps are Gaussians of known width around the truth plus
    a per-case offset: the conformal machinery must reach its nominal coverage on them."""

    supports_conformal = True
    network = (32, 32)
    map_sigma = 2.0  # the maps' spread; truths scatter 1.5 px around the map centres

    def fit(self, train, val, ctx):  # pragma: no cover - not trained
        return {}

    def predict(self, cases):  # pragma: no cover - not used
        raise NotImplementedError

    def probability_batches(self, cases: Sequence[Case]):
        generator = torch.Generator().manual_seed(len(cases))
        axes = torch.meshgrid(
            *(torch.arange(s, dtype=torch.float64) for s in self.network), indexing="ij"
        )
        for start in range(0, len(cases), 16):
            batch = cases[start : start + 16]
            mappings = [ResizePad(c.shape, self.network) for c in batch]
            pairs = zip(mappings, batch, strict=True)
            truth = torch.as_tensor(np.stack([m.points_to_target(c.landmarks) for m, c in pairs]))
            centre = truth + 1.5 * torch.randn(
                truth.shape, generator=generator, dtype=torch.float64
            )
            squared = sum((grid - centre[..., k, None, None]) ** 2 for k, grid in enumerate(axes))
            yield spatial_softmax(-squared / (2 * self.map_sigma**2)).float(), mappings


def _cases(n: int, offset: int) -> list[Case]:
    rng = np.random.default_rng(offset)
    return [
        Case.in_memory(
            f"c{offset + i}",
            np.zeros((64, 40), dtype=np.float32),
            rng.uniform([5, 5], [55, 35], size=(2, 2)),
            np.array([0.5, 0.25]),
        )
        for i in range(n)
    ]


def test_conformal_fold_reaches_nominal_coverage_on_known_maps() -> None:
    method = _KnownMaps({}, num_landmarks=2, ndim=2)
    outcome = conformal_fold(method, _cases(300, 0), _cases(300, 1000), ("a", "b"), alpha=0.1)
    pairs = outcome.regions.pairs
    assert pairs.present.sum() == 600
    assert 0.87 <= pairs.covered.mean() <= 0.93
    # Network pixel of a 64 x 40 image on a 32 x 32 grid: scale 0.5, so 1.0 x 0.5 mm; the
    # interpolated regions (sigma 2 px) measure about their pixel-centre count.
    counts = outcome.masks.masks.reshape(300, 2, -1).sum(axis=-1)
    assert abs(pairs.size.mean() / (counts.mean() * 0.5) - 1) < 0.05
    np.testing.assert_allclose(outcome.masks.grid_scale, 0.5)


def test_bad_calibration_fraction_fails_before_any_training(workdir: Path, capsys) -> None:
    code = main(
        [*RUN, "--method", "argmax,one_hot", *CONFORMAL[:2], "--calibration-fraction", "0.9"]
    )
    assert code == 2
    assert "--calibration-fraction 0.9 is outside (0, 0.5]" in capsys.readouterr().err
    assert not list((workdir / "results").rglob("fold_*"))  # nothing trained


def test_conformal_corrects_overconfident_maps_that_hdr_trusts() -> None:
    """Maps twice too sharp (spread 0.75 px, truths scatter 1.5 px): their own 90 %
    highest-density regions miss most truths; conformal regions on the same maps cover ~90 %."""
    from landmarkbench.run.conformal_fold import region_fold
    from landmarkbench.uncertainty.hdr import HighestDensityRule

    method = _KnownMaps({}, num_landmarks=2, ndim=2)
    method.map_sigma = 0.75
    test = _cases(300, 1000)
    conformal = conformal_fold(method, _cases(300, 0), test, ("a", "b"), alpha=0.1)
    none = np.zeros(2, dtype=bool)
    hdr, _ = region_fold(method, HighestDensityRule(0.1), test, ("a", "b"), none, none + np.nan)
    hdr_coverage = hdr.pairs.covered.mean()
    assert hdr_coverage < 0.6
    assert 0.87 <= conformal.regions.pairs.covered.mean() <= 0.93
    assert conformal.regions.pairs.size.mean() > 2 * hdr.pairs.size.mean()


def test_hdr_run_needs_no_calibration_and_shares_the_plain_models(workdir: Path, capsys) -> None:
    assert main([*RUN, "--method", "argmax"]) == 0
    capsys.readouterr()
    assert main([*RUN, "--method", "argmax", "--uncertainty", "hdr", "--alpha", "0.1"]) == 0
    out = capsys.readouterr().out
    fold_lines = [line for line in out.splitlines() if line.startswith("[argmax] fold")]
    assert len(fold_lines) == 3 and not any("calibration" in line for line in fold_lines)
    summaries = [
        json.loads(p.read_text()) for p in summary_files(workdir / "results", "synthetic_ceph")
    ]
    hdr = next(s for s in summaries if s["uncertainty"])
    plain = next(s for s in summaries if not s["uncertainty"])
    assert hdr["record"]["uncertainty"]["method"] == "hdr"
    assert hdr["uncertainty"]["expected_coverage_percent"] is None
    assert hdr["pooled"]["mre"] == plain["pooled"]["mre"]  # the same trained models
    # The plain run's models (one per fold's training set) are reused, none trained again.
    assert len(list((workdir / "results").rglob("_models/unet_gaussian_heatmap__*"))) == 3
    assert "[argmax seed 0] trained 0 fold(s)" in out
    assert "| argmax (hdr) |" in out.replace("⚠ ", "") and "highest-density" in out
    # Its predictions are the plain run's: one comparison row, the hdr row only with regions.
    assert main(["table", "--dataset", "synthetic_ceph", "--bootstrap", "0"]) == 0
    table = capsys.readouterr().out.replace("⚠ ", "")  # tiny runs may be flagged as failed
    comparison, regions = table.split("highest-density regions (hdr, baseline)")
    assert "| argmax |" in comparison and "| argmax (hdr) |" not in comparison
    assert "| argmax (hdr) |" in regions
