"""The speed report's pooling over blocks and its judging of a rerun (no timing here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SPEED = Path(__file__).resolve().parents[1] / "benchmarks" / "speed"


@pytest.fixture(scope="module")
def report():
    sys.path.insert(0, str(SPEED))
    try:
        import report as module

        yield module
    finally:
        sys.path.remove(str(SPEED))


def _block(report, scale: float, load: float) -> dict:
    """A worker's result in which every comparison's two pairs have the ratios ``scale`` and
    ``2 * scale``."""
    comparisons = {
        c.name: {"ratios": [scale, 2 * scale], "agreement": "same"} for c in report.COMPARISONS
    }
    memory = [
        {"label": "8x19x512²", "megabytes": 159.0, "fill": 0.010, "into_buffer": 0.010 * scale,
         "allocating": 0.05, "pair_ratios": [scale]},
    ]  # fmt: skip
    training = [
        {"label": "512²", "pipeline": "p", "images_per_run": 8, "ours": [2.0],
         "reference": [2.0 * scale], "ratios": [scale]},
    ]  # fmt: skip
    return {
        "threads": 1,
        "device": "cpu",
        "block": 0,
        "load": [load, load + 0.5],
        "comparisons": comparisons,
        "memory": memory,
        "throughput": training,
    }


def test_cells_pool_every_pair_of_every_block(report) -> None:
    blocks = [_block(report, 10.0, 0.2), _block(report, 40.0, 1.0), _block(report, 20.0, 0.4)]
    rows = report.pool(blocks)
    isotropic = rows[report.COMPARISONS[0].name][0]
    # pairs: 10, 20 | 40, 80 | 20, 40 -> median 30, spread 10-80 (across processes)
    assert (isotropic.median, isotropic.low, isotropic.high) == (30.0, 10.0, 80.0)
    assert isotropic.text() == "30.0x [10.0-80.0] ✓"  # goal 30x met
    memory = rows[f"{report.MEMORY_PREFIX} 8x19x512² / memory write"][0]
    assert (memory.median, memory.low, memory.high) == (20.0, 10.0, 40.0)
    assert memory.text().endswith("✗")  # goal <= 3x missed
    training = rows[f"{report.THROUGHPUT_PREFIX} 512², ours / landmarker img/s"]
    assert training[0].text() == "20.00x [10.00-40.00]"
    assert training[1].startswith("4.00 vs 0.20 img/s")  # 8 images / median 2 s and 40 s


def test_table_states_blocks_loads_and_agreements_per_thread_count(report) -> None:
    one = [_block(report, 10.0, 0.2), _block(report, 20.0, 0.3)]
    two = [_block(report, 10.0, 0.7), _block(report, 20.0, 0.9)]
    for block in two:
        block["comparisons"][report.COMPARISONS[0].name]["agreement"] = "other"
    lines = report.table({1: one, 2: two}, quick=False, device="cpu")
    assert "2 blocks per thread count" in lines[0] and "0.20-1.40" in lines[0]
    assert lines[2] == "| check | goal | 1 thread(s) | 2 thread(s) | agreement |"
    first = next(line for line in lines if line.startswith(f"| {report.COMPARISONS[0].name} "))
    assert "1 thread(s): same; 2 thread(s): other" in first
    second = next(line for line in lines if line.startswith(f"| {report.COMPARISONS[1].name} "))
    assert second.endswith("| same |")
    assert lines[-1] == "Training throughput, the landmarker side: p."


def test_a_rerun_is_judged_against_the_printed_spread_at_its_precision(report) -> None:
    printed = report.table({1: [_block(report, 10.0, 0.2), _block(report, 20.0, 0.3)]},
                           quick=False, device="cpu")  # fmt: skip
    inside = report.table({1: [_block(report, 12.0, 0.2)]}, quick=False, device="cpu")
    verdict, outside = report.judge(printed, inside)
    assert outside == 0 and all(line.endswith("| yes |") for line in verdict[2:])
    assert len(verdict) - 2 == len(report.COMPARISONS) + 2  # + memory + throughput rows
    far = report.table({1: [_block(report, 100.0, 0.2)]}, quick=False, device="cpu")
    verdict, outside = report.judge(printed, far)
    assert outside == len(verdict) - 2
    assert "| 150.0 | NO |" in verdict[2]


def test_printed_cells_read_the_bracketed_cells_only(report) -> None:
    lines = [
        "| check | goal | 1 thread(s) | 2 thread(s) | agreement |",
        "|---|---|---|---|---|",
        "| a | >= 30x | 52.8x [51.6-55.4] ✓ | 39.6x [38.4-39.8] ✓ | max diff 1.2e-07 |",
        "| b | <= 3x | 1.21x ✓ | 1.20x [1.11-1.30] ✓ | write 6.2 ms |",
        "| c |  | not run: landmarker missing | 1.00x [0.98-1.03] | |",
    ]
    cells = report.printed_cells(lines)
    assert cells == {
        ("a", "1 thread(s)"): (52.8, 51.6, 55.4, 1),
        ("a", "2 thread(s)"): (39.6, 38.4, 39.8, 1),
        ("b", "2 thread(s)"): (1.2, 1.11, 1.3, 2),
        ("c", "2 thread(s)"): (1.0, 0.98, 1.03, 2),
    }


def test_block_pairs_keep_the_total_and_both_orders(report) -> None:
    assert report.block_pairs(7, 3) == 3
    assert report.block_pairs(3, 3) == 2
    assert report.block_pairs(7, 1) == 7
