"""Failures are visible: the mean-shape floor on the inner validation cases, the ⚠ flags.

A method trained for zero useful epochs and a method with one collapsed landmark (always
predicted at a far point, its probability map flat) are flagged with the landmarks named:
in fold.json, in the run output, in the tables and on the leaderboard; the mean shape and a
good method are not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from conftest import TINY_DATA, TINY_NET

from landmarkbench.catalog import METHODS
from landmarkbench.cli.main import main
from landmarkbench.datasets.base import Case
from landmarkbench.methods.base import FitContext, Method
from landmarkbench.registry import Entry
from landmarkbench.results.summary import FLAT_PEAK_RATIO, failure_flags, run_failures

RUN = ["run", "--folds", "2", "--no-progress", *TINY_DATA]
COLLAPSED = 3  # the landmark the collapsed stub gets wrong


class CentreStub(Method):
    """Learns nothing: every landmark at the image centre."""

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        return {}

    def predict(self, cases: Sequence[Case]) -> np.ndarray:
        return np.stack(
            [np.tile((np.asarray(c.shape) - 1) / 2, (self.num_landmarks, 1)) for c in cases]
        )


class CollapsedStub(Method):
    """Perfect on every landmark but one, which sits at the image's corner and whose map is
    flat (the others' maps are one-hot at the truth)."""

    supports_conformal: ClassVar[bool] = True

    def fit(self, train: Sequence[Case], val: Sequence[Case], ctx: FitContext) -> dict[str, Any]:
        return {}

    def predict(self, cases: Sequence[Case]) -> np.ndarray:
        points = np.stack([np.asarray(c.landmarks, dtype=float) for c in cases])
        points[:, COLLAPSED] = 0.0
        return points

    def probability_batches(self, cases: Sequence[Case]) -> Iterator[Any]:
        import torch

        maps = torch.zeros((len(cases), self.num_landmarks, 16, 16))
        maps[:, :, 8, 8] = 1.0
        maps[:, COLLAPSED] = 1.0 / 256
        yield maps, [None] * len(cases)


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> None:
    METHODS.get("mean_shape")  # load the registry before adding to it
    for name, cls in (("stub_centre", CentreStub), ("stub_collapsed", CollapsedStub)):
        monkeypatch.setitem(METHODS._entries, name, Entry(name=name, description=name, obj=cls))


def _fold_records(workdir: Path, method: str) -> list[dict[str, Any]]:
    folders = sorted((workdir / "results" / "synthetic_ceph").glob(f"*/{method}__*/seed_*/fold_*"))
    assert folders, f"no fold folder of {method}"
    return [json.loads((f / "fold.json").read_text()) for f in folders]


def test_the_rule_on_numbers() -> None:
    inner = {
        "mre": 3.0,
        "mean_shape_mre": 4.0,
        "landmarks": ["a", "b", "c"],
        "per_landmark_mre": [1.0, 5.0, 1.0],
        "per_landmark_mean_shape_mre": [4.0, 4.0, 4.0],
        "per_landmark_peak_ratio": [500.0, 400.0, FLAT_PEAK_RATIO / 2],
    }
    assert failure_flags(inner) == {
        "method": [],
        "landmarks": {"b": ["not_below_floor"], "c": ["flat_map"]},
    }
    assert failure_flags({**inner, "mre": 4.0})["method"] == ["not_below_floor"]
    assert failure_flags({**inner, "is_floor": True}) == {"method": [], "landmarks": {}}
    # Folds stored before the measurement existed: not checked, not flagged.
    assert run_failures({"fold_0": {"fit": {}}})["checked"] is False


def test_stubs_are_flagged_with_the_landmarks_named(workdir: Path, capsys, stubs) -> None:
    methods = ["--method", "mean_shape", "--method", "stub_centre", "--method", "stub_collapsed"]
    assert main([*RUN, *methods]) == 0
    out = capsys.readouterr().out
    names = None
    for record in _fold_records(workdir, "stub_centre"):
        inner = record["inner_validation"]
        names = inner["landmarks"]
        assert inner["cases"] == len(record["validation_ids"]) > 0
        assert inner["mre"] >= inner["mean_shape_mre"] > 0
        assert inner["flags"]["method"] == ["not_below_floor"]
    collapsed = names[COLLAPSED]
    for record in _fold_records(workdir, "stub_collapsed"):
        inner = record["inner_validation"]
        assert inner["mre"] < inner["mean_shape_mre"]
        assert inner["flags"] == {
            "method": [],
            "landmarks": {collapsed: ["not_below_floor", "flat_map"]},
        }
        assert inner["per_landmark_peak_ratio"][0] == pytest.approx(256.0)
    for record in _fold_records(workdir, "mean_shape"):
        assert record["inner_validation"]["flags"] == {"method": [], "landmarks": {}}

    # The run output names what failed, per fold and at the end of each run.
    assert "[stub_centre] ⚠ inner-validation MRE not below the mean shape's" in out
    assert f"[stub_collapsed] ⚠ failed landmarks: {collapsed} (flat map, not below" in out
    assert "[mean_shape] ⚠" not in out and "[mean_shape seed 0] ⚠" not in out
    # The table: flagged rows are marked, never bold, and a footnote names the landmarks.
    assert "| ⚠ stub_centre |" in out and "| ⚠ stub_collapsed |" in out
    assert "| mean_shape |" in out
    for line in out.splitlines():
        if line.startswith("| ⚠ stub_collapsed |"):
            assert "**" not in line  # its MRE is the lowest, yet it is not bold
        if line.startswith("| mean_shape |"):
            assert "**" in line
    assert f"⚠ stub_collapsed: failed landmarks: {collapsed} (flat map, not below" in out

    assert main(["table", "--dataset", "synthetic_ceph", "--per-landmark"]) == 0
    per_landmark = capsys.readouterr().out
    row = next(line for line in per_landmark.splitlines() if line.startswith(f"| {collapsed} |"))
    assert "⚠" in row

    assert main(["leaderboard", "--out", str(workdir / "site")]) == 0
    capsys.readouterr()
    page = "\n".join(p.read_text() for p in (workdir / "site").glob("*.html"))
    assert "⚠ stub_collapsed" in page and f"failed landmarks: {collapsed}" in page


def test_a_heatmap_method_trained_for_no_useful_epoch_is_flagged(workdir: Path, capsys) -> None:
    tiny = [*TINY_NET, "--set", "max_epochs=1", "--set", "learning_rate=1e-9"]
    assert main([*RUN, "--method", "mean_shape", "--method", "subpixel", *tiny]) == 0
    out = capsys.readouterr().out
    for record in _fold_records(workdir, "subpixel"):
        inner = record["inner_validation"]
        assert inner["mre"] >= inner["mean_shape_mre"]
        assert inner["flags"]["method"] == ["not_below_floor"]
        assert inner["flags"]["landmarks"]  # named, with their reasons
    assert "| ⚠ subpixel |" in out and "[subpixel] ⚠ inner-validation MRE" in out
