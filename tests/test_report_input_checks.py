"""Bad inputs to ``table``, ``leaderboard``, ``plot`` and ``regress`` get one sentence.

Each case: exit code 1 or 2, an ``error:`` line naming the value or the file, never
"internal error". Damaged stored files are named (and, where other runs remain, skipped with a
note rather than stopping the command). The run/validate rows are in
``test_run_input_checks.py`` and the fetch rows in ``test_download.py``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from landmarkbench.cli.main import main

RUN = ["run", "--method", "mean_shape", "--folds", "2", "--no-progress"]
RUN += ["--data-option", "n_cases=8", "--data-option", "image_shape=64,48"]
BASELINE = Path(__file__).resolve().parents[1] / "results" / "baselines" / "ci_tiny.json"


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with results/ and mlflow.db of one tiny mean_shape run."""
    root = tmp_path_factory.mktemp("stored")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert main(RUN) in (0, None)
    return root


def _only(folder: Path, pattern: str) -> Path:
    (found,) = sorted(folder.rglob(pattern))
    return found


def _corrupt_summary(root: Path) -> str:
    path = _only(root / "results", "summary_*.json")
    path.write_text("{ not json")
    return path.name


def _summary_without_identity(root: Path) -> str:
    path = _only(root / "results", "summary_*.json")
    data = json.loads(path.read_text())
    del data["identity"]
    path.write_text(json.dumps(data))
    return path.name


def _corrupt_fold_json(root: Path) -> str:
    path = sorted((root / "results").rglob("fold.json"))[0]
    path.write_text("[1, 2")
    return "fold.json"


def _predictions(root: Path) -> Path:
    return sorted((root / "results").rglob("predictions.csv"))[0]


def _corrupt_predictions(root: Path) -> str:
    _predictions(root).write_text("case_id,landmark\nnot,a,table\n")
    return "predictions.csv"


def _duplicated_prediction_row(root: Path) -> str:
    path = _predictions(root)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n")
    return "predictions.csv"


def _missing_prediction_row(root: Path) -> str:
    path = _predictions(root)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    return "predictions.csv"


def _results_is_a_file(root: Path) -> str:
    shutil.rmtree(root / "results")
    (root / "results").write_text("not a folder")
    return "results"


def _no_results(root: Path) -> str:
    shutil.rmtree(root / "results")
    (root / "results").mkdir()
    return "results"


STORED_DAMAGE: list[tuple[str, Callable[[Path], str]]] = [
    ("corrupt-summary", _corrupt_summary),
    ("summary-without-identity", _summary_without_identity),
    ("corrupt-fold-json", _corrupt_fold_json),
    ("corrupt-predictions", _corrupt_predictions),
    ("duplicated-prediction-row", _duplicated_prediction_row),
    ("missing-prediction-row", _missing_prediction_row),
    ("results-is-a-file", _results_is_a_file),
    ("no-results", _no_results),
]

COMMANDS = {
    "table": ["table", "--dataset", "synthetic_ceph", "--bootstrap", "0"],
    "leaderboard": ["leaderboard", "--out", "site", "--bootstrap", "0"],
    "plot": ["plot", "--dataset", "synthetic_ceph", "--out", "plots", "--kind", "sdr"],
}


def _refused(capsys: pytest.CaptureFixture[str], code: int | None, words: list[str]) -> None:
    out = capsys.readouterr()
    message = out.err.strip().splitlines()[-1] if out.err.strip() else ""
    assert code in (1, 2), (code, out)
    assert message.lower().startswith("error: "), out
    assert "internal error" not in (out.err + out.out).lower(), out
    for word in words:
        assert word in out.err, out.err


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", [pytest.param(fn, id=name) for name, fn in STORED_DAMAGE])
def test_damaged_stored_runs_are_named(
    stored: Path, tmp_path: Path, monkeypatch, capsys, command: str, damage
) -> None:
    root = tmp_path / "copy"
    shutil.copytree(stored, root)
    named = damage(root)
    monkeypatch.chdir(root)
    code = main(COMMANDS[command])
    _refused(capsys, code, [named])


@pytest.fixture
def two_runs(stored: Path, tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(stored, root)
    monkeypatch.chdir(root)
    assert main([*RUN, "--seed", "1"]) in (0, None)
    return root


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_damaged_run_is_skipped_with_a_note(two_runs: Path, capsys, command: str) -> None:
    path = sorted((two_runs / "results").rglob("summary_*.json"))[0]
    path.write_text("{ not json")
    capsys.readouterr()
    assert main(COMMANDS[command]) in (0, None)
    out = capsys.readouterr()
    assert path.name in out.err + out.out and "internal error" not in out.err.lower()


def _baseline(tmp_path: Path, change: Callable[[dict], None] | None, text: str | None = None):
    path = tmp_path / "baseline.json"
    if text is not None:
        path.write_text(text)
        return path
    data = json.loads(BASELINE.read_text())
    if change is not None:
        change(data)
    path.write_text(json.dumps(data))
    return path


def _set_case(value) -> Callable[[dict], None]:
    def change(data: dict) -> None:
        errors = data["per_seed"]["0"]["point_errors_mm"]
        errors["case_000"][0] = value

    return change


def _drop_spec(data: dict) -> None:
    del data["spec"]


def _old_format(data: dict) -> None:
    data["format"] = "landmarkbench-regression-baseline/1"


def _unknown_method(data: dict) -> None:
    data["spec"]["method"] = "no_such_method"


REGRESS_CASES = [
    ("missing-file", None, "", ["nowhere.json"], ["--baseline", "nowhere.json"]),
    ("not-json", None, "{ not json", ["baseline.json"], []),
    ("empty-object", None, "{}", ["baseline.json"], []),
    ("nan-error", _set_case(float("nan")), None, ["baseline.json"], []),
    ("null-error", _set_case(None), None, ["baseline.json"], []),
    ("text-error", _set_case("abc"), None, ["baseline.json"], []),
    ("negative-error", _set_case(-1.0), None, ["baseline.json"], []),
    ("no-spec", _drop_spec, None, ["baseline.json"], []),
    ("old-format", _old_format, None, ["--update"], []),
    ("unknown-method", _unknown_method, None, ["no_such_method"], []),
    ("tolerance-negative", None, None, ["-1"], ["--tolerance", "-1"]),
]


@pytest.mark.parametrize(
    ("change", "text", "words", "argv"),
    [pytest.param(*case[1:], id=case[0]) for case in REGRESS_CASES],
)
def test_regress_refuses_bad_baselines(
    tmp_path: Path, monkeypatch, capsys, change, text, words, argv
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _baseline(tmp_path, change, text)
    args = argv if "--baseline" in argv else ["--baseline", str(path), *argv]
    results = tmp_path / "results"
    code = main(["regress", *args, "--results-dir", str(results)])
    _refused(capsys, code, words)
    assert not results.exists() or not any(results.rglob("fold_*"))
