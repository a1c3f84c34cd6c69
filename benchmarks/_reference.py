"""Shared by the benchmark scripts: the real molecules they time, and the plain-RDKit reference.

The code lives in :mod:`chmr_sklearn.benchmark` (one home for benchmark code); this module
only keeps the names the scripts import.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from chmr_sklearn.benchmark._machine import cpu_name, load_smiles, plain_fingerprints  # noqa: E402

__all__ = ["cpu_name", "load_smiles", "plain_fingerprints"]
