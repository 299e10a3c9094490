"""Acceptance: a cached epoch over 20 full-size ISBI-layout BMPs is at least 20x faster.

The fixtures are 20 BMPs of 1935 wide x 2400 high, 24-bit with three identical channels, as
in ISBI 2015. An uncached epoch decodes every image and resizes it with padding to 512 x 512;
a cached epoch reads the same network-grid images from :class:`PreprocessCache` (after a
warm-up pass that fills it) and copies them into memory, as a data loader would. Both epochs
are pytest-benchmark tests of one group; the cached test prints and asserts the ratio of the
median epoch times.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from landmarkbench.datasets.base import Case
from landmarkbench.imageio import read_image, read_image_shape, write_image
from landmarkbench.training.geometry import ResizePad
from landmarkbench.training.preprocess_cache import PreprocessCache

NUM_CASES = 20
HEIGHT, WIDTH = 2400, 1935
TARGET = (512, 512)
REQUIRED_SPEEDUP = 20.0
GROUP = "preprocess-cache epoch (20 ISBI-size BMPs -> 512x512)"

_medians: dict[str, float] = {}


def smooth_image(index: int) -> np.ndarray:
    """Random-ish smooth uint8 content: a blocky random field plus waves."""
    rng = np.random.default_rng(index)
    coarse = rng.uniform(0, 120, size=(HEIGHT // 100 + 1, WIDTH // 100 + 1))
    field = np.repeat(np.repeat(coarse, 100, axis=0), 100, axis=1)[:HEIGHT, :WIDTH]
    rows = np.linspace(0.0, 1.0, HEIGHT)[:, None]
    cols = np.linspace(0.0, 1.0, WIDTH)[None, :]
    waves = 60 * np.sin(2 * np.pi * (2 + index % 5) * rows) * np.cos(2 * np.pi * 3 * cols)
    return np.clip(field + waves + 70, 0, 255).astype(np.uint8)


def lazy_case(path: Path) -> Case:
    """A case that decodes its BMP only when ``case.image`` is read."""
    return Case(
        case_id=path.stem,
        landmarks=np.zeros((19, 2)),
        spacing=np.array([0.1, 0.1]),
        image_shape=read_image_shape(path),
        image_reader=lambda: read_image(path).array,
        source=str(path),
    )


@pytest.fixture(scope="session")
def isbi_cases(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    folder = tmp_path_factory.mktemp("RawImage") / "TrainingData"
    cases = []
    for k in range(1, NUM_CASES + 1):
        path = folder / f"{k:03d}.bmp"
        write_image(path, smooth_image(k), rgb=True)
        cases.append(lazy_case(path))
    assert cases[0].shape == (HEIGHT, WIDTH)
    read_image(cases[0].source)  # import MONAI and friends outside the timings
    return cases


@pytest.fixture(scope="session")
def warm_cache(tmp_path_factory: pytest.TempPathFactory, isbi_cases: list[Case]) -> PreprocessCache:
    cache = PreprocessCache(tmp_path_factory.mktemp("preprocess-cache"))
    for case in isbi_cases:  # the warm-up pass: one uncached epoch that fills the cache
        cache.network_image(case, TARGET)
    return cache


def uncached_epoch(cases: list[Case]) -> float:
    total = 0.0
    for case in cases:
        image = torch.from_numpy(case.image)
        total += float(ResizePad(case.shape, TARGET).image_to_target(image)[256, 256])
    return total


def cached_epoch(cache: PreprocessCache, cases: list[Case]) -> float:
    total = 0.0
    for case in cases:
        image = np.array(cache.network_image(case, TARGET))  # materialise, as a loader would
        total += float(image[256, 256])
    return total


@pytest.mark.benchmark(group=GROUP)
def test_epoch_uncached(benchmark, isbi_cases: list[Case]) -> None:
    benchmark.pedantic(uncached_epoch, args=(isbi_cases,), rounds=2, iterations=1)
    _medians["uncached"] = benchmark.stats.stats.median


@pytest.mark.benchmark(group=GROUP)
def test_epoch_cached(benchmark, isbi_cases: list[Case], warm_cache: PreprocessCache) -> None:
    expected = uncached_epoch(isbi_cases[:1])
    assert cached_epoch(warm_cache, isbi_cases[:1]) == pytest.approx(expected, rel=1e-5)
    benchmark.pedantic(
        cached_epoch, args=(warm_cache, isbi_cases), rounds=10, iterations=1, warmup_rounds=1
    )
    cached = benchmark.stats.stats.median
    uncached = _medians.get("uncached") or _time_uncached(isbi_cases)
    ratio = uncached / cached
    print(
        f"\npreprocess cache: uncached epoch {uncached:.3f} s, cached epoch "
        f"{cached * 1e3:.1f} ms, ratio {ratio:.0f}x (required >= {REQUIRED_SPEEDUP:.0f}x)"
    )
    assert ratio >= REQUIRED_SPEEDUP, f"cached epoch only {ratio:.1f}x faster than uncached"


def _time_uncached(cases: list[Case], rounds: int = 2) -> float:
    """Median uncached epoch time, when this test runs without ``test_epoch_uncached``."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        uncached_epoch(cases)
        times.append(time.perf_counter() - start)
    return float(np.median(times))
