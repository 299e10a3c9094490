"""``landmarkbench export``: a run's stored models as one file (``model_file``'s layout).

The networks are exported with ``torch.export`` on the network grid (batch of one image),
so the file is applied without any model code; the manifest states the preprocessing,
decoder and spacing rule the run predicted with, and the file carries the run's resolved
experiment spec, split and metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from landmarkbench.deploy.model_file import (
    EXPERIMENT,
    METRICS,
    SPLIT,
    write_model_file,
)
from landmarkbench.deploy.stored_run import RunModels, StoredRun
from landmarkbench.errors import UsageError
from landmarkbench.heatmaps.decoding import DECODER_SETTINGS
from landmarkbench.preprocessing.network_input import INTENSITY_RULE
from landmarkbench.provenance import code_version

RESIZE_RULE = (
    "resize with pad (landmarkbench.preprocessing.geometry.ResizePad, keep_aspect): one "
    "isotropic factor min(grid / original), resized shape round-half-up, padding split evenly "
    "with the extra pixel after; bilinear (2D, antialiased when downscaling) or trilinear "
    "(3D) interpolation, align_corners=False; points map as (p + 0.5) * s - 0.5 + pad_before"
)
AXES_RULE = (
    "landmarkbench.imageio: 2D pictures (row, col) as a viewer shows them; volumes and NPY "
    "the file's voxel index axes, never reoriented; points in array-index order, pixel "
    "centres at integers"
)


def manifest_of(model: RunModels, names: list[str]) -> dict[str, Any]:
    """What the file states besides its networks."""
    run = model.run
    protocol = run.record["protocol"]
    spacing = model.dataset_spacing_mm
    return {
        "statement": model.statement,
        "landmark_names": list(model.landmark_names),
        "ndim": model.ndim,
        "multi_instance": model.multi_instance,
        "networks": names,
        "network_format": "torch.export (torch.export.load(...).module()), input "
        "(1, 1, *network_grid) float32, output (1, C, *network_grid) logits",
        "network_grid": list(model.grid),
        "ensemble": "logits of every network averaged, then decoded",
        "preprocessing": {
            "resize": RESIZE_RULE,
            "pad_value": 0.0,
            "intensity": INTENSITY_RULE,
            "axes": AXES_RULE,
        },
        "decoder": {
            "name": model.decoder,
            "settings": {k: model.settings[k] for k in DECODER_SETTINGS[model.decoder]},
        },
        "spacing": {
            "rule": "--spacing, else the image header (NIfTI, NRRD, DICOM), else "
            "dataset_spacing_mm (the spacing every image of the run had; null when it varied)",
            "dataset_spacing_mm": list(spacing) if spacing else None,
        },
        "run": {
            "key": "/".join(run.identity.relative_parts()),
            "method": run.method,
            "recipe": run.record["method"].get("recipe"),
            "config": run.config,
            "dataset": run.dataset,
            "folds": [f.name for f in model.folds],
            "split_id": protocol["split_id"],
            "split_sha256": protocol["split_sha256"],
            "code_version": code_version(),
        },
    }


def export_run(model: RunModels, out: Path) -> Path:
    """Write ``out`` (a .zip) from the stored models of ``model``; returns it.

    Raises:
        UsageError: for an output path that is a folder.
    """
    import torch

    from landmarkbench.deploy.model_file import network_bytes

    if out.is_dir():
        raise UsageError(f"--out '{out}' is a folder; pass a file name such as model.zip.")
    example = torch.zeros((1, 1, *model.grid), dtype=torch.float32)
    names, networks = [], {}
    members = len(model.engine.models) // len(model.folds)
    for index, trained in enumerate(model.engine.models):
        network = trained.network.eval()
        fold = model.folds[index // members].name
        name = f"{fold}_member_{index % members}"
        with torch.no_grad():
            networks[name] = network_bytes(torch.export.export(network, (example,)))
        names.append(name)
    run = model.run
    documents = {
        EXPERIMENT: run.experiment_path().read_text(encoding="utf-8"),
        SPLIT: run.split_path().read_text(encoding="utf-8"),
        METRICS: json.dumps(run.summaries(), indent=2, sort_keys=True),
    }
    write_model_file(out, manifest_of(model, names), documents, networks)
    return out


def parent_runs(run: StoredRun, tracking_uri: str | None) -> list[str]:
    """The ids of the run's MLflow parent runs (one per convention key of its summaries).

    Raises:
        UsageError: when the tracking store holds none (checked before anything is written).
    """
    from landmarkbench.results.layout import RunIdentity
    from landmarkbench.results.tracking import find_runs, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, create=False)
    keys = [
        RunIdentity(**{**run.identity.__dict__, "conventions": key}).key for key in run.summaries()
    ]
    found = find_runs(uri, run.identity.dataset, run_keys=keys)
    if not found:
        raise UsageError(
            f"The tracking store '{uri}' holds no MLflow run of '{run.run_dir}'; pass the "
            "--tracking-uri the run logged to, or leave out --log-model."
        )
    return [r.run_id for r in found]


def log_model_file(path: Path, parents: list[str], tracking_uri: str | None) -> None:
    """Log the file ``path`` as artifact ``model/<name>`` of each parent run."""
    import shutil
    import tempfile

    from landmarkbench.results.tracking import log_artifacts, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri, create=False)
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy2(path, Path(folder) / path.name)
        for run_id in parents:
            log_artifacts(uri, run_id, Path(folder), artifact_path="model")
