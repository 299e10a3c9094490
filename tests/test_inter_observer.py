"""Issue 15, point 3: the human baseline ("inter-observer") rows of datasets with two annotators.

Real runs without training (``mean_shape``) on synthetic_ceph and on the ISBI 2015 fixture;
every expected number is a hand computation from the annotators' coordinates (the cached
arrays, or the fixture's annotation text files read here), in mm with the dataset's spacing,
on the test cases of the stored split.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, TINY_DATA

from landmarkbench.cli.main import main
from landmarkbench.datasets.synthetic.ceph import SyntheticCeph
from landmarkbench.evaluation.metrics import point_error_mm
from landmarkbench.report.inter_observer import inter_observer_rows
from landmarkbench.report.leaderboard import build_site
from landmarkbench.report.tables import (
    collect_rows,
    human_baseline,
    per_landmark_table,
    render_table,
    section_table,
    sections,
)
from landmarkbench.results.store import read_runs

ANNOTATIONS = SHARED / "data/isbi2015-annotations"
N_TINY = 12  # TINY_DATA's n_cases


def _run(*args: str) -> None:
    assert main(["run", "--method", "mean_shape", "--no-progress", *args]) == 0


def _split_tests(results: Path, dataset: str) -> dict[str, list[str]]:
    """Test ids per fold of the one stored split of ``dataset``."""
    (path,) = (results / dataset / "splits").glob("*.json")
    return {f["name"]: list(f["test"]) for f in json.loads(path.read_text())["folds"]}


def _row_cells(table, label: str) -> dict[str, object]:
    """The cells of the row labelled ``label`` by header."""
    (row,) = [r for r in table.rows if r[0].text == label]
    return dict(zip(table.header, row, strict=True))


def _hand_sdr(pe: np.ndarray, radius: float, operator: str) -> float:
    hits = pe <= radius if operator == "<=" else pe < radius
    return 100.0 * float(hits.mean())


@pytest.fixture(scope="module")
def ceph(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two mean_shape rows (two inner-validation shares, so bolding has a choice) under
    ``<=`` and ``<`` with a radius equal to one of the hand-computed inter-observer errors
    (so the two operators must give different numbers)."""
    root = tmp_path_factory.mktemp("ceph")
    cache = tmp_path_factory.getbasetemp() / "lb-cache"
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(root)
    monkeypatch.setenv("LANDMARKBENCH_CACHE", str(cache))
    try:
        dataset = SyntheticCeph(n_cases=N_TINY, image_shape=(64, 48))
        a1 = {c: dataset.load(c).extra["annotator1"] for c in dataset.case_ids()}
        a2 = {c: dataset.load(c).extra["annotator2"] for c in dataset.case_ids()}
        spacing = dataset.spacing_mm
        pe = {c: np.linalg.norm((a2[c] - a1[c]) * spacing, axis=-1) for c in a1}
        # A radius exactly equal to one error as the metrics compute it (a tie).
        exact = {c: point_error_mm(a2[c][None], a1[c][None], np.array([spacing] * 2))[0]
                 for c in a1}  # fmt: skip
        tie = float(np.sort(np.concatenate(list(exact.values())))[N_TINY * 19 // 2])
        radii = f"2,{tie!r}"
        for operator in ("<=", "<"):
            for share in ("0.1", "0.2"):
                _run(*TINY_DATA, "--folds", "3", "--val-fraction", share, "--sdr-radii", radii,
                     "--sdr-operator", operator)  # fmt: skip
    finally:
        monkeypatch.undo()
    return {"root": root, "results": root / "results", "pe": pe, "exact": exact, "tie": tie}


def test_ceph_row_is_the_hand_computed_annotator_distance_on_the_split_test_cases(
    ceph: dict,
) -> None:
    rows, _ = collect_rows(ceph["results"], "synthetic_ceph")
    folds = _split_tests(ceph["results"], "synthetic_ceph")
    assert sorted(c for ids in folds.values() for c in ids) == sorted(ceph["pe"])
    for section in sections(rows):
        human, notes = human_baseline(section)
        assert [h.label for h in human] == [
            "inter-observer: annotator2 vs annotator1",
            "inter-observer: annotator1 vs mean",
            "inter-observer: annotator2 vs mean",
        ]
        pair = human[0]
        assert {f: list(p.case_ids) for f, p in pair.folds.items()} == folds
        operator = section[0].operator
        for fold, ids in folds.items():
            hand = float(np.mean([ceph["pe"][c] for c in ids]))
            assert pair.metrics([fold])["mre"] == pytest.approx(hand, rel=1e-12)
        all_ids = [c for ids in folds.values() for c in ids]
        pe = np.stack([ceph["pe"][c] for c in all_ids])
        metrics = pair.metrics(list(folds))
        assert metrics["mre"] == pytest.approx(pe.mean(), rel=1e-12)
        # Against the mean ground truth each annotator is half the pair's distance away.
        assert human[1].metrics(list(folds))["mre"] == pytest.approx(pe.mean() / 2, rel=1e-9)
        # The section's operator, at a radius one of the errors equals.
        tie, exact = ceph["tie"], np.stack([ceph["exact"][c] for c in all_ids])
        assert metrics["sdr"][str(tie)] == pytest.approx(_hand_sdr(exact, tie, operator))
        assert _hand_sdr(exact, tie, "<=") != _hand_sdr(exact, tie, "<")
        assert f"same {N_TINY} test cases" in notes[0] and section[0].protocol in notes[0]


def test_ceph_table_shows_the_rows_in_each_sections_conventions_never_bold(ceph: dict) -> None:
    rows, _ = collect_rows(ceph["results"], "synthetic_ceph")
    by_operator = {}
    for section in sections(rows):
        assert len(section) == 2  # two mean_shape rows: bolding has a choice
        human, notes = human_baseline(section)
        table = section_table(section, [], "t", 50, 0, human, notes)
        pair = _row_cells(table, "inter-observer: annotator2 vs annotator1")
        operator = section[0].operator
        header = f"SDR{operator}{ceph['tie']} mm % ↑"
        assert header in table.header
        by_operator[operator] = float(pair[header].values[0][1])
        # Better than every method in every column, yet never bold and never tested (†).
        for label in [h.label for h in human]:
            cells = _row_cells(table, label)
            assert not any(c.bold for c in cells.values())
            assert "†" not in cells["Pooled MRE mm ↓ [95% CI]"].text
            assert cells["Source"].text.startswith("human")
        assert any(c.bold for r in table.rows[:2] for c in r)
    assert by_operator["<"] < by_operator["<="]

    # The command prints them in both sections, labelled, with the footnote.
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ceph["root"])
        text = render_table(rows, "markdown", bootstrap=0, compact=True)
    assert text.count("| inter-observer: annotator2 vs annotator1 |") == 2
    assert max(len(line) for line in text.splitlines()) <= 120  # the default run's console form
    assert text.count("Inter-observer rows (the human baseline)") == 2
    assert "**" not in "".join(line for line in text.splitlines() if "inter-observer:" in line)


def test_ceph_per_landmark_columns_are_never_bold(ceph: dict) -> None:
    rows, _ = collect_rows(ceph["results"], "synthetic_ceph")
    section = sections(rows)[0]
    human, _ = human_baseline(section)
    table = per_landmark_table(section, "t", human)
    assert table.header[3:] == [f"{h.label} MRE mm ↓" for h in human]
    assert all(not cell.bold for row in table.rows for cell in row[3:])
    assert any(cell.bold for row in table.rows for cell in row[1:3])
    # The pooled line: the pair's MRE, the hand-computed mean distance.
    hand = np.mean(np.stack(list(ceph["pe"].values())))
    assert table.rows[-1][3].values[0][1] == pytest.approx(hand, rel=1e-12)


def test_leaderboard_places_the_rows_unranked(ceph: dict, tmp_path: Path) -> None:
    pages, _ = build_site(ceph["results"], tmp_path / "site", bootstrap=50)
    assert len(pages) == 2
    for page in pages:
        text = (tmp_path / "site" / page.path).read_text()
        ranked = re.search(r'<table class="sortable leaderboard">.*?</table>', text, re.S)[0]
        human = re.findall(r'<tr class="human">(.*?)</tr>', ranked, re.S)
        assert len(human) == 3
        for row in human:
            assert 'data-sort="">human</td>' in row  # the rank cell: no number
            assert "<strong>" not in row
            assert "inter-observer: " in row
        # Ranks 1 and 2 go to the methods only, although the human rows are better.
        ranks = re.findall(
            r'<tr(?: class="")?><td class="t" data-sort="[^"]*">([^<]*)</td>', ranked
        )
        assert sorted(ranks) == ["1", "2"] or sorted(ranks) == ["1", "=1"]
        assert page.best.startswith("mean_shape")
        assert "placed by value but never ranked" in text


def test_datasets_without_two_annotators_get_no_row(ceph: dict) -> None:
    runs, _ = read_runs(ceph["results"], "synthetic_ceph")
    run = runs[0]
    assert inter_observer_rows(run)[0]  # the same run does get them under its own name
    run.summary["record"]["dataset"]["name"] = "synthetic_ct"
    assert inter_observer_rows(run) == ([], None)
    run.summary["record"]["dataset"]["name"] = "folder"
    assert inter_observer_rows(run) == ([], None)


def _fixture_points(tree: Path, annotator: str, case_id: str) -> np.ndarray:
    """(19, 2) (row, col) pixels read from the fixture's own annotation text file."""
    path = tree / "AnnotationsByMD" / f"400_{annotator}" / f"{case_id}.txt"
    lines = path.read_text().splitlines()[:19]
    xy = np.array([[float(v) for v in line.split(",")] for line in lines])
    return xy[:, ::-1]


@pytest.mark.skipif(not (ANNOTATIONS / "senior.csv").is_file(), reason="annotations absent")
def test_isbi_fixture_official_split_per_test_set(workdir: Path) -> None:
    ids = [f"{i:03d}" for i in (*range(1, 13), *range(151, 157), *range(301, 307))]
    tree = workdir / "isbi"
    from landmarkbench.datasets.isbi2015.adapter import ISBI2015

    ISBI2015.write_fixture(tree, case_ids=ids, annotations_dir=ANNOTATIONS, image_shape=(240, 194))
    common = ["--dataset", "isbi2015", "--data-dir", str(tree), "--protocol", "official"]
    _run(*common)
    _run(*common, "--gt", "senior")
    folds = _split_tests(workdir / "results", "isbi2015")
    assert sorted(folds) == ["test1", "test2"]
    hand = {
        c: np.linalg.norm(
            (_fixture_points(tree, "junior", c) - _fixture_points(tree, "senior", c)) * 0.1,
            axis=-1,
        )
        for c in ids
    }
    rows, _ = collect_rows(workdir / "results", "isbi2015")
    shown = {}
    for section in sections(rows):
        human, notes = human_baseline(section)
        gt = section[0].ground_truth
        table = section_table(section, [], "t", 0, 0, human, notes)
        label = "inter-observer: junior vs senior"
        cells = _row_cells(table, label)
        for name, test_ids in folds.items():
            expected = float(np.mean([hand[c] for c in test_ids]))
            assert float(cells[f"{name} MRE mm ↓ (seeds)"].values[0][1]) == pytest.approx(
                expected, rel=1e-12
            )
        shown[gt] = [h.label for h in human]
    assert shown == {
        "mean": [
            "inter-observer: junior vs senior",
            "inter-observer: senior vs mean",
            "inter-observer: junior vs mean",
        ],
        "senior": ["inter-observer: junior vs senior"],  # the ground truth is an annotator
    }
    text = render_table(rows, "markdown", compact=True, bootstrap=0)
    assert text.count("| inter-observer: junior vs senior |") == 2
