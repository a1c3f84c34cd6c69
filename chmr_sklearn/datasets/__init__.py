"""Dataset loaders: benchmark molecules + labels, cell-response profiles, RDKit's own molecules.

Files are looked up in ``data_home`` (argument, else ``$CHMR_DATA_HOME``, else
``~/chmr_sklearn_data``), verified against the bundled registry (sha256) and downloaded from
their pinned public source when missing. Existing files are never rewritten.

Examples
--------
>>> from chmr_sklearn.datasets import load_bbbp, list_datasets
>>> X, y = load_bbbp(return_X_y=True)
>>> X.name, y.name
('smiles', 'p_np')
>>> "chembl2k" in list_datasets()
True
"""

from __future__ import annotations

from ._base import ChecksumError, fetch_file, get_data_home, list_data_files
from ._molecules import (
    load_bace,
    load_bbbp,
    load_broad6k,
    load_chembl2k,
    load_clintox,
    load_esol,
    load_freesolv,
    load_hiv,
    load_lipophilicity,
    load_sider,
    load_tox21,
    load_toxcast,
    load_chembl2321810,
    load_wehi_molecules,
)
from ._moleculeace import MOLECULEACE_DATASETS, load_moleculeace
from ._profiles import load_cmea_paired, load_l1000_drugbank

__all__ = [
    "ChecksumError",
    "MOLECULEACE_DATASETS",
    "fetch_file",
    "get_data_home",
    "list_data_files",
    "list_datasets",
    "load_bace",
    "load_bbbp",
    "load_broad6k",
    "load_chembl2k",
    "load_clintox",
    "load_cmea_paired",
    "load_esol",
    "load_freesolv",
    "load_hiv",
    "load_l1000_drugbank",
    "load_lipophilicity",
    "load_moleculeace",
    "load_sider",
    "load_tox21",
    "load_toxcast",
    "load_wehi_molecules",
    "load_chembl2321810",
]

_KINDS = {
    "benchmark": ["bace", "bbbp", "broad6k", "chembl2k", "clintox", "esol", "freesolv", "hiv",
                  "lipophilicity", "sider", "tox21", "toxcast"],
    "profiles": ["cmea_paired", "l1000_drugbank"],
    "molecules": ["wehi_molecules"],
    # one loader for the 30 sets: load_moleculeace(name), names in MOLECULEACE_DATASETS
    "activity_cliffs": ["moleculeace"],
}


def list_datasets(kind: str | None = None) -> list[str]:
    """Names ``x`` of the loaders ``load_x`` in this module.

    Parameters
    ----------
    kind : {"benchmark", "profiles", "molecules", "activity_cliffs"} or None, default=None
        Restrict to labelled benchmark sets, cell-response profile tables, unlabelled
        molecule sets, or the MoleculeACE activity-cliff collection (one loader taking the
        set's name, see ``MOLECULEACE_DATASETS``). ``None`` lists all.

    Returns
    -------
    list of str
        Sorted names.

    Examples
    --------
    >>> list_datasets("profiles")
    ['cmea_paired', 'l1000_drugbank']
    """
    if kind is None:
        return sorted(n for names in _KINDS.values() for n in names)
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)} or None, got {kind!r}.")
    return sorted(_KINDS[kind])
