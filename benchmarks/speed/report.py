"""Run every speed comparison at the given torch thread counts and print (or write) the table.

    .venv/bin/python benchmarks/speed/report.py --threads 1,2 --write-readme
    .venv/bin/python benchmarks/speed/report.py --threads 1,2 --check   # a rerun, judged
    .venv/bin/python benchmarks/speed/report.py --quick        # tiny sizes: a dry run
    python3 benchmarks/speed/report.py --device cuda --table-out table.md   # on a GPU

What one *block* measures, in a fresh process at one thread count: the peer comparisons of
``peers.py`` (interleaved pairs, agreement checks), targets against the memory-write limit
(``memory_limit.py``) and the training throughput (``throughput.py``). The report runs
``--blocks`` blocks per thread count (default 3), each in its own process and spread over the
whole run (block 1 at every thread count, then block 2, ...), and pools them: a cell is the
median over every pair of every block, and its [min-max] spans all of them. A single process
hides drift between processes (on a 2-core virtual machine the same code differs by up to 2x
from one process to the next at low load), so the spread is taken across processes and time.

``--write-readme`` replaces the table between the ``speed-table`` markers
(``speed-table-cuda`` for ``--device cuda``) of benchmarks/speed/README.md (README.md links
to it) with this run's table, stamped with the date, the machine, the thread counts and the
load averages.
``--check`` compares this run with the table in that README instead: each cell's median
against the [min-max] printed there (at the printed precision), and exits 1 if any falls
outside. A quick run never writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import memory_limit  # noqa: E402
import throughput  # noqa: E402
from peers import COMPARISONS, PeerMissing  # noqa: E402

README_FILES = (HERE / "README.md",)


def markers(device: str) -> tuple[str, str]:
    """The README markers around the table of ``device`` (the CPU table, or one per GPU
    kind of device such as cuda)."""
    kind = "" if device == "cpu" else "-" + device.split(":")[0]
    return f"<!-- speed-table{kind}:start -->", f"<!-- speed-table{kind}:end -->"


DEFAULT_BLOCKS = 3
THROUGHPUT_STEPS = 8  # optimiser steps per timed run and side
THROUGHPUT_PAIRS = 2  # timed pairs per block (both orders)
MEMORY_PREFIX = "targets into a reused buffer"
THROUGHPUT_PREFIX = "training throughput"


# ------------------------------------------------------------------ one block (a process)


def block_pairs(pairs: int, blocks: int) -> int:
    """Timed pairs per block so that ``blocks`` blocks time about ``pairs`` pairs in all
    (at least 2, so both orders occur in each block)."""
    return max(2, math.ceil(pairs / blocks))


def measure_block(quick: bool, device: str, block: int, blocks: int, echo) -> dict:
    """Everything at the current thread count, as plain numbers (the worker's JSON)."""
    load_before = os.getloadavg()[0]
    comparisons: dict[str, dict] = {}
    for comparison in COMPARISONS:
        if device != "cpu" and not comparison.gpu:
            comparisons[comparison.name] = {"skipped": "CPU work, not timed on a GPU"}
            continue
        try:
            sides = comparison.build(quick, device)
        except PeerMissing as missing:
            echo(f"{comparison.name}: skipped ({missing})")
            comparisons[comparison.name] = {"skipped": "not run: landmarker missing"}
            continue
        agreement = sides.agreement()
        pairs = None if quick else block_pairs(comparison.pairs, blocks)  # None: the quick 2
        timing = comparison.time(sides, quick, pairs=pairs, first=block)
        echo(f"{comparison.name:42s} {timing.describe()}; {agreement}")
        comparisons[comparison.name] = {"ratios": timing.ratios, "agreement": agreement}
    limits = []
    for limit in memory_limit.run(quick, device=device):
        echo(limit.describe())
        limits.append(dataclasses.asdict(limit))
    trainings: list[dict] | dict
    try:
        trainings = []
        steps = None if quick else THROUGHPUT_STEPS
        pairs = 1 if quick else THROUGHPUT_PAIRS
        for result in throughput.run(quick, steps, pairs=pairs, device=device, first=block):
            echo(result.describe())
            trainings.append(
                {
                    "label": result.label,
                    "pipeline": result.pipeline,
                    "images_per_run": result.images_per_run,
                    "ours": list(result.runs.ours),
                    "reference": list(result.runs.reference),
                    "ratios": result.runs.ratios,
                }
            )
    except PeerMissing as missing:
        echo(f"training throughput: skipped ({missing})")
        trainings = {"skipped": "not run: landmarker missing"}
    return {
        "threads": torch.get_num_threads(),
        "device": device,
        "block": block,
        "load": [load_before, os.getloadavg()[0]],
        "comparisons": comparisons,
        "memory": limits,
        "throughput": trainings,
    }


def run_blocks(
    threads: list[int], quick: bool, device: str, blocks: int, echo
) -> dict[int, list[dict]]:
    """Run ``blocks`` worker processes per thread count, block-major; their results."""
    results: dict[int, list[dict]] = {count: [] for count in threads}
    with tempfile.TemporaryDirectory(prefix="landmarkbench-speed-") as folder:
        for block in range(blocks):
            for count in threads:
                echo(
                    f"--- block {block + 1}/{blocks}, {count} torch thread(s), {device}, "
                    f"load average {os.getloadavg()[0]:.2f}"
                )
                out = Path(folder) / f"block{block}-threads{count}.json"
                command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(out)]
                command += ["--threads", str(count), "--device", device]
                command += ["--block", str(block), "--blocks", str(blocks)]
                command += ["--quick"] if quick else []
                subprocess.run(command, check=True)
                results[count].append(json.loads(out.read_text()))
    return results


# ------------------------------------------------------------------ pooling and the table


@dataclass(frozen=True)
class Cell:
    """One table cell: a median with its [min-max], or a note."""

    median: float = math.nan
    low: float = math.nan
    high: float = math.nan
    digits: int = 1
    mark: str = ""
    note: str = ""

    def text(self) -> str:
        if self.note:
            return self.note
        d = self.digits
        return f"{self.median:.{d}f}x [{self.low:.{d}f}-{self.high:.{d}f}]{self.mark}"


def _pooled(ratios: list[float], digits: int, mark: Callable[[float], str]) -> Cell:
    median = statistics.median(ratios)
    return Cell(median, min(ratios), max(ratios), digits, mark(median))


def _memory_mark(ratio: float) -> str:
    return " ✓" if ratio <= memory_limit.GOAL else " ✗"


def pool(blocks: list[dict]) -> dict[str, tuple[Cell, str]]:
    """Each row's cell and agreement text, pooled over the blocks of one thread count."""
    rows: dict[str, tuple[Cell, str]] = {}
    for comparison in COMPARISONS:
        records = [b["comparisons"][comparison.name] for b in blocks]
        skipped = [r["skipped"] for r in records if "skipped" in r]
        if skipped:
            rows[comparison.name] = (Cell(note=skipped[0]), "")
            continue
        ratios = [ratio for record in records for ratio in record["ratios"]]
        agreements = sorted({record["agreement"] for record in records})
        cell = _pooled(ratios, 1, comparison.mark)
        rows[comparison.name] = (cell, "; ".join(agreements))
    for index, first in enumerate(blocks[0]["memory"]):
        limits = [b["memory"][index] for b in blocks]
        ratios = [ratio for limit in limits for ratio in limit["pair_ratios"]]

        def ms(key: str, limits=limits) -> str:
            return f"{statistics.median(limit[key] for limit in limits) * 1e3:.1f} ms"

        rows[f"{MEMORY_PREFIX} {first['label']} / memory write"] = (
            _pooled(ratios, 2, _memory_mark),
            f"write {ms('fill')}, targets {ms('into_buffer')} (allocating {ms('allocating')})",
        )
    if isinstance(blocks[0]["throughput"], dict):
        rows[f"{THROUGHPUT_PREFIX}, ours / landmarker img/s"] = (
            Cell(note=blocks[0]["throughput"]["skipped"]),
            "",
        )
        return rows
    for index, first in enumerate(blocks[0]["throughput"]):
        records = [b["throughput"][index] for b in blocks]
        ratios = [ratio for record in records for ratio in record["ratios"]]
        images = first["images_per_run"]
        ours = images / statistics.median(t for r in records for t in r["ours"])
        theirs = images / statistics.median(t for r in records for t in r["reference"])
        rows[f"{THROUGHPUT_PREFIX} {first['label']}, ours / landmarker img/s"] = (
            _pooled(ratios, 2, lambda m: ""),
            f"{ours:.2f} vs {theirs:.2f} img/s (median run)",
        )
    return rows


def machine(device: str) -> str:
    from landmarkbench.run.gate import machine_description

    text = machine_description()
    if device.startswith("cuda"):
        text += (
            f", GPU {torch.cuda.get_device_name()} (torch {torch.__version__}; AMP in the "
            "training rows: SCN step bfloat16, throughput float16 as fit_loop)"
        )
    return text


def table(results: dict[int, list[dict]], quick: bool, device: str) -> list[str]:
    """The markdown lines: a stamp, then one row per check and a column per thread count."""
    counts = sorted(results)
    blocks = len(results[counts[0]])
    pooled = {count: pool(results[count]) for count in counts}
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    loads = [load for count in counts for b in results[count] for load in b["load"]]
    device_text = "" if device == "cpu" else f" --device {device}"
    lines = [
        f"Measured {stamp} on {machine(device)}"
        f"{' (QUICK dry run, tiny sizes: not a measurement)' if quick else ''}; "
        f"{blocks} blocks per thread count, each in its own process, run in turn over the "
        f"whole run; 1-minute load average {min(loads):.2f}-{max(loads):.2f}. Ratios are the "
        "median over the interleaved pairs of all blocks of (other / ours) time per pair, "
        "> 1 = ours faster, [min-max over those pairs], ✓/✗ the goal; memory rows are our "
        "time over the time to fill the same buffer, per pair in the same way "
        f"(goal <= {memory_limit.GOAL:g}x). Regenerate: `.venv/bin/python "
        f"benchmarks/speed/report.py --threads {','.join(map(str, counts))}{device_text} "
        "--write-readme`; judge a rerun against this table: `... --check`.",
        "",
        "| check | goal | " + " | ".join(f"{c} thread(s)" for c in counts) + " | agreement |",
        "|---|---|" + "---|" * len(counts) + "---|",
    ]
    goals = {c.name: c.goal for c in COMPARISONS}
    for name in pooled[counts[0]]:
        goal = goals.get(name)
        memory = f"<= {memory_limit.GOAL:g}x" if name.startswith(MEMORY_PREFIX) else ""
        goal_text = f">= {goal:g}x" if goal else memory
        row = [pooled[c][name][0].text() for c in counts]
        agreement = _agreement(counts, {c: pooled[c][name][1] for c in counts})
        lines.append(f"| {name} | {goal_text} | " + " | ".join(row) + f" | {agreement} |")
    pipelines = sorted(
        {t["pipeline"] for c in counts for b in results[c] if isinstance(b["throughput"], list)
         for t in b["throughput"]}
    )  # fmt: skip
    if pipelines:
        lines += ["", f"Training throughput, the landmarker side: {'; '.join(pipelines)}."]
    return lines


def _agreement(counts: list[int], texts: dict[int, str]) -> str:
    """One text when every thread count agrees, else each prefixed with its count."""
    if len(set(texts.values())) == 1:
        return texts[counts[0]]
    return "; ".join(f"{c} thread(s): {texts[c]}" for c in counts)


# ------------------------------------------------------------------ judging a rerun

_CELL = re.compile(r"(\d+(?:\.\d+)?)x \[(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\]")


def printed_cells(lines: list[str]) -> dict[tuple[str, str], tuple[float, float, float, int]]:
    """(check, column) -> (median, low, high, decimals) of every ratio cell of a table."""
    header = next(line for line in lines if line.startswith("| check |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    cells = {}
    for line in lines:
        if not line.startswith("| ") or line.startswith(("| check |", "|---")):
            continue
        values = [c.strip() for c in line.strip("|").split("|")]
        for column, value in zip(columns[2:-1], values[2:-1], strict=True):
            match = _CELL.search(value)
            if match:
                decimals = len(match.group(2).partition(".")[2])
                cells[(values[0], column)] = (
                    float(match.group(1)),
                    float(match.group(2)),
                    float(match.group(3)),
                    decimals,
                )
    return cells


def judge(printed: list[str], rerun: list[str]) -> tuple[list[str], int]:
    """Lines saying, per cell, whether the rerun's median lies within the printed spread
    (rounded as printed), and the number of cells outside."""
    before, after = printed_cells(printed), printed_cells(rerun)
    lines = [
        "| check | column | printed [min-max] | rerun median | within |",
        "|---|---|---|---|---|",
    ]
    outside = 0
    for (name, column), (_, low, high, decimals) in before.items():
        if (name, column) not in after:
            lines.append(f"| {name} | {column} | {low}-{high} | not in the rerun | - |")
            outside += 1
            continue
        value = round(after[(name, column)][0], decimals)
        within = low <= value <= high
        outside += not within
        lines.append(
            f"| {name} | {column} | {low:.{decimals}f}-{high:.{decimals}f} | "
            f"{value:.{decimals}f} | {'yes' if within else 'NO'} |"
        )
    return lines, outside


def readme_table(path: Path, device: str) -> list[str]:
    """The lines of the README's table for ``device``."""
    start, end = markers(device)
    text = path.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{path} has no '{start}' ... '{end}' block to replace.")
    return text.split(start, 1)[1].split(end, 1)[0].strip().splitlines()


def write_readmes(lines: list[str], device: str) -> None:
    """Replace the block between the markers in each README (which must hold them), each
    file written atomically."""
    from landmarkbench.atomic_io import write_text_atomically

    start, end = markers(device)
    block = "\n".join([start, *lines, end])
    for path in README_FILES:
        readme_table(path, device)  # refuses a README without the markers
        head, rest = path.read_text().split(start, 1)
        write_text_atomically(path, head + block + rest.split(end, 1)[1])
        print(f"wrote the speed table into {path}")


# ------------------------------------------------------------------ command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="torch thread counts, e.g. 1,2")
    parser.add_argument("--blocks", type=int, default=DEFAULT_BLOCKS, help="processes per count")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (GPU rows only)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check it runs")
    parser.add_argument("--write-readme", action="store_true", help="update the README table")
    parser.add_argument("--check", action="store_true", help="judge this run against it")
    parser.add_argument("--table-out", type=Path, help="also write the table to this file")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--block", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    if args.blocks < 1 or not threads or min(threads) < 1:
        parser.error("--blocks and every --threads count must be at least 1")
    if args.device != "cpu" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device here; use cpu")
    if args.write_readme and args.check:
        parser.error("--write-readme and --check exclude each other (the check reads it)")
    if args.worker:
        torch.set_num_threads(threads[0])
        result = measure_block(args.quick, args.device, args.block, args.blocks, print)
        args.worker.write_text(json.dumps(result))
        return 0
    printed = readme_table(README_FILES[0], args.device) if args.check else None
    results = run_blocks(threads, args.quick, args.device, args.blocks, print)
    lines = table(results, args.quick, args.device)
    print("\n".join(["", *lines]))
    if args.table_out:
        args.table_out.write_text("\n".join(lines) + "\n")
    if printed is not None:
        verdict, outside = judge(printed, lines)
        print("\n".join(["", "Against the README's table:", *verdict]))
        print(f"{len(verdict) - 2 - outside} of {len(verdict) - 2} cells within the spread.")
        return 1 if outside else 0
    if args.write_readme and not args.quick:
        write_readmes(lines, args.device)
    elif args.write_readme:
        print("--quick: the README is left unchanged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
