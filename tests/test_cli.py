"""CLI exit codes and messages for good and bad input (no training)."""

from __future__ import annotations

import pytest

from landmarkbench.cli.main import main


def test_ls_lists_every_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls"]) == 0
    out = capsys.readouterr().out
    for name in ("synthetic_ceph", "mean_shape", "subpixel", "kfold", "official"):
        assert name in out


def test_ls_one_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "methods"]) == 0
    out = capsys.readouterr().out
    assert "mean_shape" in out and "synthetic_ceph" not in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert lines["one_hot"].endswith("[2D/3D, conformal]")
    assert lines["mean_shape"].endswith("[2D/3D]")
    assert lines["peak_heatmap"].endswith("[2D/3D, multi-instance]")


def test_unknown_dataset_exits_2_with_did_you_mean(workdir, capsys) -> None:
    assert main(["run", "--dataset", "synthetic_cephh"]) == 2
    err = capsys.readouterr().err
    assert "Unknown dataset 'synthetic_cephh'. Did you mean 'synthetic_ceph'" in err
    assert "Traceback" not in err
    assert not (workdir / "results").exists()


def test_unknown_method_exits_2(workdir, capsys) -> None:
    assert main(["run", "--method", "subpixl"]) == 2
    assert "Did you mean 'subpixel'?" in capsys.readouterr().err


def test_one_fold_exits_2_with_reason(workdir, capsys) -> None:
    assert main(["run", "--folds", "1"]) == 2
    err = capsys.readouterr().err
    assert "--folds 1 is not a cross-validation" in err and "at least 2 folds" in err


def test_bad_override_exits_2(workdir, capsys) -> None:
    assert main(["run", "--set", "max_epoch=3"]) == 2
    assert "Did you mean 'max_epochs'?" in capsys.readouterr().err
    assert main(["run", "--set", "max_epochs=many"]) == 2
    assert "is not an integer" in capsys.readouterr().err


def test_bad_dataset_option_exits_2(workdir, capsys) -> None:
    assert main(["run", "--data-option", "n_case=5"]) == 2
    assert "Did you mean 'n_cases'?" in capsys.readouterr().err


def test_bad_sdr_radii_exit_2(workdir, capsys) -> None:
    assert main(["run", "--sdr-radii", "2,x"]) == 2
    assert "--sdr-radii" in capsys.readouterr().err


def test_click_usage_error_exits_2(capsys) -> None:
    assert main(["run", "--folds", "five"]) == 2
    assert main(["nonsense"]) == 2


def test_debug_shows_the_traceback(workdir) -> None:
    from landmarkbench.errors import UnknownNameError

    with pytest.raises(UnknownNameError):
        main(["--debug", "run", "--dataset", "nope"])


def test_table_without_results_exits_1(workdir, capsys) -> None:
    assert main(["table", "--dataset", "synthetic_ceph"]) == 1
    assert "No complete results for dataset 'synthetic_ceph'" in capsys.readouterr().err


def test_help_and_version(capsys) -> None:
    assert main(["--help"]) == 0
    assert "run" in capsys.readouterr().out
    assert main(["--version"]) == 0
