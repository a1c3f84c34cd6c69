"""``chmr embed``: a file of real molecules to .parquet / .csv, equal to CHMRTransformer."""

import numpy as np
import pandas as pd
import pytest

from chmr_sklearn import CHMRTransformer
from chmr_sklearn.cli import main

from ._helpers import error_line


@pytest.fixture(scope="module")
def small(molecules, tmp_path_factory):
    """24 molecules with their id column, and the Python API's embeddings and tree codes of them."""
    frame = molecules[["id", "smiles"]].iloc[::2].reset_index(drop=True)
    path = tmp_path_factory.mktemp("embed") / "mols.csv"
    frame.to_csv(path, index=False)
    encoder = CHMRTransformer(random_state=0).fit(frame["smiles"])
    return path, frame, encoder.transform(frame["smiles"]), encoder.tree_codes(frame["smiles"])


def test_embed_to_parquet_with_codes_equals_the_transformer(small, tmp_path, capsys):
    path, frame, emb, codes = small
    out = tmp_path / "emb.parquet"
    assert main(["embed", str(path), "-o", str(out), "--codes", "--n-jobs", "1",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("embedded 24 row(s) in 1 chunk(s) in ") and str(out) in captured.out
    assert "chunk 1: rows 1-24" in captured.err  # progress on stderr without --quiet
    table = pd.read_parquet(out)
    assert table.shape == (24, 2 + 2091 + 6)
    assert table["id"].tolist() == frame["id"].tolist() and table["smiles"].tolist() == frame["smiles"].tolist()
    assert list(table.columns[2:4]) == ["morgan_0", "morgan_1"] and table.columns[-1] == "tree_code_5"
    np.testing.assert_array_equal(table.iloc[:, 2:2093].to_numpy(), emb)
    np.testing.assert_array_equal(table.iloc[:, 2093:].to_numpy(), codes)

    # Anchor output to CSV in chunks of 10, from the cache the first run filled.
    out_csv = tmp_path / "anchor.csv"
    assert main(["embed", str(path), "-o", str(out_csv), "--output", "anchor", "--chunk-size", "10", "-q",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    assert "in 3 chunk(s)" in capsys.readouterr().out
    anchor = pd.read_csv(out_csv, dtype={"id": str})
    assert anchor.shape == (24, 2 + 300) and anchor["id"].tolist() == frame["id"].tolist()
    expected = emb[:, 1191:1491] + emb[:, 1491:1791] + emb[:, 1791:]
    np.testing.assert_allclose(anchor.iloc[:, 2:].to_numpy(), expected, rtol=1e-6, atol=1e-6)


def test_invalid_smiles_are_listed_or_left_empty(molecules, tmp_path, capsys):
    frame = molecules[["smiles"]].iloc[:5].copy()
    frame.loc[[1, 3], "smiles"] = ["C1CC", "Cl(Cl)(Cl)(Cl)(Cl)"]
    frame.to_csv(tmp_path / "in.csv", index=False)
    args = ["embed", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.parquet"), "--output", "anchor", "-q",
            "--n-jobs", "1"]
    assert main(args) == 2
    line = error_line(capsys, "embed")
    assert "at 2 data row(s) [2: 'C1CC', 4: 'Cl(Cl)(Cl)(Cl)(Cl)']" in line and "--on-invalid nan" in line
    assert not (tmp_path / "out.parquet").exists()
    assert main([*args, "--on-invalid", "nan"]) == 0
    assert "2 invalid SMILES left empty" in capsys.readouterr().out
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["anchor_0"].isna().tolist() == [False, True, False, True, False]


def test_embed_file_errors(small, tmp_path, capsys):
    path = small[0]
    assert main(["embed", str(path), "-o", str(tmp_path / "out.xlsx")]) == 2
    assert "must end with one of .parquet, .csv" in error_line(capsys, "embed")
    assert main(["embed", str(tmp_path / "absent.csv"), "-o", str(tmp_path / "out.csv")]) == 2
    assert "does not exist" in error_line(capsys, "embed")
    assert main(["embed", str(path), "-o", str(tmp_path / "out.csv"), "--smiles-col", "SMILES"]) == 2
    line = error_line(capsys, "embed")
    assert "no column 'SMILES'" in line and "'id', 'smiles'" in line
    assert main(["embed", str(path), "-o", str(tmp_path / "out.csv"), "--model", str(tmp_path)]) == 2
    assert "holds no model.pt" in error_line(capsys, "embed")
