"""landmarkbench export: one zip that predict --model applies in a fresh process without the
training code, reproducing the run's stored predictions in 2D and 3D."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from landmarkbench.cli.main import main
from landmarkbench.datasets.synthetic.ceph import SyntheticCeph
from landmarkbench.datasets.synthetic.ct import SyntheticCT
from landmarkbench.imageio import write_image
from landmarkbench.results.predictions import read_predictions

NET = ["--set", "max_epochs=1", "--set", "channels=4,8", "--set", "augment=false"]
# Runs predict --model in a new interpreter and prints the landmarkbench modules it loaded.
FRESH = """
import json, sys
from landmarkbench.cli.main import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith("landmarkbench"))
print(json.dumps({"code": code, "modules": loaded}))
"""


def _run(base: Path, dataset: str, options: list[str], method: str) -> Path:
    args = ["run", "--dataset", dataset, "--folds", "2", "--no-progress", "--method", method]
    args += ["--results-dir", str(base / "results"), "--tracking-uri", str(base / "ml.db")]
    for option in options:
        args += ["--data-option", option]
    assert main([*args, *NET]) == 0
    (run,) = (base / "results" / dataset).glob(f"*/{method}__*/seed_0")
    return run


def _fresh_predict(args: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", FRESH, "predict", *args, "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _max_difference(out: Path, stored, suffix: str) -> float:
    document = json.loads((out / "landmarks.json").read_text())
    points = {
        i["image"]: np.array([lm["array_index"] for lm in i["landmarks"]])
        for i in document["images"]
    }
    return max(
        float(np.abs(points[f"{case_id}{suffix}"] - stored.predicted[k]).max())
        for k, case_id in enumerate(stored.case_ids)
    )


def _check_exported(run: Path, tmp_path: Path, cases, suffix: str, ndim: int) -> float:
    model = tmp_path / "model.zip"
    assert main(["export", "--run", str(run), "--fold", "0", "--out", str(model),
                 "--tracking-uri", str(run.parents[4] / "ml.db"), "--log-model"]) == 0  # fmt: skip
    with zipfile.ZipFile(model) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        metrics = json.loads(archive.read("metrics.json"))
    assert {"manifest.json", "experiment.yaml", "split.json", "metrics.json",
            "networks/fold_0_member_0.pt2"} == names  # fmt: skip
    summary = json.loads(next(run.glob("summary_*.json")).read_text())
    assert manifest["run"]["split_sha256"] == summary["record"]["protocol"]["split_sha256"]
    assert manifest["ndim"] == ndim and manifest["decoder"]["name"] == "subpixel"
    assert {"resize", "intensity", "axes", "pad_value"} <= set(manifest["preprocessing"])
    assert next(iter(metrics.values()))["pooled"]["mre"] == summary["pooled"]["mre"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{run.parents[4] / 'ml.db'}")
    parents = [
        r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])
        if "landmarkbench.fold" not in r.data.tags
    ]  # fmt: skip
    logged = [a.path for r in parents for a in client.list_artifacts(r.info.run_id, "model")]
    assert logged == ["model/model.zip"]

    images = tmp_path / "images"
    images.mkdir()
    for case in cases:
        write_image(images / f"{case.case_id}{suffix}", case.image, spacing=tuple(case.spacing))
    out = tmp_path / "out"
    result = _fresh_predict(["--model", str(model), str(images), "--out", str(out)])
    assert result["code"] == 0
    loaded = result["modules"]
    assert not [
        m for m in loaded if m.startswith(("landmarkbench.training", "landmarkbench.methods"))
    ]
    stored = read_predictions(run / "fold_0" / "predictions.csv")
    difference = _max_difference(out, stored, suffix)
    assert difference <= 1e-4
    return difference


def test_export_reproduces_the_run_in_2d(tmp_path: Path) -> None:
    run = _run(tmp_path, "synthetic_ceph", ["n_cases=8", "image_shape=64,48"], "subpixel")
    stored = read_predictions(run / "fold_0" / "predictions.csv")
    cases = SyntheticCeph(n_cases=8, image_shape=(64, 48)).load_many(stored.case_ids)
    difference = _check_exported(run, tmp_path, cases, ".npy", 2)
    print(f"2D max coordinate difference {difference:.3g} px")


def test_export_reproduces_the_run_in_3d(tmp_path: Path) -> None:
    run = _run(tmp_path, "synthetic_ct", ["n_cases=6", "image_shape=16,32,32"], "subpixel")
    stored = read_predictions(run / "fold_0" / "predictions.csv")
    cases = SyntheticCT(n_cases=6, image_shape=(16, 32, 32)).load_many(stored.case_ids)
    difference = _check_exported(run, tmp_path, cases, ".nii.gz", 3)
    print(f"3D max coordinate difference {difference:.3g} px")
    # The NIfTI header's spacing gives the mm coordinates.
    document = json.loads((tmp_path / "out" / "landmarks.json").read_text())
    assert document["images"][0]["spacing_mm"] == pytest.approx(list(cases[0].spacing))


def test_a_foreign_file_is_refused_in_one_sentence(tmp_path: Path, capsys) -> None:
    fake = tmp_path / "model.zip"
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("manifest.json", json.dumps({"format": "other"}))
    image = tmp_path / "a.npy"
    np.save(image, np.zeros((8, 8), dtype=np.float32))
    assert main(["predict", "--model", str(fake), str(image), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "is not a landmarkbench model" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()
