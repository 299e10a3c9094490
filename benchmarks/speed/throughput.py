"""End-to-end training throughput: the same U-Net, images and steps, two training stacks.

- ours: ``to_network_grid`` (images through the preprocessing cache) and ``fit_loop`` with
  the static Gaussian objective (targets generated per batch into a reused buffer);
- landmarker 0.4.1: its ``HeatmapDataset`` (decodes and resizes the images and precomputes
  the heatmaps with its ``GaussianHeatmapGenerator``) under a ``DataLoader``, and a plain
  PyTorch step (forward, the same L2 loss, backward, Adam): landmarker ships no training loop.

Both train MONAI's ``UNet`` of the U-Net methods' defaults (channels 16-32-64-128-128, one
residual unit, 19 maps; same seed), batch 4, Adam 2e-3, no gradient clipping, sigma 3 px,
peak 1, on the network grid 512 x 512 (quick: 64 x 64, smaller net). The images are
``CASES`` synthetic_ceph cases rendered at 512 x 512, either in memory ("512²") or upsampled
to the ISBI size 1935 x 2400 and written as 8-bit BMP files that both sides decode ("ISBI
size"; ours reads them through a warm preprocessing cache). One *run* is ``steps`` optimiser
steps (``CASES`` = one batch, so one step per epoch); runs of the two sides alternate
(``interleaved.time_pairs``). Preparation (dataset construction) is timed separately.

Device: both models train on ``device`` ("cpu" or "cuda"); images and maps stay in CPU
memory and each batch is moved to the device, on our side by ``fit_loop`` and on
landmarker's in its step. On CUDA both steps run under the mixed precision ``fit_loop`` uses
(``LoopSettings.amp``, on by default): float16 autocast for forward and loss and a
``GradScaler`` for backward and step (:data:`LOOP_AMP_DTYPE`); on the CPU neither.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from interleaved import PairedTiming, amp_context, seconds, time_pairs, uses_amp

from landmarkbench.training.loop import AMP_DTYPE

BATCH = 4
CASES = 4
SIGMA = 3.0
LEARNING_RATE = 2e-3
ISBI_SHAPE = (2400, 1935)
# fit_loop's autocast dtype (with a GradScaler): landmarker's step uses it too on CUDA, so
# that both stacks train in the same precision.
LOOP_AMP_DTYPE = AMP_DTYPE


def loop_device(device: str | torch.device) -> str:
    """``device`` as ``fit_loop`` names it: "cpu" or "cuda" (its AMP is keyed on "cuda").

    Raises:
        ValueError: For other devices, or a CUDA index other than 0 (``fit_loop`` moves
            batches to "cuda", the current device).
    """
    parsed = torch.device(device)
    if parsed.type not in ("cpu", "cuda") or parsed.index not in (None, 0):
        raise ValueError(
            f"Training throughput runs on 'cpu' or 'cuda' (fit_loop's devices); got {device!r}."
        )
    return parsed.type


@dataclass(frozen=True)
class Throughput:
    """One image source: preparation seconds per side and the interleaved training runs."""

    label: str
    pipeline: str
    images_per_run: int
    prepare_ours: float
    prepare_reference: float
    runs: PairedTiming
    device: str = "cpu"
    amp: bool = False

    def describe(self) -> str:
        ours = self.images_per_run / float(np.median(self.runs.ours))
        theirs = self.images_per_run / float(np.median(self.runs.reference))
        low, high = self.runs.spread
        precision = f"AMP {str(LOOP_AMP_DTYPE).split('.')[-1]}" if self.amp else "no AMP"
        return (
            f"training {self.label} ({self.pipeline}): ours {ours:.2f} img/s, "
            f"landmarker {theirs:.2f} img/s, "
            f"ratio {self.runs.ratio:.2f}x [{low:.2f}-{high:.2f}] ({len(self.runs.ours)} "
            f"pairs of {self.images_per_run // BATCH} steps, {self.runs.threads} thread(s), "
            f"load {self.runs.load_before:.2f} -> {self.runs.load_after:.2f}); preparation "
            f"ours {self.prepare_ours:.2f} s (warm cache), landmarker "
            f"{self.prepare_reference:.2f} s; device {self.device}, {precision}"
        )


def _config(quick: bool):
    from landmarkbench.methods.unet_heatmap import ArgmaxHeatmapUNet

    overrides = {"sigma_px": SIGMA, "heatmap_peak": 1.0, "grad_clip": 0.0, "augment": False}
    if quick:
        overrides["channels"] = (4, 8, 16)
    return ArgmaxHeatmapUNet(overrides, num_landmarks=19, ndim=2).config


def _network(config) -> torch.nn.Module:
    from landmarkbench.training.networks import build_network

    torch.manual_seed(0)
    return build_network(config, 19, 2)


def synthetic_cases(quick: bool) -> list:
    """``CASES`` synthetic_ceph cases on the network grid size (generated once, cached)."""
    from landmarkbench.datasets.synthetic.ceph import SyntheticCeph

    dataset = SyntheticCeph(n_cases=CASES, image_shape=(64, 64) if quick else (512, 512))
    return [dataset.load(case_id) for case_id in dataset.case_ids()]


def isbi_size_cases(cases: list, folder: Path, quick: bool) -> list:
    """The cases upsampled to the ISBI size (a tenth in a quick run), as 8-bit BMP files."""
    from cache_epochs import lazy_case
    from PIL import Image

    from landmarkbench.imageio import write_image

    height, width = (s // 10 for s in ISBI_SHAPE) if quick else ISBI_SHAPE
    written = []
    for case in cases:
        image = np.asarray(case.image, dtype=np.float64)
        scaled = (image - image.min()) / max(float(np.ptp(image)), 1e-12) * 255
        large = Image.fromarray(scaled.astype(np.uint8)).resize((width, height), Image.BILINEAR)
        path = folder / f"{case.case_id}.bmp"
        write_image(path, np.asarray(large), rgb=False)
        factor = np.array([height / case.shape[0], width / case.shape[1]])
        written.append(lazy_case(path, (case.landmarks + 0.5) * factor - 0.5))
    return written


class OurTraining:
    """landmarkbench's stack: network grid through the cache, then ``fit_loop`` on
    ``device`` (which runs under AMP on CUDA)."""

    def __init__(self, cases: list, shape: tuple[int, int], config, device: str = "cpu") -> None:
        from landmarkbench.training.heatmap_regression import to_network_grid

        self.config = config
        self.device = loop_device(device)
        self.images, self.points, _ = to_network_grid(cases, shape)
        self.model = None

    def run(self, steps: int) -> None:
        from landmarkbench.methods.base import FitContext
        from landmarkbench.training.loop import LoopSettings, fit_loop
        from landmarkbench.training.networks import TrainableHeatmapModel
        from landmarkbench.training.objectives import HeatmapObjective

        if self.model is None:
            objective = HeatmapObjective("gaussian", self.config, 19, 2)
            self.model = TrainableHeatmapModel(_network(self.config), objective).to(self.device)
        model = self.model
        settings = LoopSettings(
            max_epochs=steps * BATCH // CASES,
            batch_size=BATCH,
            learning_rate=LEARNING_RATE,
            weight_decay=0.0,
            patience=steps,
            grad_clip=0.0,
            lr_schedule="cosine",
        )
        fit_loop(
            model,
            lambda x, p: model.objective(model(x), p),
            lambda: 0.0,
            self.images,
            self.points,
            settings,
            FitContext(self.device, 0, Path(tempfile.gettempdir()), progress=False),
            torch.Generator().manual_seed(0),
            None,
        )


class LandmarkerTraining:
    """landmarker's stack: ``HeatmapDataset`` under a ``DataLoader`` and a plain step.

    ``landmarker.data`` needs torchvision (its resize-with-pad); where torchvision does not
    import (beside a CPU-only torch) the same dataset is assembled from landmarker's parts
    that do: MONAI ``LoadImage`` and ``Resize`` (its ``resize_pad=False`` path) and its
    ``GaussianHeatmapGenerator`` precomputing the maps in batches (``pipeline`` says which).
    The model trains on ``device``; on CUDA with ``fit_loop``'s AMP (float16 autocast and a
    ``GradScaler``).
    """

    def __init__(self, cases: list, shape: tuple[int, int], config, device: str = "cpu") -> None:
        from peers import PeerMissing, import_peer

        self.device = loop_device(device)

        sources = [case.source for case in cases]
        landmarks = np.stack([case.landmarks for case in cases]).astype(np.float32)
        try:
            data = import_peer("landmarker.data")
        except PeerMissing:
            self.pipeline = "landmarker generator + MONAI load/resize (no torchvision)"
            self.dataset = self._assembled(cases, landmarks, shape)
        else:
            self.pipeline = "landmarker HeatmapDataset"
            images = sources if all(sources) else np.stack([case.image[None] for case in cases])
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                self.dataset = data.HeatmapDataset(
                    images, landmarks, sigma=SIGMA, dim_img=shape, batch_size=BATCH
                )
        self.model = _network(config).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE)
        # As fit_loop: a scaler that is enabled on CUDA only (disabled, it passes through).
        self.scaler = torch.amp.GradScaler("cuda", enabled=uses_amp(self.device))

    @staticmethod
    def _assembled(cases: list, landmarks: np.ndarray, shape: tuple[int, int]):
        from monai.transforms import LoadImage, Resize
        from peers import import_peer

        generator = import_peer("landmarker.heatmap.generator").GaussianHeatmapGenerator(
            19, sigmas=SIGMA, gamma=None, heatmap_size=shape, learnable=False
        )
        loader = LoadImage(image_only=True, ensure_channel_first=True)
        images, points = [], []
        for case, landmark in zip(cases, landmarks, strict=True):
            if case.source:  # MONAI's PIL reader returns (C, W, H): transposed as landmarker
                image = torch.as_tensor(loader(case.source)).transpose(-1, -2)
            else:
                image = torch.as_tensor(case.image[None])
            images.append(torch.as_tensor(Resize(shape)(image)).float())
            factor = torch.tensor(shape) / torch.tensor(case.shape)
            points.append(torch.from_numpy(landmark) * factor)
        points_t = torch.stack(points)
        with torch.no_grad():
            maps = torch.cat([generator(points_t[k : k + BATCH]) for k in range(0, CASES, BATCH)])
        return [{"image": image, "mask": m} for image, m in zip(images, maps, strict=True)]

    def run(self, steps: int) -> None:
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=BATCH, shuffle=True)
        self.model.train()
        done = 0
        while done < steps:
            for batch in loader:
                image = torch.as_tensor(batch["image"]).float().to(self.device)
                with amp_context(self.device, LOOP_AMP_DTYPE):
                    maps = self.model(image)
                    loss = (maps - batch["mask"].to(self.device)).pow(2).flatten(2).sum(-1).mean()
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
                done += 1
                if done == steps:
                    break


def measure(
    label: str,
    cases: list,
    quick: bool,
    steps: int,
    pairs: int,
    device: str = "cpu",
    first: int = 0,
) -> Throughput:
    """Prepare both sides on ``cases``, warm them up with one step, time ``pairs`` runs on
    ``device`` (``first``: offset of the alternation, as in ``interleaved.time_pairs``)."""
    config = _config(quick)
    shape = (64, 64) if quick else (512, 512)
    OurTraining(cases, shape, config, device)  # fills the preprocessing cache (file cases)
    LandmarkerTraining(cases, shape, config, device)  # imports (MONAI, landmarker) untimed
    ours: list[OurTraining] = []
    theirs: list[LandmarkerTraining] = []
    prepare_ours = seconds(lambda: ours.append(OurTraining(cases, shape, config, device)))
    prepare_reference = seconds(
        lambda: theirs.append(LandmarkerTraining(cases, shape, config, device))
    )
    ours[0].run(1)
    theirs[0].run(1)
    runs = time_pairs(
        lambda: ours[0].run(steps), lambda: theirs[0].run(steps), pairs, 0, first=first
    )
    pipeline = theirs[0].pipeline
    return Throughput(
        label,
        pipeline,
        steps * BATCH,
        prepare_ours,
        prepare_reference,
        runs,
        loop_device(device),
        uses_amp(device),
    )


def run(
    quick: bool,
    steps: int | None = None,
    pairs: int = 2,
    device: str = "cpu",
    first: int = 0,
) -> list[Throughput]:
    """Both image sources; ``steps`` per run (default 20, quick 2), on ``device``
    ("cpu" or "cuda"), ``first`` offsetting the alternation of the pairs.

    The preprocessing cache goes to a temporary folder (``$LANDMARKBENCH_CACHE`` points there
    for the duration), so the user's cache is neither filled nor read; the synthetic cases
    themselves are generated once into the user's cache.
    """
    loop_device(device)  # an unsupported device fails before any case is generated
    steps = steps or (2 if quick else 20)
    steps = max(1, math.ceil(steps * BATCH / CASES) * CASES // BATCH)
    cases = synthetic_cases(quick)
    with tempfile.TemporaryDirectory(prefix="landmarkbench-throughput-") as folder:
        previous = os.environ.get("LANDMARKBENCH_CACHE")
        os.environ["LANDMARKBENCH_CACHE"] = folder
        try:
            files = isbi_size_cases(cases, Path(folder), quick)
            label = "64²" if quick else "512²"
            large = "ISBI size /10 -> 64²" if quick else "ISBI size 1935x2400 -> 512²"
            return [
                measure(label, cases, quick, steps, pairs, device, first),
                measure(large, files, quick, steps, pairs, device, first),
            ]
        finally:
            if previous is None:
                os.environ.pop("LANDMARKBENCH_CACHE", None)
            else:
                os.environ["LANDMARKBENCH_CACHE"] = previous
