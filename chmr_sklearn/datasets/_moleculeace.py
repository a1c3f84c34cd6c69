"""MoleculeACE: 30 ChEMBL bioactivity regression sets with activity-cliff flags and their own split.

van Tilborg, Alenicheva & Grisoni, *Exposing the limitations of molecular machine learning with
activity cliffs*, J. Chem. Inf. Model. 2022 (MoleculeACE 3.0.0). Each file holds one target's
molecules (``smiles``), the mean measured activity in nM (``exp_mean [nM]``), the regression
label ``y`` = -log10(activity / nM) (so pKi or pEC50 = ``y`` + 9), ``cliff_mol`` (1 = the
molecule forms an activity cliff with another molecule of the set) and ``split`` (the
benchmark's own ``"train"`` / ``"test"`` assignment, stratified on cliff membership).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import fetch_file
from ._registry import REGISTRY

__all__ = ["MOLECULEACE_DATASETS", "load_moleculeace"]

#: The 30 MoleculeACE set names (ChEMBL target id + activity type), sorted.
MOLECULEACE_DATASETS: tuple[str, ...] = tuple(
    sorted(name.removeprefix("moleculeace_") for name in REGISTRY if name.startswith("moleculeace_"))
)

_REFERENCE = ("van Tilborg, Alenicheva & Grisoni, Exposing the limitations of molecular machine "
              "learning with activity cliffs, J. Chem. Inf. Model. 62, 5938 (2022).")
_SPLITS = ("train", "test")


def _describe(name: str, frame: pd.DataFrame, split: str | None, n_invalid: int) -> str:
    entry = REGISTRY[f"moleculeace_{name}"]
    title = f"MoleculeACE {name}"
    counts = frame["split"].value_counts()
    cliffs = frame.loc[frame["split"] == "test", "cliff_mol"].sum()
    lines = [
        title,
        "=" * len(title),
        "",
        f":Task: regression, 1 task (y = -log10 of the {name.split('_')[1]} in nM; "
        "p-value = y + 9)",
        f":Size: {len(frame)} rows"
        + (f" (split={split!r} only)" if split else "")
        + f": {counts.get('train', 0)} train / {counts.get('test', 0)} test, file order",
        f":Activity cliffs: {int(frame['cliff_mol'].sum())} molecules with cliff_mol = 1 "
        f"({int(cliffs)} of them in the test part)",
        ":Benchmark split: the file's own 'split' column (train / test; no validation part: "
        "select hyperparameters on a split of the train part)",
        ":Metric: RMSE on all test molecules and on the test molecules with cliff_mol = 1",
        f":Source: {entry['url']}",
        f":Licence: {entry['licence']}",
        f":File: {entry['path']} (sha256 {entry['sha256']})",
        f":Reference: {_REFERENCE}",
    ]
    if n_invalid:
        lines += ["", f"{n_invalid} rows whose SMILES RDKit cannot parse were dropped."]
    return "\n".join(lines) + "\n"


def _check_name(name: str) -> str:
    if name not in MOLECULEACE_DATASETS:
        raise ValueError(f"Unknown MoleculeACE set {name!r}; choose one of MOLECULEACE_DATASETS: "
                         f"{list(MOLECULEACE_DATASETS)}.")
    return name


def load_moleculeace(
    name: str,
    *,
    split: str | None = None,
    data_home: str | os.PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = True,
    download_if_missing: bool = True,
    drop_invalid: bool = False,
) -> Bunch | tuple[Any, Any]:
    """Load one of the 30 MoleculeACE activity-cliff regression sets.

    Every row of the file is kept in file order (all SMILES parse with current RDKit); the
    benchmark's own train/test assignment is the ``split`` column and the activity-cliff flag
    the ``cliff_mol`` column. MoleculeACE reports the RMSE on the test part and on its
    activity-cliff molecules (``cliff_mol == 1``).

    Parameters
    ----------
    name : str
        One of :data:`MOLECULEACE_DATASETS`, e.g. ``"CHEMBL2835_Ki"``.
    split : {"train", "test"} or None, default=None
        Return only that part of the benchmark split (index reset to 0..n-1), or every row.
    data_home : str or path-like, default=None
        Folder with the data files; default ``$CHMR_DATA_HOME`` else ``~/chmr_sklearn_data``.
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.
    as_frame : bool, default=True
        pandas output; ``False`` gives numpy arrays and ``frame=None``.
    download_if_missing : bool, default=True
        Download (and verify) the file from the pinned MoleculeACE commit when it is not in
        ``data_home``.
    drop_invalid : bool, default=False
        Drop rows whose SMILES RDKit cannot parse (none with RDKit 2023+; kept for symmetry
        with the other loaders).

    Returns
    -------
    data : Bunch
        ``data`` (SMILES, Series "smiles"), ``target`` (Series "y", float64),
        ``cliff_mol`` (int 0/1), ``split`` (``"train"``/``"test"`` strings), ``frame`` (the
        whole file, or the chosen part), ``target_names`` (``["y"]``), ``feature_names``,
        ``DESCR``, ``filename``, ``n_invalid_dropped``, ``metric`` (``"neg_mean_rmse"``).
    (X, y) : tuple
        With ``return_X_y=True``.

    Examples
    --------
    >>> from chmr_sklearn.datasets import load_moleculeace, MOLECULEACE_DATASETS
    >>> len(MOLECULEACE_DATASETS), MOLECULEACE_DATASETS[0]
    (30, 'CHEMBL1862_Ki')
    >>> ace = load_moleculeace("CHEMBL2835_Ki")
    >>> ace.data.shape, ace.split.value_counts().to_dict()
    ((615,), {'train': 489, 'test': 126})
    >>> X_test, y_test = load_moleculeace("CHEMBL2835_Ki", split="test", return_X_y=True)
    >>> len(X_test), int(ace.cliff_mol[ace.split == "test"].sum())
    (126, 13)
    """
    _check_name(name)
    if split is not None and split not in _SPLITS:
        raise ValueError(f"split must be 'train', 'test' or None, got {split!r}.")
    path = fetch_file(f"moleculeace_{name}", data_home=data_home,
                      download_if_missing=download_if_missing)
    frame = pd.read_csv(path)
    frame["y"] = frame["y"].astype("float64")
    frame["cliff_mol"] = frame["cliff_mol"].astype("int64")
    n_invalid = 0
    if drop_invalid:
        from ._molecules import _invalid_mask

        invalid = _invalid_mask(frame["smiles"])
        n_invalid = int(invalid.sum())
        frame = frame.loc[~invalid].reset_index(drop=True)
    descr = _describe(name, frame, split, n_invalid)
    if split is not None:
        # RangeIndex again, so positional indices and X[idx] agree within the part
        frame = frame.loc[frame["split"] == split].reset_index(drop=True)
    data, target = frame["smiles"], frame["y"]
    cliff, part = frame["cliff_mol"], frame["split"]
    if not as_frame:
        data, target = data.to_numpy(dtype=object), target.to_numpy(dtype=np.float64)
        cliff, part = cliff.to_numpy(), part.to_numpy(dtype=object)
    if return_X_y:
        return data, target
    return Bunch(
        data=data, target=target, cliff_mol=cliff, split=part, frame=frame if as_frame else None,
        target_names=["y"], feature_names=["smiles"], DESCR=descr, filename=str(path),
        n_invalid_dropped=n_invalid, metric="neg_mean_rmse",
    )
