"""Shared by the benchmark scripts: the real molecules they time, and the plain-RDKit reference.

The code lives in :mod:`chmr_sklearn.benchmark` (one home for benchmark code); this module
only keeps the names the scripts import.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from chmr_sklearn.benchmark._machine import (  # noqa: E402
    cpu_name, describe_machine, describe_versions, load_smiles, machine_info, plain_fingerprints)

__all__ = ["cpu_name", "describe_machine", "describe_versions", "load_smiles", "machine_info", "plain_fingerprints"]
