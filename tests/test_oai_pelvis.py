"""OAI pelvis adapter: tables (xlsx/csv), DICOM/PNG images, per-image spacing, scale, checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import landmarkbench.datasets.oai_pelvis.adapter  # noqa: F401  (registers the dataset)
from landmarkbench.datasets.oai_pelvis.adapter import OAIPelvis
from landmarkbench.errors import DataError, UsageError
from landmarkbench.evaluation.metrics import point_error_mm
from landmarkbench.imageio import write_image


def _write_known_tree(root: Path, fmt: str, table_format: str) -> Path:
    """Two images written by hand: known stored (x, y), row spacing 0.1 mm, col 0.2 mm."""
    images = root / "images"
    for case_id in ("knee_a", "knee_b"):
        write_image(
            images / f"{case_id}.{fmt}",
            np.zeros((60, 50), dtype=np.uint8),
            spacing=(0.1, 0.2) if fmt == "dcm" else None,
        )
    stored = np.arange(16, dtype=float).reshape(8, 2) + np.array(
        [2.0, 5.0]
    )  # x = col / 4, y = row / 4
    records = [
        {"image_name": name} | {f"c{i}": v for i, v in enumerate(stored.ravel())}
        for name in (f"knee_a.{fmt}", "knee_b")  # with and without the suffix
    ]
    spacing = [
        {"image_file": name, "image_resolution1": 0.2, "image_resolution2": 0.1}
        for name in ("knee_a", f"knee_b.{fmt}")
    ]
    for stem, rows in (("Coordinates_information", records), ("original_information", spacing)):
        frame = pd.DataFrame.from_records(rows)
        if table_format == "csv":
            frame.to_csv(root / f"{stem}.csv", index=False)
        else:
            frame.to_excel(root / f"{stem}.xlsx", index=False)
    return root


@pytest.mark.parametrize(("fmt", "table_format"), [("png", "xlsx"), ("dcm", "csv")])
def test_known_values_are_recovered_in_row_col_pixels_and_mm(
    tmp_path: Path, fmt: str, table_format: str
) -> None:
    dataset = OAIPelvis(data_dir=str(_write_known_tree(tmp_path, fmt, table_format)))
    assert dataset.case_ids() == ["knee_a", "knee_b"]
    stored = np.arange(16, dtype=float).reshape(8, 2) + np.array([2.0, 5.0])
    for case_id in dataset.case_ids():
        case = dataset.load(case_id)
        np.testing.assert_array_equal(case.landmarks, stored[:, ::-1] * 4)
        np.testing.assert_array_equal(case.spacing, [0.1, 0.2])  # (row, col)
        assert case.image_shape == (60, 50) and case.source.endswith(f".{fmt}")
        # 10 rows off is 1 mm, 10 columns off is 2 mm: image_resolution1 is the col spacing.
        truth = case.landmarks[None]
        for shift, mm in (([10.0, 0.0], 1.0), ([0.0, 10.0], 2.0)):
            pe = point_error_mm(truth + np.array(shift), truth, case.spacing)
            np.testing.assert_allclose(pe, mm)
    assert dataset.options() == {"coordinate_scale": 4.0, "image_dir": "images"}


@pytest.mark.parametrize(
    ("fmt", "table_format"), [("png", "xlsx"), ("dcm", "csv"), ("png", "csv"), ("dcm", "xlsx")]
)
def test_fixture_round_trip_with_per_image_spacing(
    tmp_path: Path, fmt: str, table_format: str
) -> None:
    root = OAIPelvis.write_fixture(
        tmp_path / "oai", n_cases=4, fmt=fmt, table_format=table_format, image_shape=(48, 40)
    )
    dataset = OAIPelvis(data_dir=str(root))
    assert dataset.case_ids() == [f"pelvis_{k:03d}" for k in range(4)]
    spacings = []
    for case_id in dataset.case_ids():
        case = dataset.load(case_id)
        rows, cols = case.landmarks.astype(int).T
        np.testing.assert_array_equal(case.landmarks, np.round(case.landmarks))
        assert (case.image[rows, cols] == 255).all()  # dots at (row, col) after the 4x scale
        np.testing.assert_array_equal(case.landmarks, case.extra["stored_xy"][:, ::-1] * 4)
        spacings.append(case.spacing)
    k = np.arange(4)
    np.testing.assert_allclose(spacings, np.stack([0.15 + 0.01 * k, 0.12 + 0.01 * k], axis=1))
    assert OAIPelvis.validate_tree(root, checksum_file="") == []


def test_coordinate_scale_is_an_option(tmp_path: Path) -> None:
    root = _write_known_tree(tmp_path, "png", "csv")
    plain = OAIPelvis(data_dir=str(root), coordinate_scale=1.0)
    np.testing.assert_array_equal(
        plain.load("knee_a").landmarks, plain.stored_coordinates("knee_a")[:, ::-1]
    )
    assert plain.options()["coordinate_scale"] == 1.0
    with pytest.raises(UsageError, match="coordinate_scale must be a positive number"):
        OAIPelvis(data_dir=str(root), coordinate_scale=0)
    with pytest.raises(UsageError, match="needs data_dir"):
        OAIPelvis()


def test_protocol_facts(tmp_path: Path) -> None:
    dataset = OAIPelvis(data_dir=str(_write_known_tree(tmp_path, "png", "csv")))
    assert dataset.published_folds() is None and dataset.official_split() is None
    assert dataset.default_sdr_radii_mm == (1.0, 2.0, 3.0, 4.0)
    assert dataset.landmark_names == tuple(f"L{k}" for k in range(1, 9))
    assert dataset.describe()["ground_truth"] == "official"


def test_table_problems_are_sentences(tmp_path: Path) -> None:
    root = _write_known_tree(tmp_path, "png", "csv")
    spacing = pd.read_csv(root / "original_information.csv").iloc[:1]
    spacing.to_csv(root / "original_information.csv", index=False)
    dataset = OAIPelvis(data_dir=str(root))
    with pytest.raises(DataError, match=r"'knee_b' has no row in 'original_information\.csv'"):
        dataset.load("knee_b")
    coords = pd.read_csv(root / "Coordinates_information.csv").iloc[:, :-1]
    coords.to_csv(root / "Coordinates_information.csv", index=False)
    with pytest.raises(DataError, match="has 15 coordinate columns"):
        OAIPelvis(data_dir=str(root)).case_ids()
    (root / "Coordinates_information.csv").unlink()
    with pytest.raises(DataError, match=r"'Coordinates_information\.xlsx' \(or \.csv\)"):
        OAIPelvis(data_dir=str(root)).case_ids()


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in sorted(root.rglob("*"))
    }


def test_validate_tree_reports_planted_faults_and_writes_nothing(tmp_path: Path) -> None:
    root = OAIPelvis.write_fixture(tmp_path / "oai", n_cases=6, fmt="dcm", table_format="csv")
    (root / "images/pelvis_000.dcm").unlink()
    truncated = root / "images/pelvis_001.dcm"
    truncated.write_bytes(truncated.read_bytes()[:400])
    spacing = pd.read_csv(root / "original_information.csv")
    spacing.loc[2, ["image_resolution1", "image_resolution2"]] = spacing.loc[
        2, ["image_resolution2", "image_resolution1"]
    ].to_numpy()
    spacing.loc[3, "image_resolution1"] = -1.0
    spacing.to_csv(root / "original_information.csv", index=False)
    coords = pd.read_csv(root / "Coordinates_information.csv")
    coords.loc[4, "x1"] = 1000.0
    coords.to_csv(root / "Coordinates_information.csv", index=False)

    before = _snapshot(root)
    problems = OAIPelvis.validate_tree(root, checksum_file="")
    assert _snapshot(root) == before
    text = "\n".join(map(str, problems))
    assert len(problems) == 5, text
    assert "images/pelvis_000.dcm: missing image" in text
    assert "images/pelvis_001.dcm: Cannot read DICOM" in text
    assert "images/pelvis_002.dcm: DICOM PixelSpacing" in text and "look swapped" in text
    assert "'pelvis_003' has spacing [0.18, -1.0] mm" in text
    assert "images/pelvis_004.dcm: landmark L1 of Coordinates_information row 6" in text
    assert "outside" in text
