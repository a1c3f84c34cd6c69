"""``chmr fit``: trains the same model as the Python API, multi-target with missing labels."""

import joblib
import numpy as np

from chmr_sklearn import CHMRClassifier, CHMRRegressor
from chmr_sklearn.cli import main

from ._helpers import error_line


def test_regressor_equals_the_python_api(regressor_file, molecules, cache_dir):
    model = joblib.load(regressor_file)
    assert isinstance(model, CHMRRegressor) and model.task_names_ == ["activity"]
    assert (model.max_epochs, model.random_state, model.smiles_col) == (3, 0, "smiles")
    assert any(cache_dir.iterdir()) and model.transformer_.cache_dir is None  # the cache is not saved
    # The same estimator, built and fitted in Python, predicts the same numbers.
    X = molecules["smiles"].to_numpy(dtype=object)
    python = CHMRRegressor(max_epochs=3, random_state=0, n_jobs=1).fit(X, molecules[["activity"]])
    np.testing.assert_allclose(model.predict(X[:10]), python.predict(X[:10]), rtol=1e-6)


def test_multi_target_classifier_with_missing_labels_and_an_invalid_row(molecules, cache_dir, tmp_path, capsys):
    frame = molecules.copy()
    frame.loc[7, "smiles"] = "C1CC(not a molecule"
    frame.to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "sub" / "clf.joblib"  # the folder is created
    code = main(["fit", str(tmp_path / "train.csv"), "--target", "active", "potent", "--task", "classification",
                 "-o", str(out), "--epochs", "2", "--on-invalid", "nan", "--n-jobs", "1", "--cache-dir", str(cache_dir)])
    assert code == 0
    captured = capsys.readouterr()
    assert "trained CHMRClassifier: 2 target(s), 48 labelled row(s) of 48 (rows with invalid SMILES skipped), 2 epoch(s)" in captured.out
    assert "epoch" in captured.out and "train_loss" in captured.out  # skorch's table without --quiet
    model = joblib.load(out)
    assert isinstance(model, CHMRClassifier) and model.task_names_ == ["active", "potent"]
    proba = model.predict_proba(frame["smiles"].to_numpy(dtype=object)[[0, 7, 47]])
    assert proba.shape == (3, 2) and np.isnan(proba[1]).all()
    assert np.isfinite(proba[[0, 2]]).all() and ((proba[[0, 2]] > 0) & (proba[[0, 2]] < 1)).all()


def _fit(path, *extra):
    return main(["fit", str(path), "--task", "regression", "-o", str(path.parent / "m.joblib"), "-q", *extra])


def test_input_errors_are_one_line_with_exit_code_2(molecules, tmp_path, capsys):
    path = tmp_path / "train.csv"
    molecules.to_csv(path, index=False)
    assert _fit(tmp_path / "absent.csv", "--target", "activity") == 2
    assert "does not exist" in error_line(capsys, "fit")
    assert main(["fit", str(path), "--target", "activity", "--task", "regression", "-o", str(tmp_path / "m.pkl")]) == 2
    assert "must end with .joblib" in error_line(capsys, "fit")
    (tmp_path / "train.xlsx").write_bytes(b"PK\x03\x04")
    assert _fit(tmp_path / "train.xlsx", "--target", "activity") == 2
    assert "must end with one of .csv" in error_line(capsys, "fit")
    assert _fit(path, "--target", "pIC50", "activity") == 2
    line = error_line(capsys, "fit")
    assert "no column(s) 'pIC50'" in line and "available columns: smiles, id, activity, active, potent" in line
    assert _fit(path, "--target", "activity", "--smiles-col", "SMILES") == 2
    assert "no column(s) 'SMILES'" in error_line(capsys, "fit")
    molecules.to_csv(tmp_path / "excel.csv", sep=";", index=False)  # a spreadsheet's ';'-separated export
    assert _fit(tmp_path / "excel.csv", "--target", "activity") == 2
    assert "looks split by another separator" in error_line(capsys, "fit")


def test_bad_values_name_their_rows(molecules, tmp_path, capsys):
    frame = molecules.copy()
    frame.loc[[3, 20], "smiles"] = ["not_a_smiles", ""]
    frame["empty"] = np.nan
    frame["text"] = frame["activity"].astype(str)
    frame.loc[11, "text"] = "inactive"
    path = tmp_path / "train.csv"
    frame.to_csv(path, index=False)
    assert _fit(path, "--target", "activity") == 2
    line = error_line(capsys, "fit")
    # 1-based data rows: frame rows 3 and 20 are the 4th and 21st lines after the header
    assert "invalid SMILES in column 'smiles'" in line and "2 data row(s) [4: 'not_a_smiles', 21: '']" in line
    assert "--on-invalid nan" in line
    assert _fit(path, "--target", "empty") == 2
    assert "'empty'" in (line := error_line(capsys, "fit")) and "no value at all" in line
    assert _fit(path, "--target", "text") == 2
    assert "not numeric at 1 data row(s) [12: 'inactive']" in error_line(capsys, "fit")
    code = main(["fit", str(path), "--target", "activity", "--task", "classification", "-o",
                 str(tmp_path / "m.joblib")])
    assert code == 2 and "must hold 0/1 labels" in error_line(capsys, "fit")


def test_missing_model_checkpoint_is_reported(train_csv, tmp_path, capsys):
    assert _fit(train_csv, "--target", "activity", "--model", str(tmp_path / "none.pt")) == 2
    assert "--model" in error_line(capsys, "fit")


def test_text_labels_are_refused_for_classification(molecules, tmp_path, capsys):
    frame = molecules.assign(label=np.where(molecules["active"] == 1, "active", "inactive"))
    frame.to_csv(tmp_path / "t.csv", index=False)
    code = main(["fit", str(tmp_path / "t.csv"), "--target", "label", "--task", "classification",
                 "-o", str(tmp_path / "m.joblib")])
    assert code == 2 and "column 'label'" in (line := error_line(capsys, "fit")) and "not numeric" in line
