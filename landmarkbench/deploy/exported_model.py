"""An exported model file applied to images, without the training code.

Each image goes through the stored preprocessing (``preprocessing.network_input``: resize
with pad to the network grid, intensity normalisation), every stored network (their logits
averaged, the ensemble rule of the heatmap engine), the stored decoder
(``heatmaps.decoding``) and back to the image's original grid (``ResizePad``): the steps a
stored run's models take, from the same functions.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from landmarkbench.datasets.base import Case
from landmarkbench.deploy.model_file import ModelFile, read_model_file
from landmarkbench.deploy.predictor import Predictor
from landmarkbench.heatmaps.decoding import decode_maps
from landmarkbench.preprocessing.network_input import network_input, resize_to_grid


class ExportedModel(Predictor):
    """The networks, preprocessing and decoder of an exported model file."""

    def __init__(self, model: ModelFile) -> None:
        manifest = model.manifest
        self.file = model
        self.manifest = manifest
        self.landmark_names = tuple(manifest["landmark_names"])
        self.ndim = int(manifest["ndim"])
        self.multi_instance = bool(manifest.get("multi_instance", False))
        self.statement = f"{manifest.get('statement', 'the exported model')} (from {model.path})"
        spacing = manifest["spacing"].get("dataset_spacing_mm")
        self.dataset_spacing_mm = tuple(float(s) for s in spacing) if spacing else None
        self.grid = tuple(int(s) for s in manifest["network_grid"])
        self.decoder = str(manifest["decoder"]["name"])
        self.decoder_settings = dict(manifest["decoder"]["settings"])
        self.networks = [
            torch.export.load(io.BytesIO(model.networks[name])).module()
            for name in manifest["networks"]
        ]

    @classmethod
    def load(cls, path: Path) -> ExportedModel:
        """Read and load ``path`` (``model_file.read_model_file``'s errors)."""
        return cls(read_model_file(path))

    @torch.no_grad()
    def predict(self, cases: Sequence[Case]) -> list[Any]:
        out: list[Any] = []
        for case in cases:
            image, mapping = network_input(resize_to_grid(case.image, self.grid), case.shape)
            maps = None
            for network in self.networks:
                logits = network(image[None]).float()
                maps = logits if maps is None else maps + logits
            decoded = decode_maps(maps / len(self.networks), self.decoder, self.decoder_settings)

            def back(points: torch.Tensor, mapping=mapping) -> np.ndarray:
                return np.asarray(mapping.points_to_original(points.double().numpy()))

            case_points = decoded[0]
            out.append(
                tuple(back(p) for p in case_points) if self.multi_instance else back(case_points)
            )
        return out
