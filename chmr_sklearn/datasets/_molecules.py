"""Benchmark loaders: SMILES + labels of MoleculeNet and InfoAlign datasets, sklearn style.

Every loader returns the rows in file order, keeps missing labels as NaN and, by default, keeps
the few rows whose SMILES RDKit cannot parse (``drop_invalid=True`` removes them and says how
many). Labels are float64 (0.0 / 1.0 for classification).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .._inputs import to_mol
from ._base import fetch_file
from ._registry import REGISTRY

__all__ = [
    "load_bace",
    "load_bbbp",
    "load_broad6k",
    "load_chembl2k",
    "load_clintox",
    "load_esol",
    "load_freesolv",
    "load_hiv",
    "load_lipophilicity",
    "load_sider",
    "load_tox21",
    "load_toxcast",
    "load_wehi_molecules",
]

_OGB = {"method": "ogb", "sizes": (0.8, 0.1, 0.1), "random_state": None}
_INFOALIGN = {"method": "random_groups", "sizes": (0.6, 0.15, 0.25), "random_state": 3}
_MOLECULENET_REF = "Wu et al., MoleculeNet: a benchmark for molecular machine learning, Chem. Sci. 2018."
_INFOALIGN_REF = "Liu et al., Learning Molecular Representation in a Cell, ICLR 2025 (arXiv 2406.12056)."

# Per dataset: registry file, title, task description, which columns are labels (an explicit
# list, or "rest": every column except `meta`), the benchmark split protocol, notes.
_SPECS: dict[str, dict[str, Any]] = {
    "bbbp": dict(
        file="bbbp", title="BBBP (blood-brain barrier penetration)",
        task="binary classification, 1 task", targets=["p_np"],
        split=_OGB, metric="mean_roc_auc", reference=_MOLECULENET_REF,
        notes="11 of the 2,050 SMILES do not parse with current RDKit (hypervalent N written "
              "as [NH]= or N(=O)[O-] forms); OGB's ogbg-molbbbp dropped them (2,039 molecules). "
              "Use drop_invalid=True to reproduce that count.",
    ),
    "bace": dict(
        file="bace", title="BACE (beta-secretase 1 inhibitors)",
        task="binary classification (Class) or regression (pIC50), 1 task", targets=["Class"],
        split=_OGB, metric="mean_roc_auc", reference=_MOLECULENET_REF,
        notes="The frame also holds CID, the original 'Model' split column and 590 MOE "
              "descriptors. task='regression' selects pIC50.",
    ),
    "clintox": dict(
        file="clintox", title="ClinTox (FDA approval and clinical-trial toxicity)",
        task="binary classification, 2 tasks", targets=["FDA_APPROVED", "CT_TOX"],
        split=_OGB, metric="mean_roc_auc", reference=_MOLECULENET_REF,
        notes="4 of the 1,484 SMILES do not parse with current RDKit; OGB's ogbg-molclintox "
              "has 1,477 molecules (built with an older RDKit).",
    ),
    "sider": dict(
        file="sider", title="SIDER (side effects, 27 system organ classes)",
        task="binary classification, 27 tasks", targets="rest", meta=["smiles"],
        split=_OGB, metric="mean_roc_auc", reference=_MOLECULENET_REF, notes="",
    ),
    "hiv": dict(
        file="hiv", title="HIV (inhibition of HIV replication, DTP AIDS antiviral screen)",
        task="binary classification, 1 task", targets=["HIV_active"],
        split=_OGB, metric="mean_roc_auc", reference=_MOLECULENET_REF,
        notes="7 of the 41,127 SMILES do not parse with current RDKit (Al/B/Ge complexes); "
              "ogbg-molhiv keeps all 41,127. The frame's 'activity' column (CI/CM/CA) is the "
              "screen outcome HIV_active is derived from.",
    ),
    "tox21": dict(
        file="tox21", title="Tox21 (12 nuclear-receptor and stress-response assays)",
        task="binary classification, 12 tasks, NaN = not measured", targets="rest",
        meta=["mol_id", "smiles"], split=_OGB, metric="mean_roc_auc",
        reference=_MOLECULENET_REF,
        notes="8 of the 7,831 SMILES ([AlH3] compounds) do not parse with current RDKit; "
              "ogbg-moltox21 keeps all 7,831.",
    ),
    "toxcast": dict(
        file="toxcast", title="ToxCast (EPA in-vitro high-throughput screens)",
        task="binary classification, 617 tasks, NaN = not measured", targets="rest",
        meta=["smiles"], split=_OGB, metric="mean_roc_auc", reference=_MOLECULENET_REF,
        notes="Identical (order, columns, labels) to InfoAlign's moltoxcast copy. CHMR reports "
              "the OGB scaffold 80/10/10 split; InfoAlign's current code uses its 60/15/25 "
              "seed-3 group split (method='random_groups') - report both.",
    ),
    "esol": dict(
        file="esol", title="ESOL (Delaney aqueous solubility)",
        task="regression, 1 task (log mol/L)",
        targets=["measured log solubility in mols per litre"],
        split=None, metric="neg_mean_rmse", reference=_MOLECULENET_REF,
        notes="Not part of CHMR's benchmark. The frame also holds the ESOL model prediction "
              "and 6 descriptors.",
    ),
    "freesolv": dict(
        file="freesolv", title="FreeSolv (hydration free energy, SAMPL)",
        task="regression, 1 task (kcal/mol)", targets=["expt"],
        split=None, metric="neg_mean_rmse", reference=_MOLECULENET_REF,
        notes="Not part of CHMR's benchmark. 'calc' (alchemical estimate) is in the frame.",
    ),
    "lipophilicity": dict(
        file="lipophilicity", title="Lipophilicity (octanol/water logD at pH 7.4, ChEMBL)",
        task="regression, 1 task", targets=["exp"],
        split=None, metric="neg_mean_rmse", reference=_MOLECULENET_REF,
        notes="Not part of CHMR's benchmark.",
    ),
    "chembl2k": dict(
        file="chembl2k_assays", title="ChEMBL2K (ChEMBL bioactivity of JUMP-CP compounds)",
        task="binary classification, 41 tasks (targets ABCB1 ... SLC6A4), NaN = not measured",
        targets="rest", meta=["smiles", "inchikey", "Metadata_JCP2022", "ChEMBL_ID"],
        split=_INFOALIGN, metric="mean_roc_auc", reference=_INFOALIGN_REF,
        notes="About 17 % of the label matrix is filled. Cell Painting (JUMP) and L1000 "
              "availability indices are the registry files chembl2k_cp_jump / chembl2k_ge "
              "(ids only, no features).",
    ),
    "broad6k": dict(
        file="broad6k_assays", title="Broad6K (32 Broad Institute assays)",
        task="binary classification, 32 tasks, NaN = not measured", targets="rest",
        meta=["smiles", "inchikey"], split=_INFOALIGN, metric="mean_roc_auc",
        reference=_INFOALIGN_REF,
        notes="6,567 unique SMILES but only 2,745 distinct 14-character InChIKey prefixes "
              "(stereo-isomer families). About 85 % of the label matrix is filled.",
    ),
}


def _describe(name: str, frame: pd.DataFrame, targets: Sequence[str], spec: dict[str, Any]) -> str:
    entry = REGISTRY[spec["file"]]
    split = spec["split"]
    if split is None:
        split_txt = "none prescribed (not a CHMR benchmark)"
    elif split["method"] == "ogb":
        split_txt = "deterministic Murcko-scaffold split 80/10/10, largest groups first (OGB)"
    else:
        split_txt = "Murcko-scaffold groups shuffled with seed 3, filled 60/15/25 (InfoAlign)"
    shown = ", ".join(targets[:6]) + (f", ... ({len(targets)} in all)" if len(targets) > 6 else "")
    n_missing = int(frame[list(targets)].isna().to_numpy().sum())
    lines = [
        spec["title"],
        "=" * len(spec["title"]),
        "",
        f":Task: {spec['task']}",
        f":Size: {len(frame)} rows x {frame.shape[1]} columns (SMILES in 'smiles'), file order",
        f":Targets: {shown}",
        f":Missing labels: {n_missing} NaN entries (kept; metrics ignore them)",
        f":Benchmark split: {split_txt}",
        f":Metric: {spec['metric']} (chmr_sklearn.model_selection)",
        f":Source: {entry['url']}",
        f":Licence: {entry['licence']}",
        f":File: {entry['path']} (sha256 {entry['sha256']})",
        f":Reference: {spec['reference']}",
    ]
    if spec["notes"]:
        lines += ["", spec["notes"]]
    lines += [
        "",
        "Invalid SMILES are kept by default (rows are never silently dropped); pass "
        "drop_invalid=True to remove the rows RDKit cannot parse.",
    ]
    return "\n".join(lines) + "\n"


def _invalid_mask(smiles: pd.Series) -> np.ndarray:
    return np.array([to_mol(s) is None for s in smiles], dtype=bool)


def _load(
    name: str,
    *,
    data_home: str | os.PathLike | None,
    return_X_y: bool,
    as_frame: bool,
    download_if_missing: bool,
    drop_invalid: bool,
    targets: Sequence[str] | None = None,
    metric: str | None = None,
) -> Bunch | tuple[Any, Any]:
    spec = _SPECS[name]
    if metric is not None:
        spec = {**spec, "metric": metric}
    path = fetch_file(spec["file"], data_home=data_home, download_if_missing=download_if_missing)
    frame = pd.read_csv(path)
    if targets is None:
        targets = spec["targets"]
        if targets == "rest":
            targets = [c for c in frame.columns if c not in spec["meta"]]
    targets = list(targets)
    frame[targets] = frame[targets].astype("float64")  # NaN = missing label, never filled

    dropped = np.empty(0, dtype=np.intp)
    if drop_invalid:
        invalid = _invalid_mask(frame["smiles"])
        dropped = np.flatnonzero(invalid)
        # RangeIndex again, so positional split indices and X[idx] agree
        frame = frame.loc[~invalid].reset_index(drop=True)

    data = frame["smiles"].rename("smiles")
    target = frame[targets[0]] if len(targets) == 1 else frame[targets]
    if not as_frame:
        data = data.to_numpy(dtype=object)
        target = target.to_numpy(dtype=np.float64)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame if as_frame else None,
        target_names=targets,
        feature_names=["smiles"],
        DESCR=_describe(name, frame, targets, spec),
        filename=str(path),
        n_invalid_dropped=int(dropped.size),
        dropped_rows=dropped,
        split_protocol=None if spec["split"] is None else dict(spec["split"]),
        metric=spec["metric"],
    )


_COMMON_PARAMS = """data_home : str or path-like, default=None
        Folder with the data files; default ``$CHMR_DATA_HOME`` else ``~/chmr_sklearn_data``.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_frame : bool, default=True
        pandas output (Series / DataFrame); ``False`` gives numpy arrays (object dtype for the
        SMILES, float64 for the labels) and ``frame=None``.
    download_if_missing : bool, default=True
        Download (and verify) the file when it is not in ``data_home``.
    drop_invalid : bool, default=False
        Drop the rows whose SMILES RDKit cannot parse (the index is reset, the count is in
        ``n_invalid_dropped`` and the original positions in ``dropped_rows``). Parsing every
        SMILES makes the load slower (seconds for HIV)."""

_RETURNS = """Returns
    -------
    data : Bunch
        ``data`` (SMILES, a Series named "smiles"), ``target`` (Series for one task, DataFrame
        for several; float64, NaN = missing label), ``frame`` (the whole file),
        ``target_names``, ``feature_names``, ``DESCR``, ``filename``, ``n_invalid_dropped``,
        ``dropped_rows``, ``split_protocol`` (keyword arguments for
        :func:`chmr_sklearn.model_selection.scaffold_split` that reproduce the benchmark, or
        None) and ``metric`` (a name for :func:`chmr_sklearn.model_selection.get_scorer`).
    (X, y) : tuple
        With ``return_X_y=True``."""


def _doc(title: str, details: str, example: str, extra_params: str = "") -> str:
    return f"""{title}

    {details}

    Parameters
    ----------
    {_COMMON_PARAMS}{extra_params}

    {_RETURNS}

    Examples
    --------
{example}
    """


def load_bbbp(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("bbbp", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_bbbp.__doc__ = _doc(
    "Load BBBP: 2,050 molecules, blood-brain barrier penetration (p_np), binary.",
    "11 SMILES do not parse with current RDKit; ``drop_invalid=True`` gives OGB's 2,039.",
    """    >>> X, y = load_bbbp(return_X_y=True)
    >>> X.shape, y.name, int(y.sum())
    ((2050,), 'p_np', 1567)
    >>> load_bbbp(drop_invalid=True).n_invalid_dropped
    11""",
)


def load_bace(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
    task: str = "classification",
) -> Bunch | tuple[Any, Any]:
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}.")
    targets = ["Class"] if task == "classification" else ["pIC50"]
    return _load("bace", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid,
                 targets=targets,
                 metric="mean_roc_auc" if task == "classification" else "neg_mean_rmse")


load_bace.__doc__ = _doc(
    "Load BACE: 1,513 BACE-1 inhibitors; 'Class' (binary) or 'pIC50' (regression).",
    "``task='classification'`` (default) targets Class; ``task='regression'`` targets pIC50.\n"
    "    The frame also holds 590 precomputed MOE descriptors.",
    """    >>> X, y = load_bace(return_X_y=True, task="regression")
    >>> X.shape, y.name
    ((1513,), 'pIC50')""",
    extra_params="""
    task : {"classification", "regression"}, default="classification"
        Which label to return: 'Class' (binary) or 'pIC50'.""",
)


def load_clintox(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("clintox", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_clintox.__doc__ = _doc(
    "Load ClinTox: 1,484 drugs, tasks FDA_APPROVED and CT_TOX (binary).",
    "4 SMILES do not parse with current RDKit.",
    """    >>> X, y = load_clintox(return_X_y=True)
    >>> list(y.columns)
    ['FDA_APPROVED', 'CT_TOX']""",
)


def load_sider(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("sider", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_sider.__doc__ = _doc(
    "Load SIDER: 1,427 drugs, 27 side-effect classes (binary, multi-task).",
    "All SMILES parse.",
    """    >>> load_sider().target.shape
    (1427, 27)""",
)


def load_hiv(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("hiv", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_hiv.__doc__ = _doc(
    "Load HIV: 41,127 molecules, HIV_active (binary).",
    "7 SMILES do not parse with current RDKit.",
    """    >>> X, y = load_hiv(return_X_y=True)
    >>> len(X), int(y.sum())
    (41127, 1443)""",
)


def load_tox21(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("tox21", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_tox21.__doc__ = _doc(
    "Load Tox21: 7,831 molecules, 12 assays (binary, NaN = not measured).",
    "8 SMILES ([AlH3] compounds) do not parse with current RDKit.",
    """    >>> y = load_tox21().target
    >>> y.shape, int(y.isna().sum().sum())
    ((7831, 12), 16026)""",
)


def load_toxcast(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("toxcast", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_toxcast.__doc__ = _doc(
    "Load ToxCast: 8,576 molecules, 617 assays (binary, NaN = not measured, ~29 % filled).",
    "Benchmarked with the OGB scaffold split (CHMR) and the InfoAlign 60/15/25 group split.",
    """    >>> load_toxcast().target.shape
    (8576, 617)""",
)


def load_esol(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("esol", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_esol.__doc__ = _doc(
    "Load ESOL (Delaney): 1,128 molecules, measured log solubility (regression).",
    "The target column is 'measured log solubility in mols per litre'.",
    """    >>> X, y = load_esol(return_X_y=True)
    >>> X.shape, y.dtype
    ((1128,), dtype('float64'))""",
)


def load_freesolv(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("freesolv", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_freesolv.__doc__ = _doc(
    "Load FreeSolv: 642 molecules, experimental hydration free energy 'expt' (regression).",
    "The calculated value 'calc' stays in the frame.",
    """    >>> load_freesolv().target.name
    'expt'""",
)


def load_lipophilicity(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("lipophilicity", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_lipophilicity.__doc__ = _doc(
    "Load Lipophilicity: 4,200 ChEMBL compounds, logD at pH 7.4 'exp' (regression).",
    "All SMILES parse.",
    """    >>> load_lipophilicity().target.shape
    (4200,)""",
)


def load_chembl2k(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("chembl2k", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_chembl2k.__doc__ = _doc(
    "Load ChEMBL2K: 2,355 JUMP-CP compounds, 41 ChEMBL targets (binary, NaN = not measured).",
    "InfoAlign's benchmark; its split is ``scaffold_split(X, (0.6, 0.15, 0.25),\n"
    "    method='random_groups', random_state=3)`` (1413/353/589).",
    """    >>> bunch = load_chembl2k()
    >>> bunch.target.shape, bunch.split_protocol["random_state"]
    ((2355, 41), 3)""",
)


def load_broad6k(
    *,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    return _load("broad6k", data_home=data_home, return_X_y=return_X_y, as_frame=as_frame,
                 download_if_missing=download_if_missing, drop_invalid=drop_invalid)


load_broad6k.__doc__ = _doc(
    "Load Broad6K: 6,567 compounds, 32 Broad Institute assays (binary, NaN = not measured).",
    "InfoAlign's benchmark; split 60/15/25 with seed 3 (3940/985/1642).",
    """    >>> load_broad6k().target.shape
    (6567, 32)""",
)


_WEHI_DESCR = """WEHI molecules shipped with RDKit
=================================

:Size: 10,000 SMILES with WEHI compound ids, no labels
:Source: RDKit installation, RDConfig.RDDataDir/Pains/test_data/wehi_mols.csv (no header;
         column 0 SMILES, column 1 id). No download needed.
:Licence: RDKit (BSD-3-Clause) test data
:Use: real, drug-like molecules for tests, demos and quick embeddings when no data folder is
      available. All 10,000 parse with RDKit; none repeats.
"""


def load_wehi_molecules(*, as_frame: bool = True) -> Bunch:
    """Load the 10,000 real molecules that RDKit ships (PAINS test set, WEHI library).

    Always available offline: the file is part of the RDKit installation.

    Parameters
    ----------
    as_frame : bool, default=True
        pandas output; ``False`` gives object arrays and ``frame=None``.

    Returns
    -------
    data : Bunch
        ``data`` (SMILES, Series named "smiles"), ``ids`` (WEHI ids), ``frame`` (columns
        smiles, id), ``DESCR``, ``filename``.

    Examples
    --------
    >>> wehi = load_wehi_molecules()
    >>> len(wehi.data), wehi.ids.iloc[0]
    (10000, 'WEHI-0039854')
    """
    from rdkit import RDConfig

    path = os.path.join(RDConfig.RDDataDir, "Pains", "test_data", "wehi_mols.csv")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"RDKit's WEHI test molecules are not at {path!r}; this RDKit build does not ship "
            "its Data folder."
        )
    frame = pd.read_csv(path, header=None, names=["smiles", "id"])
    data, ids = frame["smiles"], frame["id"]
    if not as_frame:
        data, ids, frame = data.to_numpy(dtype=object), ids.to_numpy(dtype=object), None
    return Bunch(data=data, ids=ids, frame=frame, DESCR=_WEHI_DESCR, filename=path)


_CHEMBL2321810_DESCR = """CHEMBL2321810 activity set shipped with RDKit (Contrib/FreeWilson/data).

1,017 real molecules from one ChEMBL document (a sulfonamide series) with their activity
(``Act``, a pIC50-like log value). Ships inside every RDKit installation, so it needs no
download: the README demo runs on it on a fresh machine.
"""


def load_chembl2321810(*, return_X_y: bool = False, as_frame: bool = True):
    """Load the 1,017 molecules with activities that RDKit ships (FreeWilson example data).

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)``: SMILES and the activity.
    as_frame : bool, default=True
        pandas output; ``False`` gives numpy arrays.

    Returns
    -------
    data : Bunch or tuple
        ``data`` (SMILES), ``target`` (activity, float), ``ids`` (ChEMBL molecule numbers),
        ``frame``, ``DESCR``, ``filename``.

    Examples
    --------
    >>> X, y = load_chembl2321810(return_X_y=True)
    >>> len(X), round(float(y.mean()), 2)
    (1017, 6.55)
    """
    from rdkit import RDConfig

    folder = os.path.join(RDConfig.RDContribDir, "FreeWilson", "data")
    smi_path = os.path.join(folder, "CHEMBL2321810.smi")
    act_path = os.path.join(folder, "CHEMBL2321810_act.csv")
    if not (os.path.exists(smi_path) and os.path.exists(act_path)):
        raise FileNotFoundError(f"RDKit's FreeWilson example data is not in {folder!r}; this RDKit build "
                                "does not ship its Contrib folder.")
    smiles = pd.read_csv(smi_path, sep=" ", header=None, names=["smiles", "Name"])
    frame = smiles.merge(pd.read_csv(act_path), on="Name", how="left", validate="one_to_one")
    if frame["Act"].isna().any():
        raise ValueError(f"{frame['Act'].isna().sum()} molecules of {smi_path} have no activity in {act_path}.")
    frame = frame.rename(columns={"Name": "id", "Act": "activity"})[["smiles", "id", "activity"]]
    data, target, ids = frame["smiles"], frame["activity"], frame["id"]
    if not as_frame:
        data, target, ids, frame = data.to_numpy(dtype=object), target.to_numpy(), ids.to_numpy(), None
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, ids=ids, frame=frame, DESCR=_CHEMBL2321810_DESCR,
                 filename=act_path, target_names=["activity"])
