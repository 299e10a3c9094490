"""The peer comparisons: ours against landmarker 0.4.1 (or a baseline) on the same inputs.

Each :class:`Comparison` builds, for a full or a quick (tiny, dry-run) size and a device,
the two zero-argument callables that ``interleaved.time_pairs`` alternates and an agreement check
that both sides compute the same thing (it raises ``AssertionError`` otherwise and returns a
short description such as the largest difference). ``test_bench_peers.py`` (pytest-benchmark)
and ``report.py`` (the README table) both take their comparisons from :data:`COMPARISONS`.

Devices: a builder puts its inputs and models on ``torch.device(device)``. Comparisons that
are CPU work by nature (point error and SDR on numpy arrays, the conformal areas measured in
numpy on both sides, the cached epoch of disk reads and decoding) have ``gpu=False``: their
builders refuse any device but the CPU. On CUDA the SCN training step of both sides runs
under bfloat16 autocast (``interleaved.amp_context``); on the CPU without autocast.

Settings per comparison (unchanged from the earlier per-file benchmarks):

- targets: the same random points in array-index order ((y, x), landmarker's order too),
  sigma 3 (isotropic) or (3, 6) rotated by 0.5 rad, gamma None, no learnable parameters;
  ours within 1e-5 of landmarker's ``GaussianHeatmapGenerator``.
- decoders: peak-1 Gaussians (sigma 3, landmarks away from the border); local soft-argmax
  with window 5 and temperature 10 on raw values (landmarker's ``coord_local_soft_argmax``
  defaults; our ``input_space="logits"``), soft-argmax over the map at temperature 1
  (landmarker's ``coord_weighted_spatial_mean(activation="softmax")``).
- metrics: point error and SDR over 5263 images x 19 landmarks with per-image spacing; ours
  on numpy arrays, landmarker on float64 tensors (conversions outside the timing).
- SCN: one training step (forward, MSE, backward, SGD Nesterov 0.99) of nets of equal size
  within 1 % (ours 4 levels of 128 filters; landmarker ``la_depth=2``, whose depth counts
  the levels below the bottleneck) on one 256 x 256 image with 19 maps.
- conformal areas: our continuous region measure against landmarker's
  ``MR2CCP.area_prediction_region`` (bilinear upsampling to the original image, pixel count)
  at the same threshold; mean areas within 1 %.
- cache epoch: not a landmarker comparison: a cached epoch over 20 ISBI-size BMPs
  (``cache_epochs.py``) against decoding and resizing every image (goal >= 20x).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch
from interleaved import PairedTiming, amp_context, time_pairs
from torch import nn


class PeerMissing(RuntimeError):
    """landmarker (the optional ``compare`` extra) cannot be imported."""


def import_peer(module: str) -> ModuleType:
    """Import a landmarker module.

    Raises:
        PeerMissing: If it (or one of its optional dependencies) does not import.
    """
    try:
        return importlib.import_module(module)
    except Exception as exc:  # ImportError, or a missing optional dependency inside it
        raise PeerMissing(
            f"landmarker is not importable ({exc}); pip install --no-deps landmarker "
            "opencv-python-headless && pip install scikit-image"
        ) from exc


@dataclass(frozen=True)
class Sides:
    """The two timed callables of one comparison and its agreement check."""

    ours: Callable[[], object]
    reference: Callable[[], object]
    agreement: Callable[[], str]


@dataclass(frozen=True)
class Comparison:
    """One row of the speed table.

    Attributes:
        name: Row label, with the full size.
        goal: Required median ratio (reference time / ours), or None.
        build: ``build(quick, device="cpu")`` returns the :class:`Sides` (quick: tiny sizes,
            a dry run) with inputs and models on ``device``.
        pairs: Timed pairs at full size (a quick run times 2).
        reference_name: What the other side is.
        gpu: Whether the comparison can run on a GPU; False for CPU work by nature, whose
            builder raises ``ValueError`` for any device but "cpu".
    """

    name: str
    goal: float | None
    build: Callable[..., Sides]
    pairs: int = 7
    reference_name: str = "landmarker"
    gpu: bool = True

    def time(
        self, sides: Sides, quick: bool, pairs: int | None = None, first: int = 0
    ) -> PairedTiming:
        """Interleaved pairs of both sides.

        Args:
            sides: From :attr:`build`.
            quick: A dry run (2 pairs unless ``pairs`` is given).
            pairs: Timed pairs, or None for 2 in a quick run and :attr:`pairs` otherwise.
            first: Offset of the alternation (``interleaved.time_pairs``).
        """
        count = pairs if pairs is not None else (2 if quick else self.pairs)
        return time_pairs(sides.ours, sides.reference, count, first=first)

    def mark(self, ratio: float) -> str:
        """ " ✓" / " ✗" for a ratio against the goal ("" without a goal)."""
        if self.goal is None:
            return ""
        return " ✓" if ratio >= self.goal else " ✗"


def _cpu_only(device: str | torch.device, what: str) -> None:
    """Raise unless ``device`` is the CPU (for the ``gpu=False`` comparisons).

    Raises:
        ValueError: For any other device.
    """
    if torch.device(device).type != "cpu":
        raise ValueError(
            f"The {what} comparison is CPU work (gpu=False) and runs on the CPU only; got "
            f"device {str(device)!r}. Build it with device 'cpu'."
        )


def _max_difference(ours: torch.Tensor, theirs: torch.Tensor, limit: float) -> str:
    difference = float((ours - theirs.to(ours.dtype)).abs().max())
    assert difference < limit, f"max |ours - landmarker| = {difference:.3e} (limit {limit:g})"
    return f"max diff {difference:.1e}"


# ----------------------------------------------------------------------------- targets

SIGMA, ANISOTROPIC_SIGMA, ROTATION = 3.0, (3.0, 6.0), 0.5


def _map_size(quick: bool) -> tuple[int, int, tuple[int, int]]:
    return (2, 19, (64, 64)) if quick else (8, 19, (512, 512))


def _target_points(quick: bool, device: str | torch.device = "cpu") -> torch.Tensor:
    batch, landmarks, shape = _map_size(quick)
    generator = torch.Generator().manual_seed(0)  # drawn on the CPU: the same on any device
    points = torch.rand(batch, landmarks, 2, generator=generator) * (shape[0] - 1)
    points[0, 0] = 0.0  # one landmark on the border, one just past the far corner
    points[0, 1] = shape[0] - 0.6
    return points.to(device)


def _targets(rotated: bool) -> Callable[[bool], Sides]:
    from landmarkbench.heatmaps.gaussian import anisotropic_gaussian_heatmaps, gaussian_heatmaps

    def build(quick: bool, device: str = "cpu") -> Sides:
        generator_module = import_peer("landmarker.heatmap.generator")
        _, landmarks, shape = _map_size(quick)
        points = _target_points(quick, device)
        sigma = torch.tensor([ANISOTROPIC_SIGMA], device=device)

        @torch.no_grad()
        def ours() -> torch.Tensor:
            if rotated:
                return anisotropic_gaussian_heatmaps(points, shape, sigma, angles=ROTATION)
            return gaussian_heatmaps(points, shape, SIGMA)

        reference_generator = generator_module.GaussianHeatmapGenerator(
            landmarks,
            sigmas=list(ANISOTROPIC_SIGMA) if rotated else SIGMA,
            gamma=None,
            rotation=ROTATION if rotated else 0.0,
            heatmap_size=shape,
            learnable=False,
        ).to(device)  # an nn.Module: its sigmas and rotation are buffers

        @torch.no_grad()
        def reference() -> torch.Tensor:
            return reference_generator(points)

        return Sides(ours, reference, lambda: _max_difference(ours(), reference(), 1e-5))

    return build


# ----------------------------------------------------------------------------- decoders

WINDOW, TEMPERATURE = 5, 10.0


def _decoder_maps(
    quick: bool, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    from landmarkbench.heatmaps.targets import gaussian_heatmaps

    batch, landmarks, shape = _map_size(quick)
    generator = torch.Generator().manual_seed(0)
    margin = 10.0
    points = margin + torch.rand(batch, landmarks, 2, generator=generator) * (
        shape[0] - 1 - 2 * margin
    )
    points = points.to(device)
    return points, gaussian_heatmaps(points, shape, SIGMA).contiguous()


def _local_soft_argmax(quick: bool, device: str = "cpu") -> Sides:
    from landmarkbench.heatmaps.decoders import local_soft_argmax

    decoder = import_peer("landmarker.heatmap.decoder")
    points, maps = _decoder_maps(quick, device)

    def ours() -> torch.Tensor:
        return local_soft_argmax(maps, WINDOW, TEMPERATURE, "logits")

    def reference() -> torch.Tensor:
        return decoder.coord_local_soft_argmax(maps, WINDOW, TEMPERATURE)

    def agreement() -> str:
        coords = ours()
        assert (coords - points).abs().max() < 0.1
        return _max_difference(coords, reference(), 1e-4)

    return Sides(ours, reference, agreement)


def _soft_argmax(quick: bool, device: str = "cpu") -> Sides:
    from landmarkbench.heatmaps.decoders import soft_argmax

    decoder = import_peer("landmarker.heatmap.decoder")
    _, maps = _decoder_maps(quick, device)

    def ours() -> torch.Tensor:
        return soft_argmax(maps, 1.0)

    def reference() -> torch.Tensor:
        return decoder.coord_weighted_spatial_mean(maps, 2, "softmax", t=1.0)

    return Sides(ours, reference, lambda: _max_difference(ours(), reference(), 1e-3))


# ----------------------------------------------------------------------------- metrics

RADII = [2.0, 2.5, 3.0, 4.0]
METRIC_CALLS = 20  # one call takes about a millisecond: time 20 in a row per side


def _metric_inputs(quick: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 2000, size=(300 if quick else 5263, 19, 2))
    pred = true + rng.normal(0, 20, size=true.shape)
    spacing = rng.uniform(0.08, 0.15, size=(true.shape[0], 2))
    return {"true": true, "pred": pred, "spacing": spacing}


def _repeated(function: Callable[[], object]) -> Callable[[], object]:
    return lambda: [function() for _ in range(METRIC_CALLS)][-1]


def _metric(kind: str) -> Callable[[bool], Sides]:
    def build(quick: bool, device: str = "cpu") -> Sides:
        _cpu_only(device, "point error" if kind == "pe" else "SDR")
        from landmarkbench.evaluation.metrics import point_error_mm, sdr

        metrics = import_peer("landmarker.metrics")
        arrays = _metric_inputs(quick)
        tensors = {k: torch.from_numpy(v) for k, v in arrays.items()}
        ours_args = (arrays["pred"], arrays["true"], arrays["spacing"])
        if kind == "pe":

            def ours():
                return point_error_mm(*ours_args)

            def reference():
                return metrics.point_error(
                    tensors["true"],
                    tensors["pred"],
                    pixel_spacing=tensors["spacing"],
                    reduction="none",
                )

            def agreement() -> str:
                reference_pe = np.stack(
                    [
                        np.linalg.norm((p - t) * s, axis=-1)
                        for p, t, s in zip(*ours_args, strict=True)
                    ]
                )
                np.testing.assert_allclose(ours(), reference_pe, rtol=0, atol=1e-9)
                np.testing.assert_allclose(reference().cpu().numpy(), ours(), rtol=0, atol=1e-6)
                return "PE within 1e-6 mm"

        else:

            def ours():
                return sdr(point_error_mm(*ours_args), RADII, "<=")

            def reference():
                return metrics.sdr(
                    RADII, tensors["true"], tensors["pred"], pixel_spacing=tensors["spacing"]
                )

            def agreement() -> str:
                mine, theirs = ours(), reference()
                for r in RADII:  # landmarker averages hits in float32
                    assert abs(float(theirs[r]) - mine[r]) / 100.0 < 1e-6, (r, theirs, mine)
                return "SDR within 1e-6"

        return Sides(_repeated(ours), _repeated(reference), agreement)

    return build


# ----------------------------------------------------------------------------- SCN

SCN_FILTERS, SCN_OURS_LEVELS, SCN_PEER_DEPTH = 128, 4, 2


def _training_step(
    model: nn.Module, shape: tuple[int, int], device: str | torch.device = "cpu"
) -> Callable[[], float]:
    """One SGD step of ``model`` (already on ``device``) on a fixed random image; forward and
    loss under ``amp_context(device)`` (bfloat16 autocast on CUDA, nothing on the CPU)."""
    generator = torch.Generator().manual_seed(0)  # drawn on the CPU: the same on any device
    image = torch.randn(1, 1, *shape, generator=generator).to(device)
    target = torch.rand(1, 19, *shape, generator=generator).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=1e-6, momentum=0.99, nesterov=True, weight_decay=1e-3
    )
    model.train()

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        with amp_context(device):
            loss = nn.functional.mse_loss(model(image), target)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _scn(quick: bool, device: str = "cpu") -> Sides:
    from landmarkbench.models.scn import SpatialConfigurationNet, count_parameters

    module = import_peer("landmarker.models.spatial_configuration_net")
    shape = (64, 64) if quick else (256, 256)
    torch.manual_seed(0)
    ours_net = SpatialConfigurationNet(2, 1, 19, filters=SCN_FILTERS, levels=SCN_OURS_LEVELS)
    torch.manual_seed(0)
    their_net = module.OriginalSpatialConfigurationNet(
        in_channels=1,
        out_channels=19,
        la_channels=SCN_FILTERS,
        la_depth=SCN_PEER_DEPTH,
        sp_channels=SCN_FILTERS,
        sp_kernel_size=11,
        sp_downsample=16,
    )

    def agreement() -> str:
        ours_size, their_size = count_parameters(ours_net), count_parameters(their_net)
        assert abs(ours_size - their_size) <= 0.01 * their_size, (ours_size, their_size)
        return f"parameters {ours_size:,} vs {their_size:,}"

    ours_net.to(device)  # both initialised on the CPU from seed 0, then moved
    their_net.to(device)
    return Sides(
        _training_step(ours_net, shape, device),
        _training_step(their_net, shape, device),
        agreement,
    )


# ----------------------------------------------------------------------------- conformal


def _probability_maps(cases: int, grid: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Anisotropic Gaussian-like logits at random centres; truths near the centres."""
    from landmarkbench.uncertainty.probability_maps import spatial_softmax

    generator = torch.Generator().manual_seed(seed)
    axes = torch.meshgrid(*(torch.arange(grid, dtype=torch.float32),) * 2, indexing="ij")
    margin = grid * 20 // 128
    centre = margin + (grid - 2 * margin) * torch.rand(cases, 19, 2, generator=generator)
    sigma = 1.5 + 3 * torch.rand(cases, 19, 2, generator=generator)
    logits = -sum(
        ((axes[k] - centre[..., k, None, None]) / sigma[..., k, None, None]) ** 2 / 2
        for k in range(2)
    )
    truth = centre + sigma * torch.randn(cases, 19, 2, generator=generator)
    return spatial_softmax(logits), truth


def _conformal(quick: bool, device: str = "cpu") -> Sides:
    _cpu_only(device, "conformal areas")
    from landmarkbench.uncertainty.conformal import calibrate
    from landmarkbench.uncertainty.region_measure import region_measure

    uncertainty = import_peer("landmarker.uncertainty.uncertainty")
    cases, grid, spacing = (2, 32, 0.1) if quick else (8, 128, 0.1)
    original = 4 * grid
    calibration = calibrate(*_probability_maps(60, grid, 1), alpha=0.05)
    maps, _ = _probability_maps(cases, grid, 2)

    def ours() -> np.ndarray:
        network_pixel_mm2 = (spacing * original / grid) ** 2
        return region_measure(calibration, maps) * network_pixel_mm2

    def reference() -> np.ndarray:
        peer = uncertainty.MR2CCP(spatial_dims=2, nb_landmarks=19, heatmap_size=(grid, grid))
        peer.alphas = np.tile(np.array(calibration.q), (40, 1))  # our threshold
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return peer.area_prediction_region(
                maps.numpy(),
                original_dims=np.full((cases, 2), original),
                padding=np.zeros((cases, 2), dtype=int),
                spacing=np.full((cases, 2), spacing),
                confidence=0.95,
            )

    def agreement() -> str:
        mine, theirs = ours(), reference()
        assert mine.shape == (cases, 19) and (mine > 0).all()
        relative = abs(theirs.mean() / mine.mean() - 1)
        assert relative < 0.01, f"mean areas differ by {relative:.2%}"
        return f"mean areas within {relative:.2%}"

    return Sides(ours, reference, agreement)


# ----------------------------------------------------------------------------- cache


def _cache_epoch(quick: bool, device: str = "cpu") -> Sides:
    _cpu_only(device, "cached epoch")
    from cache_epochs import cached_epoch, isbi_bmp_cases, uncached_epoch

    from landmarkbench.training.preprocess_cache import PreprocessCache

    folder = tempfile.TemporaryDirectory(prefix="landmarkbench-cache-bench-")
    scale = 10 if quick else 1
    cases = isbi_bmp_cases(folder.name, 3 if quick else 20, scale)
    target = (64, 64) if quick else (512, 512)
    cache = PreprocessCache(f"{folder.name}/preprocessed")
    for case in cases:  # the warm-up pass: one uncached epoch that fills the cache
        cache.network_image(case, target)

    def ours() -> float:
        folder.name  # noqa: B018 (keeps the temporary folder alive while timed)
        return cached_epoch(cache, cases, target)

    def reference() -> float:
        return uncached_epoch(cases, target)

    def agreement() -> str:
        first = cases[:1]
        assert abs(cached_epoch(cache, first, target) - uncached_epoch(first, target)) < 1e-3
        return "cached = decoded"

    return Sides(ours, reference, agreement)


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("isotropic Gaussian targets 8x19x512²", 30.0, _targets(rotated=False)),
    Comparison("rotated anisotropic targets 8x19x512²", 5.0, _targets(rotated=True)),
    Comparison("local soft-argmax 8x19x512²", 10.0, _local_soft_argmax),
    Comparison("soft-argmax 8x19x512²", None, _soft_argmax),
    Comparison("point error, 1e5 points (x20 calls)", None, _metric("pe"), gpu=False),
    Comparison("SDR, 1e5 points (x20 calls)", None, _metric("sdr"), gpu=False),
    Comparison("SCN training step 1x1x256²", None, _scn, pairs=5),
    Comparison("conformal areas 8x19x128²", None, _conformal, gpu=False),
    Comparison(
        "cached epoch, 20 BMPs 1935x2400 -> 512²",
        20.0,
        _cache_epoch,
        pairs=3,
        reference_name="decoding every epoch",
        gpu=False,
    ),
)
