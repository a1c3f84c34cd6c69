"""Shared fixtures: real molecules shipped with RDKit and the real cell-profile files."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import rdkit
from rdkit import Chem, RDLogger
from rdkit.Chem import rdFingerprintGenerator

DATA_HOME = os.environ.get("CHMR_DATA_HOME", "/work/shared/data")
WEHI = os.path.join(rdkit.RDConfig.RDDataDir, "Pains/test_data/wehi_mols.csv")


def morgan_fps(smiles) -> np.ndarray:
    """Morgan radius 2, 1024 bits, as a bool array (n, 1024)."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    RDLogger.DisableLog("rdApp.*")
    try:
        return np.array([gen.GetFingerprintAsNumPy(Chem.MolFromSmiles(s)) for s in smiles], dtype=bool)
    finally:
        RDLogger.EnableLog("rdApp.*")


def read_cell(name: str) -> pd.DataFrame:
    path = os.path.join(DATA_HOME, "cell", name)
    if not os.path.exists(path):
        pytest.skip(f"real profile file {path} not available (set CHMR_DATA_HOME)")
    return pd.read_csv(path)


@pytest.fixture(scope="session")
def wehi_smiles() -> list[str]:
    """The 10,000 real molecules RDKit ships (all parse)."""
    return pd.read_csv(WEHI, header=None)[0].tolist()


@pytest.fixture(scope="session")
def l1000_drugbank() -> pd.DataFrame:
    """LINCS L1000 consensus signatures of 1170 DrugBank compounds (978 genes, 21 dup. keys)."""
    return read_cell("derived_l1000_drugbank_consensus_smiles.csv.gz")


@pytest.fixture(scope="session")
def cmea_l1000() -> pd.DataFrame:
    """L1000 profiles of 162 Broad compounds."""
    return read_cell("derived_cmea_l1000_162.csv.gz")


@pytest.fixture(scope="session")
def cmea_cellpainting() -> pd.DataFrame:
    """Cell Painting profiles (812 features) of the same 162 compounds."""
    return read_cell("derived_cmea_cellpainting_162.csv.gz")


@pytest.fixture(scope="session")
def morgan():
    """The fingerprint function (fixtures cannot be imported from conftest portably)."""
    return morgan_fps
