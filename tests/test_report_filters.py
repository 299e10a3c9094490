"""Issue 14 on stored fake runs (2 datasets, 2 splits, 2 ground truths, 5 methods, one
tagged smoke): filters of table/leaderboard, the compact table, the ranked leaderboard and
its MLflow links, distinct MLflow run names, and tags that never change a run's folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import TINY_DATA
from report_fakes import METHODS, acceptance_results, kfold, log_parents, store

from landmarkbench.cli.main import main
from landmarkbench.report.leaderboard import build_site

UI = "http://127.0.0.1:5000"


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("issue14")
    stored = acceptance_results(root / "results")
    log_parents(root / "mlflow.db", stored)
    return root


def _rows(out: str) -> list[str]:
    return [
        line.split(" | ")[0].removeprefix("| ")
        for line in out.splitlines()
        if line.startswith("| ") and not line.startswith("| Method")
    ]


def test_table_filters_by_method_and_ground_truth(accepted: Path, capsys) -> None:
    base = ["table", "--results-dir", str(accepted / "results"), "--bootstrap", "0"]
    assert main([*base, "--method", "good_net,ok_net", "--gt", "mean"]) == 0
    out = capsys.readouterr().out
    assert sorted(set(_rows(out))) == ["good_net (cpu)", "ok_net"]
    captions = [line for line in out.splitlines() if line.startswith("Dataset synthetic_ceph;")]
    flat = " ".join(out.split())  # captions are wrapped
    assert len(captions) == 2 and flat.count("ground truth mean") == 2
    assert "annotator1" not in out
    # the shown name with its recipe selects too; one split by its id prefix; one seed
    split = kfold(12).identity
    assert main([*base, "--method", "good_net (cpu)", "--split", split[:12], "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert _rows(out) == ["good_net (cpu)", "good_net (cpu)"] and split in out
    # tagged runs: shown with their tag, left out by --exclude-tag or --exclude
    assert main([*base, "--gt", "mean", "--split", split]) == 0
    assert "quick_net #smoke" in _rows(capsys.readouterr().out)
    for option in (["--exclude-tag", "smoke"], ["--exclude", "quick_net"]):
        assert main([*base, "--gt", "mean", "--split", split, *option]) == 0
        out = capsys.readouterr().out
        assert len(_rows(out)) == 4 and "quick_net" not in out


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--method", "goodnet", "good_net"),
        ("--gt", "senior", "annotator1"),
        ("--seed", "3", "stored: 0"),
        ("--split", "official", "kfold"),
        ("--exclude", "nothing_like_it", "quick_net"),
    ],
)
def test_a_filter_matching_nothing_is_refused(accepted: Path, capsys, option, value, named):
    args = ["table", "--results-dir", str(accepted / "results"), option, value]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{option} {value} matches no stored run" in err and named in err
    assert err.count(". ") <= 1  # one sentence (plus the prefix)


def test_compact_table_fits_120_columns_and_wide_stays(accepted: Path, capsys) -> None:
    base = ["table", "--results-dir", str(accepted / "results"), "--gt", "mean"]
    assert main([*base, "--split", kfold(30).identity, "--bootstrap", "100"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 120
    header = next(line for line in out.splitlines() if line.startswith("| Method"))
    # every run of the fixture has seed 0: the compact form names it once instead of a column
    assert header.startswith("| Method | MRE (folds) | Pooled MRE [95% CI] | SDR 2 |")
    assert "Seeds: 0 (every row of ours)." in out
    assert "Train min/model" in header and "Units: MRE, Pooled MRE in mm" in out
    assert main([*base, "--split", kfold(30).identity, "--bootstrap", "100", "--wide"]) == 0
    wide = capsys.readouterr().out
    assert "| Method | Protocol | Seeds | Source | Ground truth |" in wide
    assert "| good_net (cpu) | kfold-" in wide


def _page_rows(page: str) -> list[tuple[str, str]]:
    """(rank, method) of every row of the ranking table, in page order."""
    table = page.split('class="sortable leaderboard"')[1].split("</table>")[0]
    found = re.findall(r"<tr[^>]*>\s*<td[^>]*>([^<]*)</td><td[^>]*>(?:<strong>)?([^<]*)", table)
    return [(rank, name) for rank, name in found]


def test_leaderboard_index_ranks_links_and_smoke(accepted: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    args = ["leaderboard", "--out", str(out), "--results-dir", str(accepted / "results")]
    args += ["--tracking-uri", str(accepted / "mlflow.db"), "--mlflow-url", UI]
    assert main([*args, "--bootstrap", "200"]) == 0
    index = (out / "index.html").read_text()
    pages = sorted(p for p in out.glob("*.html") if p.name != "index.html")
    assert len(pages) == 5  # ceph: 2 splits x 2 ground truths; ct: 1
    # the index: best method per group with its headline, readable split labels, smoke left out
    assert index.count('<td data-sort="good_net (cpu)">good_net (cpu)</td>') == 5
    assert "kfold, 3 folds, 30 cases, gt annotator1" in index and "12 cases" in index
    assert "quick_net" not in index and "left out 5 run(s) tagged smoke" in index
    assert re.search(r"MRE 0\.\d\d mm \[0\.\d\d, 0\.\d\d\]", index)
    for path in pages:
        page = path.read_text()
        rows = _page_rows(page)  # ok_net and twin_net (1.6 vs 1.62 mm) tie, in either order
        assert [rank for rank, _ in rows] == ["1", "2", "=2", "4"], rows
        names = [name for _, name in rows]
        assert names[0] == "good_net (cpu)" and names[3] == "mean_shape"
        assert set(names[1:3]) == {"ok_net", "twin_net"}
        links = re.findall(r'<a href="([^"]+)">seed 0</a>', page)
        mlflow = [link for link in links if not link.startswith("experiments/")]
        assert len(mlflow) == 4 and all(link.startswith(f"{UI}/#/experiments/") for link in mlflow)
        assert all((out / link).is_file() for link in links if link.startswith("experiments/"))
        assert f'class="compare" href="{UI}/#/compare-runs?runs=' in page
        assert ">123.5 k</td>" in page and ">cpu</td>" in page  # parameters, recipe
    # the SDR axis ends at the largest radius plus 25 % (4 mm -> 5 mm)
    assert ">5</text>" in pages[0].read_text() and ">50</text>" not in pages[0].read_text()
    # --exclude-tag none shows the smoke run, ranked first on its numbers
    assert main([*args, "--bootstrap", "0", "--exclude-tag", "none"]) == 0
    page = next(p for p in out.glob("synthetic_ct*.html")).read_text()
    assert _page_rows(page)[0] == ("1", "quick_net #smoke")


def test_literature_rows_sit_in_the_ranked_view_unranked(tmp_path: Path) -> None:
    from landmarkbench.protocols.split import Fold, Split

    ids = [f"{i:03d}" for i in range(1, 41)]
    split = Split(
        "official",
        {"test_sets": ["test1", "test2"]},
        (Fold(0, "test1", tuple(ids[:10]), tuple(ids[10:25])),
         Fold(1, "test2", tuple(ids[:10]), tuple(ids[25:]))),
    )  # fmt: skip
    for method, config, scale, recipe, _ in METHODS[:2]:
        store(tmp_path, "isbi2015", split, method, config, scale * 1.5, recipe, gt="senior")
    pages, _ = build_site(tmp_path, tmp_path / "site", bootstrap=0)
    rows = _page_rows((tmp_path / "site" / pages[0].path).read_text())
    assert [r for r, _ in rows if r != "lit."] == ["1", "2"]
    literature = [name for rank, name in rows if rank == "lit."]
    assert "RFRV-CLM" in literature and len(literature) >= 2


def test_mlflow_names_tell_same_method_and_seed_apart(accepted: Path, tmp_path: Path) -> None:
    from landmarkbench.results.tracking import DESCRIPTION_TAG, find_runs

    parents = find_runs(str(accepted / "mlflow.db"), "synthetic_ceph")
    names = [run.name for run in parents]
    assert len(names) == 20 and len(set(names)) == 20
    good = [n for n in names if n.startswith("good_net (cpu) seed 0")]
    # what differs between the four: config (the ground truth is hashed), split, ground truth
    # and the dataset's options (30 or 12 cases)
    pattern = r"good_net \(cpu\) seed 0 \[cfg \w{6}, split kfold-\w{10}, gt (mean|annotator1)"
    pattern += r", data n_cases=(30|12)\]"
    assert len(good) == 4 and all(re.fullmatch(pattern, n) for n in good), good
    assert any(n.startswith("quick_net seed 0 #smoke [") for n in names)
    sentence = parents[0].tags[DESCRIPTION_TAG]
    assert "training seed 0, on synthetic_ceph v1" in sentence and "kfold protocol" in sentence
    # the same method and seed under other settings (another config): another name
    split = kfold(12)
    first = store(tmp_path / "r", "synthetic_ceph", split, "net", "1111aaaa", 1.0)
    second = store(tmp_path / "r", "synthetic_ceph", split, "net", "2222bbbb", 1.0)
    log_parents(tmp_path / "m.db", [first])
    [alone] = find_runs(str(tmp_path / "m.db"))
    assert alone.name == "net seed 0"
    log_parents(tmp_path / "m.db", [second])
    assert sorted(r.name for r in find_runs(str(tmp_path / "m.db"))) == [
        "net seed 0 [cfg 1111aa]",
        "net seed 0 [cfg 2222bb]",
    ]


def test_a_tag_changes_neither_folder_nor_hash(workdir: Path, capsys) -> None:
    run = ["run", "--method", "mean_shape", "--folds", "2", "--no-progress", *TINY_DATA]
    assert main(run) == 0
    before = sorted(p.relative_to(workdir) for p in workdir.glob("results/*/*/*/seed_0"))
    assert main([*run, "--tag", "smoke"]) == 0
    out = capsys.readouterr().out
    after = sorted(p.relative_to(workdir) for p in workdir.glob("results/*/*/*/seed_0"))
    assert before == after and len(after) == 1 and "reused 2 finished fold(s)" in out
    assert "mean_shape #smoke" in out  # the run's table shows the tag
    assert main(["leaderboard", "--out", str(workdir / "site")]) == 1  # only smoke runs
    assert "--exclude-tag none" in capsys.readouterr().err
    assert main(["run", "--method", "mean_shape", "--tag", "two words"]) == 2


@pytest.mark.parametrize(
    ("seeds", "kept"),
    [(("0", "0", "—"), False), (("0, 1, 2", "0, 1, 2", "—"), False), (("0", "0, 1", "—"), True)],
)
def test_compact_form_keeps_the_seeds_column_only_when_rows_differ(seeds, kept) -> None:
    from landmarkbench.report.compact import compact_table
    from landmarkbench.report.formats import Cell, Table

    header = ["Method", "Protocol", "Seeds", "Source", "Ground truth", "MRE mm ↓"]
    names = ("a", "b", "inter-observer: x vs y")
    rows = [
        [Cell.plain(t) for t in (name, "kfold-1", seed, "ours", "mean", "1.00")]
        for name, seed in zip(names, seeds, strict=True)
    ]
    table = compact_table(Table("caption", header, rows, numeric_from=5))
    assert ("Seeds" in table.header) is kept
    assert table.numeric_from == (2 if kept else 1)
    assert [r[-1].text for r in table.rows] == ["1.00"] * 3
    named = [n for n in table.footnotes if n.startswith("Seeds: ")]
    assert named == ([] if kept else [f"Seeds: {seeds[0]} (every row of ours)."])
