"""Shared by the benchmark scripts: the real molecules they time, and the plain-RDKit reference."""

from __future__ import annotations

import platform

import numpy as np
from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import MACCSkeys, rdFingerprintGenerator

from chmr_sklearn.datasets import load_wehi_molecules


def load_smiles() -> list[str]:
    """The 10,000 real SMILES RDKit ships (WEHI set)."""
    return load_wehi_molecules().data.tolist()


def cpu_name() -> str:
    """The CPU model for the reports' machine line (``/proc/cpuinfo``, else ``platform``)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                        platform.processor())
    except OSError:
        return platform.processor()


def plain_fingerprints(smiles: list[str]) -> np.ndarray:
    """What a user would write by hand: the same 1191 bits, float32, one loop."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    out = np.zeros((len(smiles), 1191), dtype=np.float32)
    with rdBase.BlockLogs():
        for i, smi in enumerate(smiles):
            mol = Chem.MolFromSmiles(smi)
            if mol is None:
                continue
            out[i, :1024] = gen.GetFingerprintAsNumPy(mol)
            DataStructs.ConvertToNumpyArray(MACCSkeys.GenMACCSKeys(mol), out[i, 1024:])
    return out
