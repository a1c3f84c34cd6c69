"""``chmr predict``: input columns and row order kept, values equal to the Python API."""

import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from chmr_sklearn.cli import main

from ._helpers import error_line

REPO = Path(__file__).resolve().parents[2]


def test_predictions_keep_the_input_and_equal_the_python_api(regressor_file, molecules, cache_dir, tmp_path,
                                                             capsys):
    frame = molecules[["id", "smiles"]].iloc[::-1]  # another row order than training
    frame.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "preds.csv"
    assert main(["predict", str(regressor_file), str(tmp_path / "in.csv"), "-o", str(out), "--n-jobs", "1",
                 "--cache-dir", str(cache_dir), "-q"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 48 row(s) with activity_pred to {out}"
    preds = pd.read_csv(out, dtype={"id": str})
    assert list(preds.columns) == ["id", "smiles", "activity_pred"]
    assert preds["id"].tolist() == frame["id"].tolist()  # text kept as written ("00123"), same order
    assert preds["smiles"].tolist() == frame["smiles"].tolist()
    python = joblib.load(regressor_file).predict(frame["smiles"].to_numpy(dtype=object)[:12])
    np.testing.assert_allclose(preds["activity_pred"].to_numpy()[:12], python.ravel(), rtol=1e-5)


def test_invalid_smiles_rows_stay_empty_or_are_listed(regressor_file, molecules, tmp_path, capsys):
    frame = molecules[["smiles", "id"]].iloc[:6].copy()
    frame.loc[[1, 4], "smiles"] = ["C1=CC=CN1(C)(C)C(", "xyz"]
    frame.to_csv(tmp_path / "in.tsv", sep="\t", index=False)
    # chunks of 2 rows: the invalid rows fall in the first and the third chunk
    args = ["predict", str(regressor_file), str(tmp_path / "in.tsv"), "-o", str(tmp_path / "p.parquet"), "-q",
            "--chunk-size", "2"]
    assert main(args) == 2
    assert "2 data row(s) [2: 'C1=CC=CN1(C)(C)C(', 5: 'xyz']" in error_line(capsys, "predict")
    assert not (tmp_path / "p.parquet").exists()
    assert main([*args, "--on-invalid", "nan", "--n-jobs", "1"]) == 0
    assert "(2 invalid SMILES left empty)" in capsys.readouterr().out
    preds = pd.read_parquet(tmp_path / "p.parquet")
    assert len(preds) == 6 and preds["activity_pred"].isna().tolist() == [False, True, False, False, True, False]


def test_files_that_are_not_chmr_models(train_csv, tmp_path, capsys):
    (tmp_path / "text.joblib").write_text("not a model\n")
    joblib.dump({"weights": [1, 2]}, tmp_path / "dict.joblib")
    for name, message in [("text.joblib", "is not a chmr model file"), ("dict.joblib", "holds a dict"),
                          ("absent.joblib", "does not exist")]:
        assert main(["predict", str(tmp_path / name), str(train_csv), "-o", str(tmp_path / "p.csv")]) == 2
        assert message in error_line(capsys, "predict")
    assert main(["predict", str(train_csv), str(train_csv), "-o", str(tmp_path / "p.csv")]) == 2
    assert "must end with .joblib" in error_line(capsys, "predict")


def test_missing_column_and_clashing_output(regressor_file, molecules, tmp_path, capsys):
    molecules.rename(columns={"smiles": "SMILES"}).to_csv(tmp_path / "in.csv", index=False)
    assert main(["predict", str(regressor_file), str(tmp_path / "in.csv"), "-o", str(tmp_path / "p.csv")]) == 2
    line = error_line(capsys, "predict")
    assert "no column(s) 'smiles'" in line and "available columns: SMILES, id, activity" in line
    molecules.assign(activity_pred=1.0).to_csv(tmp_path / "in.csv", index=False)
    assert main(["predict", str(regressor_file), str(tmp_path / "in.csv"), "-o", str(tmp_path / "p.csv")]) == 2
    assert "already has the prediction column(s) ['activity_pred']" in error_line(capsys, "predict")
    assert main(["predict", str(regressor_file), str(tmp_path / "in.csv"), "-o", str(tmp_path / "p.xlsx")]) == 2
    assert "must end with one of .csv" in error_line(capsys, "predict")


def test_python_m_chmr_sklearn_in_a_real_process(regressor_file, tmp_path):
    # Exit codes and stderr as a shell sees them. Failing before any model is loaded keeps the
    # child process light; the predictions themselves are checked in-process above.
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "chmr_sklearn"]
    version = subprocess.run([*command, "--version"], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    assert version.returncode == 0 and version.stdout.startswith("chmr_sklearn ")
    bad = subprocess.run([*command, "predict", str(regressor_file), "missing.csv", "-o", "out.csv"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert bad.stderr == "chmr predict: error: input file 'missing.csv' does not exist.\n" and bad.stdout == ""
    assert not (tmp_path / "out.csv").exists()


def test_predict_streams_in_chunks_and_never_reads_the_whole_table(regressor_file, molecules, cache_dir, tmp_path,
                                                                   monkeypatch, capsys):
    # Bounded memory, checked structurally: the table is never read whole (read_table is not
    # called), every prediction sees at most one chunk, and a glob's two files go to one output.
    from chmr_sklearn.cli import _common
    from chmr_sklearn.streaming import _jobs

    def whole_table(*args, **kwargs):
        raise AssertionError("chmr predict read the whole input table")

    sizes = []
    original = _jobs.PredictJob.compute

    def recording(self, table, smiles_col):
        sizes.append(table.num_rows)
        return original(self, table, smiles_col)

    monkeypatch.setattr(_common, "read_table", whole_table)
    monkeypatch.setattr(_jobs.PredictJob, "compute", recording)
    frame = molecules[["id", "smiles"]]
    frame.iloc[:30].to_csv(tmp_path / "part1.csv", index=False)
    frame.iloc[30:].to_csv(tmp_path / "part2.csv", index=False)
    out = tmp_path / "preds.parquet"
    args = ["predict", str(regressor_file), str(tmp_path / "part*.csv"), "-o", str(out), "--chunk-size", "8",
            "--n-jobs", "1", "--cache-dir", str(cache_dir), "-q"]
    assert main(args) == 0
    assert sizes == [8, 8, 8, 6, 8, 8, 2]  # 30 rows then 18, in chunks of 8
    preds = pd.read_parquet(out)
    assert preds["id"].tolist() == frame["id"].tolist()
    python = joblib.load(regressor_file).predict(frame["smiles"].to_numpy(dtype=object))
    np.testing.assert_allclose(preds["activity_pred"].to_numpy(), python.ravel(), rtol=1e-5)
    capsys.readouterr()

    # Interrupted after 3 chunks: the rerun predicts only the 4 chunks left.
    sizes.clear()

    def interrupted(self, table, smiles_col):
        if len(sizes) == 3:
            raise KeyboardInterrupt
        sizes.append(table.num_rows)
        return original(self, table, smiles_col)

    monkeypatch.setattr(_jobs.PredictJob, "compute", interrupted)
    out2 = tmp_path / "preds2.parquet"
    args[args.index("-o") + 1] = str(out2)
    assert main(args) == 130
    monkeypatch.setattr(_jobs.PredictJob, "compute", recording)
    sizes.clear()
    assert main(args) == 0
    assert sizes == [6, 8, 8, 2]
    assert pd.read_parquet(out2).equals(preds)
