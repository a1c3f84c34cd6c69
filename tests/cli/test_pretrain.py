"""``chmr pretrain``: a tiny real corpus (CMEA compounds, Cell Painting + L1000 subsets)."""

import numpy as np
import pandas as pd
import pytest

from chmr_sklearn import CHMRTransformer
from chmr_sklearn.cli import main

from ._helpers import error_line

META = ["broad_id", "pert_iname", "smiles", "inchikey"]


@pytest.fixture(scope="module")
def corpus_files(data_home, tmp_path_factory):
    """60 molecules; morphology for 40 of them keyed by SMILES, expression for 40 keyed by InChIKey."""
    folder = tmp_path_factory.mktemp("corpus")
    morph = pd.read_csv(data_home / "cell" / "derived_cmea_cellpainting_162.csv.gz")
    expr = pd.read_csv(data_home / "cell" / "derived_cmea_l1000_162.csv.gz")
    morph[["smiles"]].iloc[:60].to_csv(folder / "molecules.csv", index=False)
    # ids and names stay in the files: non-numeric columns are not features
    morph[["broad_id", "smiles", *morph.columns[4:44]]].iloc[:40].to_csv(folder / "morph.csv", index=False)
    expr[["pert_iname", "inchikey", *expr.columns[4:34]]].iloc[20:60].to_csv(folder / "expr.csv.gz", index=False)
    return folder


def test_pretrain_writes_a_checkpoint_the_transformer_loads(corpus_files, tmp_path, capsys):
    out = tmp_path / "ckpt"
    code = main(["pretrain", "--molecules", str(corpus_files / "molecules.csv"), "--profiles",
                 f"morphology={corpus_files / 'morph.csv'}", f"expression={corpus_files / 'expr.csv.gz'}",
                 "-o", str(out), "--epochs", "1", "--batch-size", "64", "--lr", "2e-4", "--seed", "3",
                 "--n-jobs", "1", "-q"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "pretrained on 60 molecule(s) (profiled: morphology 40, expression 40), 1 epoch(s)" in stdout
    assert (out / "last.pt").is_file() and (out / "model.pt").is_file()

    encoder = CHMRTransformer(pretrained=str(out / "model.pt")).fit(["CCO"])
    cfg = encoder.config_
    assert (cfg.max_epochs, cfg.batch_size, cfg.lr, cfg.seed) == (1, 64, 2e-4, 3)
    assert len(encoder.history_) == 1 and np.isfinite(encoder.history_[0]["loss"])
    smiles = pd.read_csv(corpus_files / "molecules.csv")["smiles"].iloc[:4].tolist()
    emb = encoder.transform(smiles)
    default = CHMRTransformer().fit(smiles).transform(smiles)
    assert emb.shape == default.shape == (4, 2091) and np.isfinite(emb).all()
    np.testing.assert_array_equal(emb[:, :1191], default[:, :1191])  # same fingerprint block
    assert not np.allclose(emb[:, 1191:], default[:, 1191:])  # a new encoder

    # `--model CKPT_DIR` embeds with it from the command line too.
    pd.DataFrame({"smiles": smiles}).to_csv(tmp_path / "four.csv", index=False)
    assert main(["embed", str(tmp_path / "four.csv"), "-o", str(tmp_path / "four.parquet"), "--model", str(out),
                 "--n-jobs", "1", "-q"]) == 0
    np.testing.assert_array_equal(pd.read_parquet(tmp_path / "four.parquet").iloc[:, 1:].to_numpy(), emb)


def test_pretrain_input_errors(corpus_files, tmp_path, capsys):
    mols = str(corpus_files / "molecules.csv")
    morph = pd.read_csv(corpus_files / "morph.csv")
    morph.drop(columns=["smiles"]).to_csv(tmp_path / "nokey.csv", index=False)
    args = ["pretrain", "--molecules", mols, "-o", str(tmp_path / "ck"), "-q", "--profiles"]
    assert main([*args, f"cp={tmp_path / 'nokey.csv'}"]) == 2
    line = error_line(capsys, "pretrain")
    assert "neither a 'smiles' nor an 'inchikey' column" in line and "available columns: broad_id, Cells_" in line
    morph.iloc[:5].assign(**{morph.columns[3]: [0.1, np.nan, 0.2, 0.3, 0.4]}).to_csv(tmp_path / "nan.csv",
                                                                                     index=False)
    assert main([*args, f"cp={tmp_path / 'nan.csv'}"]) == 2
    assert "NaN or infinite" in error_line(capsys, "pretrain")
    assert main([*args, f"cp={tmp_path / 'absent.csv'}"]) == 2
    assert "absent.csv' does not exist" in error_line(capsys, "pretrain")
    assert main([*args, f"cp={corpus_files / 'morph.csv'}", f"cp={corpus_files / 'morph.csv'}"]) == 2
    assert "names must differ" in error_line(capsys, "pretrain")
    assert main([*args, "morph.csv"]) == 2  # not NAME=PATH: argparse's usage error
    assert "expected NAME=PATH" in capsys.readouterr().err


def test_invalid_molecules_are_listed_by_data_row(corpus_files, tmp_path, capsys):
    pd.DataFrame({"smiles": ["CCO", "c1ccccc1O", "CC(C)(C)(C)(C)C", "CCN"]}).to_csv(tmp_path / "m.csv", index=False)
    code = main(["pretrain", "--molecules", str(tmp_path / "m.csv"), "--profiles",
                 f"cp={corpus_files / 'morph.csv'}", "-o", str(tmp_path / "ck"), "--n-jobs", "1", "-q"])
    assert code == 2
    line = error_line(capsys, "pretrain")
    assert "1 data row(s) [3: 'CC(C)(C)(C)(C)C']" in line and "--on-invalid nan" in line
