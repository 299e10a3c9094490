"""Run every speed comparison at the given torch thread counts and print (or write) the table.

    .venv/bin/python benchmarks/speed/report.py --threads 1,2 --write-readme
    .venv/bin/python benchmarks/speed/report.py --quick        # tiny sizes: a dry run

Per thread count: the peer comparisons of ``peers.py`` (interleaved pairs, agreement checks),
targets against the memory-write limit (``memory_limit.py``) and the training throughput
(``throughput.py``). ``--write-readme`` replaces the table between the ``speed-table``
markers of benchmarks/speed/README.md (the one speed table; README.md links to it) with this
run's table, stamped with the date, the machine, the thread counts and the load averages. A
quick run never writes.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import memory_limit  # noqa: E402
import throughput  # noqa: E402
from peers import COMPARISONS, PeerMissing  # noqa: E402

README_FILES = (HERE / "README.md",)
START, END = "<!-- speed-table:start -->", "<!-- speed-table:end -->"


def _ratio_cell(timing, mark: str = "") -> str:
    low, high = timing.spread
    return f"{timing.ratio:.1f}x [{low:.1f}-{high:.1f}]{mark}"


def run_comparisons(quick: bool, echo) -> dict[str, tuple[str, str]]:
    """Each comparison's table cell and agreement at the current thread count."""
    cells = {}
    for comparison in COMPARISONS:
        try:
            sides = comparison.build(quick)
        except PeerMissing as missing:
            echo(f"{comparison.name}: skipped ({missing})")
            cells[comparison.name] = ("not run: landmarker missing", "")
            continue
        agreement = sides.agreement()
        timing = comparison.time(sides, quick)
        echo(f"{comparison.name:42s} {timing.describe()}; {agreement}")
        cells[comparison.name] = (_ratio_cell(timing, comparison.mark(timing.ratio)), agreement)
    return cells


def run_all(threads: list[int], quick: bool, echo) -> list[str]:
    """Run everything per thread count; returns the markdown table lines."""
    results: dict[int, dict[str, tuple[str, str]]] = {}
    loads = {}
    for count in threads:
        torch.set_num_threads(count)
        echo(f"--- {count} torch thread(s), load average {os.getloadavg()}")
        before = os.getloadavg()[0]
        cells = run_comparisons(quick, echo)
        for limit in memory_limit.run(quick):
            echo(limit.describe())
            mark = " ✓" if limit.ratio <= memory_limit.GOAL else " ✗"
            cells[f"targets into a reused buffer {limit.label} / memory write"] = (
                f"{limit.ratio:.2f}x{mark}",
                f"write {limit.fill * 1e3:.1f} ms, targets {limit.into_buffer * 1e3:.1f} ms "
                f"(allocating {limit.allocating * 1e3:.1f} ms)",
            )
        try:
            for result in throughput.run(quick):
                echo(result.describe())
                cells[f"training throughput {result.label}, ours / landmarker img/s"] = (
                    _ratio_cell(result.runs),
                    f"{result.images_per_run / statistics.median(result.runs.ours):.2f} vs "
                    f"{result.images_per_run / statistics.median(result.runs.reference):.2f} "
                    f"img/s (median run; {result.pipeline})",
                )
        except PeerMissing as missing:
            echo(f"training throughput: skipped ({missing})")
        loads[count] = (before, os.getloadavg()[0])
        results[count] = cells
    return _table(results, loads, quick)


def _table(results: dict[int, dict[str, tuple[str, str]]], loads, quick: bool) -> list[str]:
    from landmarkbench.run.gate import machine_description

    counts = sorted(results)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_text = ", ".join(f"{c} thread(s) {a:.2f} -> {b:.2f}" for c, (a, b) in loads.items())
    lines = [
        f"Measured {stamp} on {machine_description()}"
        f"{' (QUICK dry run, tiny sizes: not a measurement)' if quick else ''}; "
        f"1-minute load average {load_text}. Ratios are the median over interleaved pairs of "
        "(other / ours) time per pair, > 1 = ours faster, [min-max over pairs], ✓/✗ the goal; "
        "memory rows are our time over the time to fill the same buffer "
        f"(goal <= {memory_limit.GOAL:g}x). "
        "Regenerate: `.venv/bin/python benchmarks/speed/report.py --threads 1,2 "
        "--write-readme`.",
        "",
        "| check | goal | " + " | ".join(f"{c} thread(s)" for c in counts) + " | agreement |",
        "|---|---|" + "---|" * len(counts) + "---|",
    ]
    goals = {c.name: c.goal for c in COMPARISONS}
    for name in results[counts[0]]:
        goal = goals.get(name)
        memory = f"<= {memory_limit.GOAL:g}x" if "memory" in name else ""
        goal_text = f">= {goal:g}x" if goal else memory
        row = [results[c].get(name, ("", ""))[0] for c in counts]
        agreement = results[counts[-1]].get(name, ("", ""))[1]
        lines.append(f"| {name} | {goal_text} | " + " | ".join(row) + f" | {agreement} |")
    return lines


def write_readmes(lines: list[str]) -> None:
    """Replace the block between the markers in each README (which must hold them), each
    file written atomically."""
    from landmarkbench.atomic_io import write_text_atomically

    block = "\n".join([START, *lines, END])
    for path in README_FILES:
        text = path.read_text()
        if START not in text or END not in text:
            raise SystemExit(f"{path} has no '{START}' ... '{END}' block to replace.")
        head, rest = text.split(START, 1)
        write_text_atomically(path, head + block + rest.split(END, 1)[1])
        print(f"wrote the speed table into {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="torch thread counts, e.g. 1,2")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check it runs")
    parser.add_argument("--write-readme", action="store_true", help="update both READMEs")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    lines = run_all(threads, args.quick, print)
    print("\n".join(["", *lines]))
    if args.write_readme and not args.quick:
        write_readmes(lines)
    elif args.write_readme:
        print("--quick: the READMEs are left unchanged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
