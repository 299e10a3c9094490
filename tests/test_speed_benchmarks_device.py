"""The speed benchmarks' device plumbing, checked on the CPU in seconds (no GPU, no timing).

Covered: the alternation offset of the interleaved pairs, the CUDA synchronisation of the
timer (with CUDA faked), the refusal of CPU-only comparisons on another device, the quick
builds on an explicit CPU device still agreeing, the AMP switch, and the throughput's
device checks and AMP dtype against ``fit_loop``'s.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from pathlib import Path

import pytest
import torch

SPEED = Path(__file__).resolve().parents[1] / "benchmarks" / "speed"
CPU_WORK = {
    "point error, 1e5 points (x20 calls)",
    "SDR, 1e5 points (x20 calls)",
    "conformal areas 8x19x128²",
    "cached epoch, 20 BMPs 1935x2400 -> 512²",
}


@pytest.fixture(scope="module")
def speed():
    """The benchmark modules, imported from benchmarks/speed (not a package)."""
    sys.path.insert(0, str(SPEED))
    try:
        import interleaved
        import memory_limit
        import peers
        import throughput

        yield {"interleaved": interleaved, "peers": peers, "memory_limit": memory_limit,
               "throughput": throughput}  # fmt: skip
    finally:
        sys.path.remove(str(SPEED))


def _recorder(calls: list[str], name: str):
    return lambda: calls.append(name)


@pytest.mark.parametrize("first", [0, 1, 2, 3])
def test_time_pairs_alternates_from_the_offset(speed, first: int) -> None:
    calls: list[str] = []
    timing = speed["interleaved"].time_pairs(
        _recorder(calls, "ours"), _recorder(calls, "ref"), 3, warmup=1, first=first
    )
    assert calls[:2] == ["ours", "ref"]  # the warm-up is not alternated
    odd = ["ref", "ours", "ours", "ref", "ref", "ours"]
    even = ["ours", "ref", "ref", "ours", "ours", "ref"]
    assert calls[2:] == (even if first % 2 == 0 else odd)
    assert len(timing.ours) == len(timing.reference) == 3


def test_comparison_time_passes_pairs_and_offset(speed) -> None:
    peers = speed["peers"]
    calls: list[str] = []
    sides = peers.Sides(_recorder(calls, "ours"), _recorder(calls, "ref"), lambda: "same")
    comparison = peers.Comparison("fake", None, lambda quick, device="cpu": sides, pairs=5)
    assert len(comparison.time(sides, quick=False).ours) == 5
    assert len(comparison.time(sides, quick=True).ours) == 2
    calls.clear()
    timing = comparison.time(sides, quick=False, pairs=1, first=1)
    assert len(timing.ours) == 1 and calls[2:] == ["ref", "ours"]


def test_seconds_synchronises_only_when_cuda_is_in_use(speed, monkeypatch) -> None:
    interleaved = speed["interleaved"]
    synchronised: list[int] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: synchronised.append(1))
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    interleaved.seconds(lambda: None)
    assert synchronised == []
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    interleaved.seconds(lambda: None)  # before the clock starts and after the call
    assert len(synchronised) == 2
    interleaved.median_seconds(lambda: None, repeats=3, warmup=0)
    assert len(synchronised) == 2 + 6
    interleaved.synchronised(lambda: None)()
    assert len(synchronised) == 9


def test_amp_only_on_cuda(speed) -> None:
    interleaved = speed["interleaved"]
    assert isinstance(interleaved.amp_context("cpu"), contextlib.nullcontext)
    assert isinstance(interleaved.amp_context(torch.device("cpu")), contextlib.nullcontext)
    assert interleaved.uses_amp("cuda") and interleaved.uses_amp("cuda:0")
    assert not interleaved.uses_amp("cpu")
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else contextlib.nullcontext():
        context = interleaved.amp_context("cuda")  # torch warns when CUDA is absent
    assert isinstance(context, torch.autocast) and context.fast_dtype == torch.bfloat16


def test_bench_device_defaults_to_cpu(speed, monkeypatch) -> None:
    interleaved = speed["interleaved"]
    monkeypatch.delenv(interleaved.DEVICE_ENV, raising=False)
    assert interleaved.bench_device() == "cpu"
    monkeypatch.setenv(interleaved.DEVICE_ENV, "cuda")
    assert interleaved.bench_device() == "cuda"


def test_cpu_work_is_marked_and_refuses_other_devices(speed) -> None:
    peers = speed["peers"]
    assert {c.name for c in peers.COMPARISONS if not c.gpu} == CPU_WORK
    for comparison in peers.COMPARISONS:
        if comparison.gpu:
            continue
        for device in ("cuda", "cuda:0", torch.device("meta")):
            with pytest.raises(ValueError, match="CPU only"):
                comparison.build(True, device)  # refused before anything is built


def test_quick_builds_on_an_explicit_cpu_device_agree(speed) -> None:
    pytest.importorskip("landmarker")
    for comparison in speed["peers"].COMPARISONS:
        if comparison.gpu:
            sides = comparison.build(True, "cpu")
            assert sides.agreement()


def test_scn_step_asks_for_amp_on_its_device(speed, monkeypatch) -> None:
    peers = speed["peers"]
    devices: list[object] = []

    def recording(device, dtype=torch.bfloat16):
        devices.append((device, dtype))
        return contextlib.nullcontext()

    monkeypatch.setattr(peers, "amp_context", recording)
    torch.manual_seed(0)
    step = peers._training_step(torch.nn.Conv2d(1, 19, 1), (8, 8), "cpu")
    assert step() > 0 and devices == [("cpu", torch.bfloat16)]


def test_memory_limit_runs_on_an_explicit_device(speed) -> None:
    limits = speed["memory_limit"].run(True, repeats=1, device="cpu")
    assert [limit.label for limit in limits] == ["2x19x64²", "1x8x16³"]
    assert all(limit.fill > 0 and limit.into_buffer > 0 for limit in limits)


def test_throughput_devices_and_amp_match_the_loop(speed) -> None:
    from landmarkbench.training import loop

    throughput = speed["throughput"]
    assert throughput.loop_device("cpu") == "cpu"
    assert throughput.loop_device("cuda") == throughput.loop_device("cuda:0") == "cuda"
    for device in ("cuda:1", "meta"):
        with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
            throughput.loop_device(device)
    with pytest.raises(ValueError):
        throughput.run(True, device="cuda:1")  # before any case is generated
    # landmarker's step copies fit_loop's mixed precision: its autocast dtype and a scaler.
    assert throughput.LOOP_AMP_DTYPE is loop.AMP_DTYPE
    assert "dtype=AMP_DTYPE" in inspect.getsource(loop._run_epoch)
    assert "GradScaler" in inspect.getsource(loop.fit_loop)
    runs = speed["interleaved"].PairedTiming((2.0,), (4.0,), 1, 0.0, 0.0)
    cpu = throughput.Throughput("64²", "p", 8, 0.1, 0.2, runs)
    cuda = throughput.Throughput("64²", "p", 8, 0.1, 0.2, runs, "cuda", True)
    assert cpu.describe().endswith("device cpu, no AMP")
    assert cuda.describe().endswith("device cuda, AMP float16")
