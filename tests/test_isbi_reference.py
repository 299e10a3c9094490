"""Reference check on the real ISBI 2015 annotations: senior vs junior inter-observer error.

The annotation CSVs (GPL-3.0) live outside the repository in ``../shared``; the module is
skipped when they are absent. Nothing from them is copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from landmarkbench.evaluation.metrics import point_error_mm, summarize

ANNOTATIONS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "isbi2015-annotations"
)
if not (ANNOTATIONS / "senior.csv").is_file():
    pytest.skip(f"ISBI 2015 annotations not found in {ANNOTATIONS}", allow_module_level=True)

N_IMAGES, N_LANDMARKS = 400, 19
SPACING_MM = np.array([0.1, 0.1])
TEST2 = slice(300, 400)  # images 301-400
SOFT_TISSUE_POGONION = 15  # landmark 16


def _read_pixels(name: str) -> tuple[list[str], np.ndarray]:
    """Image ids and (400, 19, 2) landmarks in pixels, (row, col) order, from a mm CSV."""
    ids, rows = [], []
    for line in (ANNOTATIONS / f"{name}.csv").read_text().splitlines():
        if line.strip():
            first, *values = line.strip().split(",")
            ids.append(first)
            rows.append([float(v) for v in values])
    xy_mm = np.asarray(rows).reshape(len(rows), N_LANDMARKS, 2)
    # x = column, y = row; 0.1 mm per pixel (the official txt holds round(mm * 10)).
    return ids, xy_mm[..., ::-1] * 10.0


@pytest.fixture(scope="module")
def annotations() -> dict[str, np.ndarray]:
    out = {}
    for name in ("senior", "junior", "challenge"):
        ids, points = _read_pixels(name)
        assert ids == [f"{i:03d}" for i in range(1, N_IMAGES + 1)]
        assert points.shape == (N_IMAGES, N_LANDMARKS, 2)
        out[name] = points
    return out


def test_first_senior_points_match_official_txt(annotations):
    # First lines of 400_senior/001.txt are `835,996`, `1473,1029`, ... as (x, y).
    np.testing.assert_allclose(annotations["senior"][0, :2], [[996, 835], [1029, 1473]])


def test_senior_vs_junior_mre_is_2_15_mm_and_landmark_16_is_6_57_mm(annotations):
    pe = point_error_mm(annotations["junior"], annotations["senior"], SPACING_MM)
    assert pe.shape == (N_IMAGES, N_LANDMARKS)
    summary = summarize(pe, [2.0, 2.5, 3.0, 4.0], "<=")
    assert summary["n_points"] == N_IMAGES * N_LANDMARKS and summary["n_missing"] == 0
    assert round(summary["mre"], 2) == 2.15
    assert round(summary["per_landmark"][SOFT_TISSUE_POGONION]["mre"], 2) == 6.57
    assert summary["mre"] == pytest.approx(np.mean(pe))


def test_challenge_equals_senior_except_landmark_16_on_test2(annotations):
    senior, challenge = annotations["senior"], annotations["challenge"]
    differs = np.any(senior != challenge, axis=-1)  # (400, 19)
    expected_region = np.zeros_like(differs)
    expected_region[TEST2, SOFT_TISSUE_POGONION] = True
    assert not differs[~expected_region].any()
    assert differs[TEST2, SOFT_TISSUE_POGONION].sum() > 50
