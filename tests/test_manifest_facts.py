"""Every real dataset adapter states what its manifest states, field by field.

The adapters take their facts from the manifest (``LandmarkDataset`` subclasses name it in
the class statement); these tests hold the adapters to the fully validated manifest
(``load_manifest``), and the facts that stay in code (paths, frame sizes, spacing, scales)
to the manifest fields that describe them.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from landmarkbench.acquire.manifest import (
    Manifest,
    available_manifests,
    dataset_facts,
    load_manifest,
)
from landmarkbench.catalog import DATASETS
from landmarkbench.datasets.base import LandmarkDataset
from landmarkbench.errors import ManifestError, UnknownNameError

REAL = ("isbi2015", "oai_pelvis", "mml", "endovis2015", "adaptor_sutures")


def test_every_manifest_has_its_adapter_and_back() -> None:
    assert set(available_manifests()) == set(REAL)
    assert set(REAL) <= set(DATASETS.names())


@pytest.mark.parametrize("name", REAL)
def test_adapter_facts_equal_the_manifest(name: str) -> None:
    cls = DATASETS.get(name)
    manifest = load_manifest(name)
    assert cls.name == manifest.name == name
    assert cls.version == manifest.version
    assert cls.ndim == manifest.ndim
    assert cls.multi_instance == manifest.multi_instance
    assert cls.landmark_names == manifest.landmark_names
    # The adapter's first option is its default (LandmarkDataset.__init__).
    assert cls.ground_truth_options[0] == manifest.ground_truth.default
    assert sorted(cls.ground_truth_options) == sorted(manifest.ground_truth.options)
    assert cls.default_sdr_radii_mm == tuple(manifest.evaluation["sdr_radii_mm"])


@pytest.mark.parametrize("name", REAL)
def test_the_fast_reader_agrees_with_the_validated_manifest(name: str) -> None:
    facts, manifest = dataset_facts(name), load_manifest(name)
    assert (facts.name, facts.version, facts.ndim) == (name, manifest.version, manifest.ndim)
    assert facts.landmark_names == manifest.landmark_names


def _default(cls: type, option: str) -> object:
    return inspect.signature(cls.__init__).parameters[option].default


def test_isbi2015_code_facts() -> None:
    from landmarkbench.datasets.cephalometric import ISBI_LANDMARK_NAMES
    from landmarkbench.datasets.isbi2015 import layout

    manifest = load_manifest("isbi2015")
    assert manifest.spacing.rule == "fixed"
    assert manifest.spacing.value_mm == (layout.SPACING_MM,) * manifest.ndim
    assert manifest.num_landmarks == layout.NUM_LANDMARKS
    assert manifest.landmark_names == ISBI_LANDMARK_NAMES
    assert len(layout.ALL_IDS) == manifest.num_cases
    assert set(layout.ANNOTATORS) <= set(manifest.ground_truth.options)
    assert manifest.landmark_names[layout.CHALLENGE_LANDMARK] == "soft_tissue_pogonion"
    assert manifest.coordinates.scale == 1.0


def test_oai_pelvis_code_facts() -> None:
    from landmarkbench.datasets.oai_pelvis import layout
    from landmarkbench.datasets.oai_pelvis.adapter import OAIPelvis

    manifest = load_manifest("oai_pelvis")
    assert manifest.spacing.rule == "per_image_table"
    assert _default(OAIPelvis, "coordinate_scale") == manifest.coordinates.scale
    assert manifest.num_landmarks == layout.NUM_LANDMARKS
    assert manifest.layout["coordinates_table"].startswith(layout.COORDINATES_TABLE)
    assert manifest.layout["spacing_table"].startswith(layout.SPACING_TABLE)
    assert layout.COL_SPACING_COLUMN in manifest.spacing.note
    assert layout.ROW_SPACING_COLUMN in manifest.spacing.note


def test_mml_code_facts() -> None:
    from landmarkbench.datasets.mml import layout

    manifest = load_manifest("mml")
    assert manifest.spacing.rule == "per_case_file"
    assert manifest.num_landmarks == layout.NUM_LANDMARKS
    assert manifest.layout["volumes"].startswith(
        f"{layout.ROOT_NAME}/{{{','.join(layout.SPLITS)}}}"
    )
    assert manifest.layout["volumes"].endswith(f"<case>{layout.VOLUME_SUFFIXES[0]}")
    assert manifest.layout["volumes_alternative"].endswith(f"<case>{layout.VOLUME_SUFFIXES[1]}")
    assert manifest.layout["labels"].endswith(f"<case>{layout.LABEL_SUFFIX}")
    assert manifest.layout["spacing"].endswith(f"<case>{layout.SPACING_SUFFIX}")
    assert manifest.coordinates.order == "ijk"


def _frame_size(manifest: Manifest) -> tuple[int, int]:
    """(rows, cols) from the manifest's ``layout.frame_size`` ("<width>x<height>")."""
    width, height = manifest.layout["frame_size"].split("x")
    return int(height), int(width)


def test_endoscopy_code_facts() -> None:
    from landmarkbench.datasets.endoscopy import layout
    from landmarkbench.datasets.endoscopy.adaptor_sutures import AdaptORSutures
    from landmarkbench.datasets.endoscopy.points import UNIT_SPACING

    endovis, adaptor = load_manifest("endovis2015"), load_manifest("adaptor_sutures")
    assert endovis.landmark_names == layout.CLASSES
    assert adaptor.landmark_names == (layout.ADAPTOR_CLASS_NAME,)
    assert _frame_size(endovis) == layout.ENDOVIS_FRAME_SHAPE
    assert _frame_size(adaptor) == layout.ADAPTOR_FRAME_SHAPE
    assert AdaptORSutures.match_radius_px == adaptor.evaluation["matching_radius_px"]
    n_train, n_test = len(layout.TRAIN_SEQUENCES), len(layout.TEST_SEQUENCES)
    assert f"train{{1..{n_train}}}" in endovis.protocols["official"]["train"]
    assert f"test{{1..{n_test}}}" in endovis.protocols["official"]["test"]
    for manifest in (endovis, adaptor):
        assert manifest.spacing.rule == "none" and (1.0,) * manifest.ndim == UNIT_SPACING
        assert manifest.evaluation["error_unit"] == "px"


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def test_a_class_naming_its_manifest_takes_the_facts(tmp_path: Path) -> None:
    facts = dataset_facts("mml")

    class Named(LandmarkDataset, manifest="mml"):
        def case_ids(self) -> list[str]:
            return []

        def load(self, case_id: str):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    assert (Named.name, Named.ndim, Named.landmark_names) == (
        "mml",
        facts.ndim,
        facts.landmark_names,
    )
    assert Named().ground_truth == load_manifest("mml").ground_truth.default


def test_fast_reader_names_file_and_field(tmp_path: Path) -> None:
    good = (
        'name: demo\nversion: "2"\nndim: 2\nmulti_instance: false\nlandmark_names: [a, b]\n'
        "ground_truth: {options: [x, y], default: y}\n"
    )
    folder = _write(tmp_path / "ok", "demo", good)
    facts = dataset_facts("demo", folder)
    assert facts.ground_truth_options == ("y", "x") and facts.sdr_radii_mm is None
    assert facts.version == "2"
    cases = {
        "version": good.replace('version: "2"', "version: 2"),
        "ground_truth.default": good.replace("default: y", "default: z"),
        "landmark_names": good.replace("[a, b]", "a"),
        "multi_instance": good.replace("multi_instance: false", "multi_instance: 1"),
    }
    for field, text in cases.items():
        folder = _write(tmp_path / field, "demo", text)
        with pytest.raises(ManifestError, match=rf"demo\.yaml' field '{field}' must be"):
            dataset_facts("demo", folder)
    with pytest.raises(UnknownNameError, match="mlm"):
        dataset_facts("mlm")
