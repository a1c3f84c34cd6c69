"""Real molecules written to files, as a chemist would hand them to ``chmr``.

The molecules are RDKit's CHEMBL2321810 activity set (shipped with RDKit, offline): an evenly
spaced subset, so several compound series are present. Files are written once per session.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chmr_sklearn.cli import main

N_MOLECULES = 48


@pytest.fixture(scope="session")
def molecules() -> pd.DataFrame:
    """smiles, id (text with leading zeros), activity (one missing), two 0/1 labels (some missing)."""
    from chmr_sklearn.datasets import load_chembl2321810

    frame = load_chembl2321810().frame
    keep = np.linspace(0, len(frame) - 1, N_MOLECULES).astype(int)
    frame = frame.iloc[keep].reset_index(drop=True)
    out = pd.DataFrame({"smiles": frame["smiles"], "id": [f"{i:05d}" for i in frame["id"] % 100000]})
    out["activity"] = frame["activity"]
    out.loc[5, "activity"] = np.nan
    out["active"] = (frame["activity"] > frame["activity"].median()).astype(float)
    out["potent"] = (frame["activity"] > frame["activity"].quantile(0.75)).astype(float)
    out.loc[[2, 9, 30], "active"] = np.nan
    out.loc[[4, 17], "potent"] = np.nan
    return out


@pytest.fixture(scope="session")
def train_csv(molecules, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.csv"
    molecules.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A ``--cache-dir`` shared by the CLI runs: each molecule is embedded once per session."""
    return tmp_path_factory.mktemp("embedding_cache")


@pytest.fixture(scope="session")
def regressor_file(train_csv, cache_dir, tmp_path_factory):
    """A regressor trained by ``chmr fit`` (shared by the fit and predict tests)."""
    path = tmp_path_factory.mktemp("models") / "activity.joblib"
    code = main(["fit", str(train_csv), "--target", "activity", "--task", "regression", "-o", str(path),
                 "--epochs", "3", "--n-jobs", "1", "--seed", "0", "--cache-dir", str(cache_dir), "-q"])
    assert code == 0
    return path



@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """One intra-op thread: these molecules are few, and the 2 shared cores thrash with more."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
