"""The regression gate: bootstrap rule, baseline files, and the CLI on tiny runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.cli.main import cli, main
from landmarkbench.cli.regress_cmd import regress_command
from landmarkbench.regression_gate import ImageErrors, compare

if "regress" not in cli.commands:  # registered in main.py by the package owner
    cli.add_command(regress_command)

TINY_SPEC = [
    "--data-option",
    "n_cases=12",
    "--data-option",
    "image_shape=64,48",
    "--folds",
    "2",
]
TINY_NET = ["--set", "max_epochs=3", "--set", "channels=4,8", "--set", "augment=false"]


def _errors(values: np.ndarray) -> ImageErrors:
    ids = [f"case{i:03d}" for i in range(len(values))]
    return ImageErrors(dict(zip(ids, map(float, values), strict=True)), dict.fromkeys(ids, 19))


def test_paired_rule_flags_a_real_rise_only() -> None:
    rng = np.random.default_rng(1)
    base = rng.gamma(4.0, 0.5, size=40)
    same = compare(_errors(base), _errors(base), tolerance=0.0)
    assert not same.regressed and same.paired and same.difference_ci == (0.0, 0.0)
    worse = compare(_errors(base), _errors(base + 0.8 + rng.normal(0, 0.1, 40)), 0.0)
    assert worse.regressed
    assert worse.difference_ci[0] > 0.5
    assert "rose from" in worse.sentence() and "--update" in worse.sentence()
    # A rise inside the tolerance passes.
    assert not compare(_errors(base), _errors(base + 0.05), tolerance=0.1).regressed
    # Noise that goes both ways is not a regression.
    noisy = compare(_errors(base), _errors(base + rng.normal(0, 0.3, 40)), 0.0)
    assert not noisy.regressed


def test_unpaired_rule_needs_separated_intervals() -> None:
    base = _errors(np.linspace(1.0, 3.0, 30))
    other = ImageErrors(
        {f"x{i}": v + 0.1 for i, v in enumerate(base.mre_mm.values())},
        {f"x{i}": 19 for i in range(30)},
    )
    assert not compare(base, other, 0.0).regressed
    far = ImageErrors({k: v + 3.0 for k, v in other.mre_mm.items()}, other.landmarks)
    verdict = compare(base, far, 0.0)
    assert verdict.regressed and not verdict.paired
    assert "unpaired" in verdict.sentence()


def _shift_mean_shape(monkeypatch: pytest.MonkeyPatch, pixels: float) -> None:
    from landmarkbench.methods.mean_shape import MeanShape

    original = MeanShape.predict
    monkeypatch.setattr(MeanShape, "predict", lambda self, cases: original(self, cases) + pixels)


def test_cli_passes_on_its_baseline_and_fails_on_a_planted_regression(
    workdir: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = workdir / "baselines" / "tiny.json"
    update = ["regress", "--baseline", str(path), "--update", "--method", "mean_shape"]
    assert main([*update, *TINY_SPEC]) == 0
    stored = json.loads(path.read_text())
    assert stored["spec"]["method"] == "mean_shape"
    assert stored["spec"]["dataset_options"] == {"n_cases": "12", "image_shape": "64,48"}
    assert len(stored["per_image_mre_mm"]) == 12
    low, high = stored["mre_ci95_mm"]
    assert low <= stored["pooled_mre_mm"] <= high
    assert stored["code_version"]
    assert not (workdir / "results").exists() and not (workdir / "mlflow.db").exists()
    capsys.readouterr()

    assert main(["regress", "--baseline", str(path)]) == 0
    out = capsys.readouterr().out
    assert "no regression" in out and "[0.00, 0.00]" in out

    # A code change that moves every prediction by 3 px is caught.
    _shift_mean_shape(monkeypatch, 3.0)
    assert main(["regress", "--baseline", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Pooled MRE rose from" in err and "rerun with --update" in err
    assert "paired bootstrap 95 % CI of the difference" in err


def test_cli_decoder_swap_is_a_regression(workdir: Path, capsys) -> None:
    path = workdir / "lsa.json"
    spec = [*TINY_SPEC, *TINY_NET]
    update = ["regress", "--baseline", str(path), "--update", "--method", "local_soft_argmax"]
    assert main([*update, *spec]) == 0
    capsys.readouterr()
    assert main(["regress", "--baseline", str(path), "--method", "argmax"]) == 1
    captured = capsys.readouterr()
    assert "the spec differs from the baseline's" in captured.out
    assert "accuracy regressed" in captured.err


def test_bad_baselines_exit_2_with_a_sentence(workdir: Path, capsys) -> None:
    missing = workdir / "missing.json"
    assert main(["regress", "--baseline", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["regress", "--baseline", str(missing), "--update"]) == 2
    assert "name the spec" in capsys.readouterr().err

    broken = workdir / "broken.json"
    broken.write_text("{not json")
    assert main(["regress", "--baseline", str(broken)]) == 2
    assert "not valid JSON" in capsys.readouterr().err

    unknown = workdir / "unknown.json"
    unknown.write_text(json.dumps({"format": "x", "surprise": 1}))
    assert main(["regress", "--baseline", str(unknown)]) == 2
    assert "unknown top-level key(s) ['surprise']" in capsys.readouterr().err

    assert main(["regress", "--baseline", str(broken), "--tolerance", "-1"]) == 2
    assert "--tolerance" in capsys.readouterr().err
