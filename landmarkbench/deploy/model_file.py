"""The exported model file: one zip holding everything needed to apply a trained model.

Layout (``FORMAT`` version 1)::

    manifest.json        format, landmark names, dimension, the networks and their input
                         grid, the preprocessing (resize-with-pad rule, intensity
                         normalisation, axis convention), the decoder and its settings, the
                         spacing rule, the run's identity, split hash and fold(s)
    experiment.yaml      the run's resolved experiment spec (with its recipe)
    metrics.json         the run's metrics (pooled and per fold, per convention key)
    split.json           the run's split (its sha256 is in the manifest)
    networks/<name>.pt2  one ``torch.export`` program per network (ensemble members and
                         fold models; their logits are averaged)

Reading it needs torch and this package's ``preprocessing`` and ``heatmaps`` modules only,
never the training code. Nothing here imports ``landmarkbench.training`` or
``landmarkbench.methods`` (tests/test_export.py checks it in a fresh process).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from landmarkbench.atomic_io import write_atomically
from landmarkbench.errors import DataError

FORMAT = "landmarkbench-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
EXPERIMENT = "experiment.yaml"
METRICS = "metrics.json"
SPLIT = "split.json"
NETWORKS_DIR = "networks"
REQUIRED_KEYS = ("landmark_names", "ndim", "networks", "network_grid", "decoder", "spacing")


@dataclass(frozen=True)
class ModelFile:
    """The parts of an exported model file, as stored."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, str]
    networks: dict[str, bytes]


def network_member(name: str) -> str:
    """The zip member holding the network ``name``."""
    return f"{NETWORKS_DIR}/{name}.pt2"


def write_model_file(
    path: Path,
    manifest: Mapping[str, Any],
    documents: Mapping[str, str],
    networks: Mapping[str, bytes],
) -> None:
    """Write the zip atomically (a reader never sees a partial file)."""
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}

    def write(stream: Any) -> None:
        with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(full, indent=2, sort_keys=True))
            for name, text in documents.items():
                archive.writestr(name, text)
            for name, data in networks.items():
                archive.writestr(network_member(name), data)

    write_atomically(Path(path), write)


def read_model_file(path: Path) -> ModelFile:
    """Read and check an exported model file.

    Raises:
        DataError: naming the file, for a missing, unreadable or foreign file, or one
            whose manifest lacks a part.
    """
    path = Path(path)
    fix = "pass a file written by 'landmarkbench export'"
    if not path.is_file():
        raise DataError(f"Model file '{path}' does not exist; {fix}.")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if MANIFEST not in names:
                raise DataError(f"Model file '{path}' holds no {MANIFEST}; {fix}.")
            manifest = json.loads(archive.read(MANIFEST))
            documents = {
                n: archive.read(n).decode("utf-8")
                for n in (EXPERIMENT, METRICS, SPLIT)
                if n in names
            }
            networks = {}
            for name in manifest.get("networks", []):
                member = network_member(name)
                if member not in names:
                    raise DataError(f"Model file '{path}' lacks its network {member}; {fix}.")
                networks[name] = archive.read(member)
    except (zipfile.BadZipFile, OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"Model file '{path}' cannot be read ({exc}); {fix}.") from None
    if manifest.get("format") != FORMAT:
        raise DataError(f"Model file '{path}' is not a landmarkbench model; {fix}.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"Model file '{path}' has format version {manifest.get('format_version')}, this "
            f"version reads {FORMAT_VERSION}; export the run again with this version."
        )
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing or not networks:
        raise DataError(
            f"Model file '{path}' lacks {', '.join(missing) or 'networks'} in its manifest; {fix}."
        )
    return ModelFile(path, manifest, documents, networks)


def network_bytes(program: Any) -> bytes:
    """A ``torch.export`` program as the bytes stored in the file."""
    import torch

    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()
