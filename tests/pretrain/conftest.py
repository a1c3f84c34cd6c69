"""A small real pretraining corpus: the 162 CMEA compounds (Cell Painting + L1000) + WEHI molecules."""

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def cmea_profiles(data_home):
    """Real paired profiles of 162 compounds, as users would pass them (smiles + features)."""
    morph = pd.read_csv(data_home / "cell" / "derived_cmea_cellpainting_162.csv.gz")
    expr = pd.read_csv(data_home / "cell" / "derived_cmea_l1000_162.csv.gz")
    meta = ["broad_id", "pert_iname", "inchikey"]
    # Keep the first 100 profiled compounds: the other 62 are molecules without profiles.
    return {"morphology": morph.drop(columns=meta).iloc[:100, :150],
            "expression": expr.drop(columns=meta).iloc[:100, :200]}


@pytest.fixture(scope="session")
def pretrain_smiles(data_home, wehi_smiles):
    cmea = pd.read_csv(data_home / "cell" / "derived_cmea_cellpainting_162.csv.gz", usecols=["smiles"])["smiles"]
    return list(cmea) + wehi_smiles[:60]
