"""One SDR: the plots' and the leaderboard's curves meet the table's SDR at the table's radii on
synthetic_ct (10.7 % of landmarks missing), and the number missing is shown everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_stored_runs import kfold, store_run

from landmarkbench.catalog import DATASETS
from landmarkbench.evaluation.metrics import radius_key, sdr, sdr_curve, summarize
from landmarkbench.report.leaderboard import build_site, row_sdr_curve
from landmarkbench.report.plots import run_sdr_curve, sdr_curves
from landmarkbench.report.tables import collect_rows, render_table

RADII = (2.0, 2.5, 3.0, 4.0)


@pytest.fixture(scope="module")
def ct_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fake runs on the real synthetic_ct truths (missing landmarks as generated), under
    both operators and both aggregations, two seeds of one of them."""
    root = tmp_path_factory.mktemp("ct") / "results"
    data = DATASETS.get("synthetic_ct")(n_cases=30, image_shape=(16, 32, 32))
    ids = list(data.case_ids())
    truth = {c: np.asarray(data.load(c).landmarks, dtype=float) for c in ids}
    split = kfold(30, 3)
    split = type(split)(split.protocol, split.params, tuple(
        type(f)(f.index, f.name, tuple(ids[int(c)] for c in f.train),
                tuple(ids[int(c)] for c in f.test))
        for f in split.folds
    ))  # fmt: skip
    common = {"dataset": "synthetic_ct", "split": split, "truth": truth, "radii": RADII}
    common |= {"names": list(data.landmark_names), "spacing": 1.0}
    store_run(root, "mean_shape", scale=2.5, **common)
    store_run(root, "mean_shape", scale=2.5, seed=1, **common)
    store_run(root, "strict", scale=2.0, operator="<", aggregation="per_image", **common)
    return root


def test_curve_counts_like_the_summary() -> None:
    pe = np.array([[0.5, 1.0, np.nan], [2.0, np.nan, 3.0]])
    curve = sdr_curve(pe, [0.0, 1.0, 2.0], "<=")
    assert curve.percent.tolist() == [0.0, 50.0, 75.0]
    assert (curve.n_valid, curve.n_missing) == (4, 2)
    assert curve.missing_note() == "2 of 6 landmarks missing (neither hit nor miss)"
    assert sdr_curve(pe, [2.0], "<").percent.tolist() == [50.0]
    assert sdr_curve(pe, [2.0], "<").at(2.0) == sdr(pe, [2.0], "<")[2.0]
    per_image = sdr_curve(pe, [1.0], "<=", "per_image")
    assert per_image.at(1.0) == summarize(pe, [1.0], "<=", "per_image")["sdr"]["1.0"] == 50.0
    assert np.isnan(sdr_curve(np.full((2, 2), np.nan), [1.0]).percent).all()


def test_plot_and_leaderboard_curves_equal_the_table_at_its_radii(ct_results: Path) -> None:
    rows, _ = collect_rows(ct_results, "synthetic_ct")
    assert {(r.method, tuple(r.seeds)) for r in rows} == {("mean_shape", (0, 1)), ("strict", (0,))}
    for row in rows:
        folds = row.groups()[0][1]
        table = [
            np.mean([m["sdr"][radius_key(r)] for m in row.group_metrics(folds)]) for r in RADII
        ]
        board = row_sdr_curve(row, 10.0)
        assert [board.at(r) for r in RADII] == pytest.approx(table, abs=1e-12)
        for run in row.runs:
            plot = run_sdr_curve(run, np.linspace(0, 10, 41))  # 2.0, 2.5, 3.0, 4.0 on the grid
            mine = run.metrics(folds)["sdr"]
            assert [plot.at(r) for r in RADII] == [mine[radius_key(r)] for r in RADII]
            # Missing landmarks are neither hit nor miss: 10.7 % of synthetic_ct's.
            assert plot.n_missing / (plot.n_missing + plot.n_valid) == pytest.approx(0.107, 0.01)
            counted_as_miss = (
                100.0 * np.sum(run.pooled().point_error <= 2.0) / (plot.n_missing + plot.n_valid)
            )
            assert counted_as_miss < plot.at(2.0)


def test_number_missing_is_shown(ct_results: Path, tmp_path: Path) -> None:
    rows, _ = collect_rows(ct_results, "synthetic_ct")
    text = render_table(rows, "markdown", bootstrap=0)
    assert "neither hits nor misses of the SDR: mean_shape 45 of 420 (10.7 %)" in text
    pages, _ = build_site(ct_results, tmp_path / "site", bootstrap=0)
    page = (tmp_path / "site" / pages[0].path).read_text()
    assert "45 of 420 landmarks missing (neither hit nor miss)" in page
    paths = sdr_curves(ct_results, "synthetic_ct", tmp_path / "plots")
    assert len(paths) == 2  # one figure per convention key ('<='/pooled and '<'/per_image)
