"""Shared fixtures: real molecules (RDKit-shipped) and the shared data directory."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from rdkit import RDConfig

REPO = Path(__file__).resolve().parents[1]
WEHI = Path(RDConfig.RDDataDir) / "Pains" / "test_data" / "wehi_mols.csv"

# Tests read the real data through CHMR_DATA_HOME; default to the checkout's sibling shared/.
os.environ.setdefault("CHMR_DATA_HOME", str((REPO.parent / "shared" / "data").resolve()))

# Hypothesis budgets (tests/fuzz): the default run stays quick; HYPOTHESIS_PROFILE=slow or
# ci-long (with -m slow) fuzzes for longer. No deadline: the machine is shared and loaded.
_FUZZ_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
settings.register_profile("default", max_examples=10, deadline=None, suppress_health_check=_FUZZ_CHECKS)
settings.register_profile("slow", max_examples=200, deadline=None, suppress_health_check=_FUZZ_CHECKS)
settings.register_profile("ci-long", max_examples=2000, deadline=None, suppress_health_check=_FUZZ_CHECKS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def data_home() -> Path:
    """The directory holding the real benchmark and profile files."""
    path = Path(os.environ["CHMR_DATA_HOME"])
    if not path.is_dir():
        pytest.fail(f"CHMR_DATA_HOME={path} does not exist; point it at shared/data.")
    return path


@pytest.fixture(scope="session")
def wehi_smiles() -> list[str]:
    """The 10,000 real SMILES RDKit ships (WEHI screening set)."""
    return pd.read_csv(WEHI, header=None)[0].tolist()


@pytest.fixture(scope="session")
def smiles_200(wehi_smiles) -> list[str]:
    """A fixed, diverse slice of 200 real molecules for quick tests."""
    return wehi_smiles[::50]
