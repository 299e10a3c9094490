"""A static HTML leaderboard built from stored results only (no server, no network).

``build_site`` writes ``index.html`` and one page per (dataset, convention key):

- the index: per dataset and convention group, a readable split label (protocol, folds,
  cases, ground truth) beside the split hash, the best method with its headline metric
  (rank 1 of the page), the number of methods and the newest run;
- a page: the comparison table of ``tables.section_table`` (same cells, statistics and bold
  best) ranked by ``report.ranking`` (rank column, ties by CI overlap), with the recipe, the
  model's parameters and training time per row, the MLflow parent runs (links into the MLflow
  UI when its address is known, with a link comparing them there) and each run's resolved
  experiment file (copied beside the page); the inter-observer rows of datasets with two
  annotators (``report.inter_observer``, marked ``human``) and literature rows of the same
  protocol sit in the ranked view, placed by value, never ranked; then the per-landmark
  breakdown, the prediction-region tables when rows have regions, and SDR curves
  (``report.sdr_svg``) from 0 to the largest SDR radius plus a margin.

Runs are chosen by a ``RunSelection`` (``report.filters``): by default runs tagged ``smoke``
are left out, with a note saying how many.
"""

from __future__ import annotations

import html
import shutil
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from landmarkbench.atomic_io import write_text_atomically
from landmarkbench.errors import ResultsError
from landmarkbench.report.filters import LEADERBOARD_EXCLUDED_TAGS, RunSelection
from landmarkbench.report.formats import DASH, Cell, Table
from landmarkbench.report.inter_observer import InterObserverRow
from landmarkbench.report.literature import FIXED_COLUMNS, merged
from landmarkbench.report.plot_common import split_label as run_split_label
from landmarkbench.report.ranking import RANK_NOTE, Ranked, rank_rows
from landmarkbench.report.regions_table import conformal_per_landmark_table, conformal_table
from landmarkbench.report.sdr_svg import row_sdr_curve, sdr_curves, sdr_svg
from landmarkbench.report.site_html import page, slug, table_html
from landmarkbench.report.tables import (
    Row,
    comparison_rows,
    human_baseline,
    literature_rows,
    per_landmark_table,
    rows_of,
    section_table,
    sections,
)
from landmarkbench.results.layout import summary_files
from landmarkbench.results.scoring import evaluation_for
from landmarkbench.results.store import StoredRun, read_runs
from landmarkbench.results.tracking import EXPERIMENT_FILE, TrackedRun

__all__ = ["SitePage", "build_site", "lookup_run_ids", "lookup_runs", "row_sdr_curve"]


@dataclass(frozen=True)
class SitePage:
    """One written page: its dataset, split, conventions, file (relative to the site root)
    and what the index shows of it."""

    dataset: str
    split_id: str
    protocol: str
    n_rows: int
    path: str
    conventions: str = ""
    split_label: str = ""
    best: str = ""
    headline: str = ""
    n_methods: int = 0
    newest: str = ""


def datasets_under(results_dir: Path) -> list[str]:
    """Names of datasets with at least one stored run summary, sorted."""
    if not results_dir.is_dir():
        return []
    return sorted(p.name for p in results_dir.iterdir() if summary_files(results_dir, p.name))


def lookup_runs(tracking_uri: str | None, keys: Sequence[str]) -> dict[str, TrackedRun]:
    """MLflow parent runs by run key (``RunIdentity.key``); missing keys are left out.

    Asked through ``tracking.find_runs``, the one query of the store: a SQLite store that
    does not exist means no runs (nothing is created). Any failure to read the store is
    reported as no runs rather than an error, since the site is still useful without them.
    """
    if not keys or not tracking_uri:
        return {}
    try:
        from landmarkbench.results.tracking import find_runs

        runs = find_runs(tracking_uri, run_keys=list(keys))
    except Exception:  # the store is optional decoration of the site
        return {}
    found: dict[str, TrackedRun] = {}
    for run in runs:
        found.setdefault(run.run_key, run)
    return found


def lookup_run_ids(tracking_uri: str | None, keys: Sequence[str]) -> dict[str, str]:
    """MLflow parent run ids by run key (``lookup_runs``)."""
    return {key: run.run_id for key, run in lookup_runs(tracking_uri, keys).items()}


def split_label(row: Row) -> str:
    """The row's split in words (``plot_common.split_label`` of its first run)."""
    return run_split_label(row.runs[0])


def _conventions_text(row: Row) -> str:
    """The conventions a page's rows share beyond dataset and split."""
    conventions = row.conventions
    parts = [f"ground truth {conventions.ground_truth}"]
    operator = conventions.get("sdr_operator")
    if operator is not None:
        parts.append(f"SDR {operator}")
        parts.append(str(conventions.get("aggregation", "pooled")))
    version = conventions.get("dataset_version")
    if version is not None:
        parts.append(f"v{version}")
    return ", ".join(parts)


def _parameters(row: Row) -> Cell:
    """Trainable parameters of the row's model (an ensemble's members summed), from the
    fold records; "—" for methods without a network."""
    counts = row.fit_totals("parameters", (int,))
    if not counts:
        return DASH
    value = max(counts)
    text = f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value / 1e3:.1f} k"
    return Cell(text, (("", float(value)),))


def _runs_cell(row: Row, tracked: Mapping[str, TrackedRun], ui_url: str | None) -> Cell:
    """The row's MLflow parent runs: links into the UI when ``ui_url`` is known, else ids."""
    from landmarkbench.results.tracking import run_page_url

    links = []
    for run in row.runs:
        found = tracked.get(run.identity.key)
        if found is None:
            links.append((DASH.text, ""))
        else:
            href = run_page_url(ui_url, found) if ui_url else ""
            links.append((found.run_id if not href else f"seed {run.identity.seed}", href))
    text = " ".join(t for t, _ in links)
    return Cell(text, (("", text),), links=tuple(links))


def _experiment_cell(row: Row, out_dir: Path) -> Cell:
    """Links to each run's resolved experiment file, copied into the site."""
    links = []
    for run in row.runs:
        source = run.run_dir / EXPERIMENT_FILE
        if not source.is_file():
            links.append((DASH.text, ""))
            continue
        target = Path("experiments") / f"{slug(run.identity.key)}.yaml"
        (out_dir / target).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(out_dir / target, source.read_text(encoding="utf-8"))
        links.append((f"seed {run.identity.seed}", target.as_posix()))
    text = " ".join(t for t, _ in links)
    return Cell(text, (("", text),), links=tuple(links))


def _literature_value(cells: Sequence[Cell]) -> float:
    cell = cells[len(FIXED_COLUMNS)]
    value = cell.values[0][1] if cell.values else float("nan")
    return float(value) if isinstance(value, (int, float)) else float("nan")


def ranked_table(
    dataset: str,
    ranked: Sequence[Ranked],
    tracked: Mapping[str, TrackedRun],
    ui_url: str | None,
    out_dir: Path,
    bootstrap: int | None,
    seed: int | None,
    human: tuple[Sequence[InterObserverRow], Sequence[str]] = ((), ()),
) -> tuple[Table, list[str]]:
    """A page's comparison table in rank order, the inter-observer rows (``human``: rows and
    footnotes of ``tables.human_baseline``) and literature rows placed by value, and the
    class of each row (``human`` and ``literature`` for those)."""
    rows = [r.row for r in ranked]
    first = rows[0]
    literature = [p for p in literature_rows(dataset) if p.protocol == first.split_protocol]
    table = section_table(rows, literature, f"Dataset {dataset}", bootstrap, seed, *human)
    n_human = len(table.rows) - len(rows) - len(merged(literature))
    ours = table.rows[: len(rows)]
    extra = ["Recipe", "Parameters", "MLflow run", "Experiment"]
    body: list[list[Cell]] = []
    for item, cells in zip(ranked, ours, strict=True):
        recipe = (item.row.record.get("method") or {}).get("recipe") or "—"
        body.append(
            [
                Cell(item.text, (("", float(item.rank or 0) or float("nan")),)),
                *cells,
                Cell.plain(recipe),
                _parameters(item.row),
                _runs_cell(item.row, tracked, ui_url),
                _experiment_cell(item.row, out_dir),
            ]
        )
    classes = [""] * len(body)
    higher = evaluation_for(first.multi_instance).primary.higher_is_better
    n_ranked = sum(r.rank is not None for r in ranked)
    for index, cells in enumerate(table.rows[len(rows) :]):
        kind = "human" if index < n_human else "literature"
        value = _literature_value(cells)
        at = n_ranked
        for i in range(n_ranked):
            mine = ours[i][len(FIXED_COLUMNS)].values[0][1]
            if value == value and (value > mine if higher else value < mine):
                at = i
                break
        mark = Cell("human" if kind == "human" else "lit.", (("", float("nan")),))
        body.insert(at, [mark, *cells, DASH, DASH, DASH, DASH])
        classes.insert(at, kind)
        ours.insert(at, cells)
        n_ranked += 1
    metric = evaluation_for(first.multi_instance).primary.header
    ranked_view = Table(
        caption=table.caption,
        header=["Rank", *table.header, *extra],
        rows=body,
        footnotes=[
            RANK_NOTE.format(metric=metric),
            *([HUMAN_RANK_NOTE] if n_human else []),
            *table.footnotes,
        ],
        numeric_from=1 + len(FIXED_COLUMNS),
    )
    return ranked_view, classes


HUMAN_RANK_NOTE = (
    "human: an inter-observer row (the dataset's annotators scored against each other or "
    "the ground truth), placed by value but never ranked."
)


def _newest(rows: Sequence[Row]) -> str:
    stamp, label = max(
        (run.summary_path.stat().st_mtime, f"{run.name} seed {run.identity.seed}")
        for row in rows
        for run in row.runs
    )
    return f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(stamp))} ({label})"


def _headline(item: Ranked) -> str:
    if item.row.multi_instance:
        return f"F1 {item.value:.2f} %"
    interval = "" if item.low != item.low else f" [{item.low:.2f}, {item.high:.2f}]"
    return f"MRE {item.value:.2f} mm{interval}"


def _dataset_page(
    dataset: str,
    section: Sequence[Row],
    tracked: Mapping[str, TrackedRun],
    ui_url: str | None,
    out_dir: Path,
    bootstrap: int | None,
    seed: int | None,
) -> tuple[str, list[Ranked]]:
    first = section[0]
    shown = comparison_rows(section)  # hdr runs repeat their plain runs' predictions
    ranked = rank_rows(shown, bootstrap, seed)
    human = human_baseline(section)
    table, classes = ranked_table(dataset, ranked, tracked, ui_url, out_dir, bootstrap, seed, human)
    parts = [
        '<p><a href="index.html">← all datasets</a></p>',
        f"<h1>{html.escape(dataset)}: {html.escape(split_label(first))} "
        f'<small class="hash">{html.escape(first.protocol)}</small></h1>',
        f'<p class="conventions">Conventions shared by every row: '
        f"{html.escape(first.conventions.describe())}.</p>",
        "<h2>Ranking</h2>",
    ]
    found = [
        tracked[run.identity.key]
        for row in shown
        for run in row.runs
        if run.identity.key in tracked
    ]
    if ui_url and found:
        from landmarkbench.results.tracking import compare_runs_url

        parts.append(
            f'<p><a class="compare" href="{html.escape(compare_runs_url(ui_url, found))}">'
            f"Compare these {len(found)} runs in MLflow</a> (params and metrics side by side; "
            f"the MLflow UI at {html.escape(ui_url)} must be running).</p>"
        )
    parts.append(table_html(table, css="leaderboard", row_classes=classes))
    if not first.multi_instance:
        try:
            breakdown = per_landmark_table([r.row for r in ranked], f"Dataset {dataset}", human[0])
        except (ResultsError, ValueError, AttributeError) as error:
            parts += ["<h2>Per-landmark MRE</h2>", f"<p>{html.escape(str(error))}</p>"]
        else:
            parts += ["<h2>Per-landmark MRE</h2>", table_html(breakdown, css="per-landmark")]
    regions = conformal_table(section, f"Dataset {dataset}")
    if regions is not None:
        parts += ["<h2>Prediction regions</h2>", table_html(regions, css="regions")]
        per_landmark = conformal_per_landmark_table(section, f"Dataset {dataset}")
        if per_landmark is not None:
            parts.append(table_html(per_landmark, css="regions-per-landmark"))
    radii = first.conventions.get("sdr_radii_mm", [])
    parts += [
        "<h2>SDR curves</h2>",
        '<p class="note">Share of landmarks within each radius, pooled over the folds '
        "(seed mean of each error), counted as in the table: missing landmarks are neither "
        "hits nor misses, and their number is given beside the method. Dotted lines: the "
        "table's radii.</p>",
        sdr_svg(sdr_curves([r.row for r in ranked]), marks=radii),
    ]
    title = f"{dataset} {first.protocol} leaderboard"
    return page(title, "\n".join(parts)), ranked


_INDEX_COLUMNS = (
    ("Dataset", "text"),
    ("Split", "text"),
    ("Conventions", "text"),
    ("Best method", "text"),
    ("Headline", "num"),
    ("Methods", "num"),
    ("Newest run", "text"),
)


def _index_page(pages: Sequence[SitePage], notes: Sequence[str]) -> str:
    by_dataset: dict[str, list[SitePage]] = defaultdict(list)
    for item in pages:
        by_dataset[item.dataset].append(item)
    parts = ["<h1>landmarkbench leaderboard</h1>"]
    if not pages:
        parts.append("<p>No complete results found.</p>")
    parts.append('<table class="sortable index"><thead><tr>')
    parts += [f'<th data-kind="{k}">{h}</th>' for h, k in _INDEX_COLUMNS]
    parts.append("</tr></thead><tbody>")
    for dataset, group in sorted(by_dataset.items()):
        for item in group:
            cells = [
                (dataset, html.escape(dataset)),
                (
                    item.split_label,
                    f'<a href="{html.escape(item.path)}">{html.escape(item.split_label)}</a> '
                    f'<small class="hash">{html.escape(item.split_id)}</small>',
                ),
                (item.conventions, html.escape(item.conventions)),
                (item.best, html.escape(item.best) if item.best else "none ranked (all ⚠)"),
                (item.headline.split(" ")[1] if item.headline else "", html.escape(item.headline)),
                (str(item.n_methods), str(item.n_methods)),
                (item.newest, html.escape(item.newest)),
            ]
            parts.append(
                "<tr>"
                + "".join(f'<td data-sort="{html.escape(k)}">{v}</td>' for k, v in cells)
                + "</tr>"
            )
    parts.append("</tbody></table>")
    parts.append(
        '<p class="note">Best method: rank 1 of the page (lowest pooled MRE, or highest F1; '
        "never a ⚠ row); Headline: its value with the 95 % bootstrap interval.</p>"
    )
    parts += [f'<p class="note">note: {html.escape(n)}</p>' for n in notes]
    return page("landmarkbench leaderboard", "\n".join(parts))


def _read(
    results_dir: Path, names: Sequence[str], notes: list[str]
) -> list[tuple[str, list[StoredRun]]]:
    found = []
    for dataset in names:
        try:
            runs, left_out = read_runs(results_dir, dataset)
        except ResultsError as error:
            notes.append(str(error))
            continue
        notes += left_out
        found.append((dataset, runs))
    return found


def build_site(
    results_dir: Path,
    out_dir: Path,
    *,
    datasets: Sequence[str] = (),
    tracking_uri: str | None = None,
    bootstrap: int | None = None,
    seed: int | None = None,
    selection: RunSelection | None = None,
    mlflow_url: str | None = None,
) -> tuple[list[SitePage], list[str]]:
    """Write the static site into ``out_dir``: ``index.html`` and one page per dataset and
    convention key (rows of different conventions never share a page).

    Args:
        results_dir: The results root (``<dataset>/<split>/<method>__<hash>/seed_<s>``).
        out_dir: Where to write the site (created).
        datasets: Datasets to include (default: every dataset with stored summaries).
        tracking_uri: MLflow store to take the runs from (absent: shown as "—").
        bootstrap: Bootstrap resamples for the CI of the pooled MRE (0: none; None: the one
            setting of ``tables.bootstrap_setting``, as ``table`` uses).
        seed: Seed of the bootstrap (None: the same setting's).
        selection: The runs shown (default: all but those tagged ``smoke``).
        mlflow_url: Address of the MLflow UI (e.g. http://127.0.0.1:5000) the run ids link
            to; default the tracking URI when it is an http(s) server, else no links.

    Returns:
        The pages written and notes about runs, files or datasets left out.

    Raises:
        UsageError: for a ``selection`` value matching no stored run.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    if selection is None:
        selection = RunSelection(exclude_tags=LEADERBOARD_EXCLUDED_TAGS)
    if mlflow_url is None and tracking_uri and tracking_uri.startswith(("http://", "https://")):
        mlflow_url = tracking_uri
    names = list(datasets) or datasets_under(results_dir)
    notes: list[str] = []
    stored = _read(results_dir, names, notes)
    every = [run for _, runs in stored for run in runs]
    if every and not selection.empty:
        selection.check(every, f"under '{results_dir}'")
    for tag, count in sorted(selection.left_out(every).items()):
        notes.append(f"left out {count} run(s) tagged {tag} (--exclude-tag none shows every run)")
    found: list[tuple[str, list[Row]]] = []
    for dataset, runs in stored:
        kept = [run for run in runs if selection.keeps(run)]
        found += [(dataset, section) for section in sections(rows_of(kept))]
    keys = [run.identity.key for _, section in found for row in section for run in row.runs]
    tracked = lookup_runs(tracking_uri, keys)
    experiments = out_dir / "experiments"
    if experiments.is_dir():
        shutil.rmtree(experiments)  # copies of the previous build
    pages: list[SitePage] = []
    for dataset, section in found:
        first = section[0]
        name = f"{slug(dataset)}__{slug(first.protocol)}__{first.conventions.key}.html"
        text, ranked = _dataset_page(
            dataset, section, tracked, mlflow_url, out_dir, bootstrap, seed
        )
        write_text_atomically(out_dir / name, text)
        best = ranked[0] if ranked and ranked[0].rank == 1 else None
        pages.append(
            SitePage(
                dataset,
                first.protocol,
                first.split_protocol,
                len(section),
                name,
                _conventions_text(first),
                split_label(first),
                best.row.label(section) if best else "",
                _headline(best) if best else "",
                len({row.method for row in section}),
                _newest(section),
            )
        )
    write_text_atomically(out_dir / "index.html", _index_page(pages, notes))
    return pages, notes
