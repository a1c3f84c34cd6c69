"""Loaders of real cell-response profiles keyed by molecule (L1000 expression, Cell Painting).

The three ``cell/derived_*`` files were built locally from downloadable originals (recipes in
the registry). ``derived_l1000_drugbank`` is rebuilt here when missing; the two CMEA files need
R data files read with ``pyreadr`` and are not rebuilt automatically.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._base import _BUILDERS, ChecksumError, fetch_file, get_data_home, store_verified
from ._registry import REGISTRY

__all__ = ["load_cmea_paired", "load_l1000_drugbank"]

_L1000_META = ["drugbank_id", "name", "inchikey", "smiles"]
_CMEA_META = ["broad_id", "pert_iname", "smiles", "inchikey"]


def _build_l1000_drugbank_frame(home: Path, download_if_missing: bool) -> pd.DataFrame:
    """Rebuild the L1000 x DrugBank table from its two originals (registry recipe)."""
    from rdkit import Chem, RDLogger

    consensi = pd.read_csv(
        fetch_file("l1000_consensi_drugbank", data_home=home, download_if_missing=download_if_missing),
        sep="\t",
    )
    drugbank = pd.read_csv(
        fetch_file("drugbank", data_home=home, download_if_missing=download_if_missing), sep="\t"
    )
    genes = [c for c in consensi.columns if c != "perturbagen"]
    meta = consensi[["perturbagen"]].rename(columns={"perturbagen": "drugbank_id"}).merge(
        drugbank[["drugbank_id", "name", "inchikey", "inchi"]], on="drugbank_id", how="left"
    )
    meta["inchikey"] = meta["inchikey"].str.replace("InChIKey=", "", regex=False)
    RDLogger.DisableLog("rdApp.*")
    try:
        mols = [Chem.MolFromInchi(i) if isinstance(i, str) else None for i in meta["inchi"]]
    finally:
        RDLogger.EnableLog("rdApp.*")
    meta["smiles"] = [Chem.MolToSmiles(m) if m is not None else np.nan for m in mols]
    return pd.concat([meta[_L1000_META], consensi[genes]], axis=1)


def _build_l1000_drugbank_bytes(home: Path, download_if_missing: bool) -> bytes:
    return _build_l1000_drugbank_frame(home, download_if_missing).to_csv(index=False).encode()


_BUILDERS["derived_l1000_drugbank"] = _build_l1000_drugbank_bytes


def _l1000_descr(frame: pd.DataFrame, rebuilt_in_memory: bool = False) -> str:
    entry = REGISTRY["derived_l1000_drugbank"]
    feats = frame.columns[len(_L1000_META):]
    values = frame[feats].to_numpy(dtype=np.float64)
    n_nan = int(np.isnan(values).sum())
    lo, hi = np.nanmin(values), np.nanmax(values)
    within = 100 * np.mean(np.abs(values[~np.isnan(values)]) <= 10)
    n_unique = frame["smiles"].nunique()
    n_repeat = int(frame["inchikey"].duplicated().sum())
    text = f"""LINCS L1000 consensus signatures of DrugBank compounds
======================================================

:Size: {len(frame)} compounds x {len(feats)} landmark genes (+ {', '.join(_L1000_META)})
:Values: MODZ consensus z-scores (float64), {n_nan} NaN,
         range [{lo:.1f}, {hi:.1f}] ({within:.1f} % within +-10: heavy tails)
:Genes: column names are Entrez gene ids (strings)
:Molecules: {n_unique} distinct SMILES; {n_repeat} rows repeat an InChIKey
            (distinct DrugBank ids for one structure)
:Derived file: {entry['path']} (sha256 {entry['sha256']}); no download URL
:Recipe: {entry['recipe']}
:Sources: {REGISTRY['l1000_consensi_drugbank']['url']}
          {REGISTRY['drugbank']['url']}
:Licence: {entry['licence']}
"""
    if rebuilt_in_memory:
        text += ("\nRebuilt in memory: it differs in bytes from the registered file, so it was "
                 "not cached.\n")
    return text


def load_l1000_drugbank(
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
) -> pd.DataFrame:
    """Load L1000 gene-expression consensus profiles of 1,170 DrugBank compounds.

    Columns ``drugbank_id, name, inchikey, smiles`` then the 978 measured landmark genes (Entrez
    ids as column names, MODZ z-scores). There are no missing values. The description (source,
    recipe, licence: CC BY-NC 4.0 because of the DrugBank structures) is in
    ``frame.attrs["DESCR"]``.

    The table is a derived file. When it is missing and ``download_if_missing=True`` it is
    rebuilt from its two downloadable originals (``l1000_consensi_drugbank`` and ``drugbank``):
    DrugBank InChI -> RDKit ``MolFromInchi`` -> ``MolToSmiles``. The rebuild is cached only if it
    reproduces the registered bytes (another RDKit or pandas may write SMILES or floats
    differently); otherwise it is returned uncached with a warning.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`chmr_sklearn.datasets.get_data_home`.
    download_if_missing : bool, default=True
        Allow rebuilding (and downloading the originals) when the file is missing.

    Returns
    -------
    frame : pandas.DataFrame of shape (1170, 982)

    Examples
    --------
    >>> df = load_l1000_drugbank()
    >>> df.shape, list(df.columns[:4])
    ((1170, 982), ['drugbank_id', 'name', 'inchikey', 'smiles'])
    """
    name = "derived_l1000_drugbank"
    home = get_data_home(data_home)
    rebuilt = False
    try:
        frame = pd.read_csv(fetch_file(name, data_home=home, download_if_missing=False))
    except FileNotFoundError:
        entry = REGISTRY[name]
        if not download_if_missing:
            raise FileNotFoundError(
                f"{entry['path']} is not in {str(home)!r}. It is derived: {entry['recipe']} "
                "Pass download_if_missing=True to rebuild it from the two originals."
            ) from None
        frame = _build_l1000_drugbank_frame(home, True)
        try:
            path = store_verified(name, frame.to_csv(index=False).encode(), data_home=home)
        except ChecksumError as exc:
            warnings.warn(f"Rebuilt L1000 table not cached: {exc}", UserWarning, stacklevel=2)
            rebuilt = True
        else:
            frame = pd.read_csv(path)  # identical dtypes whichever way the table was obtained
    frame.attrs["DESCR"] = _l1000_descr(frame, rebuilt)
    return frame


_CMEA_DESCR = """CMEA paired Cell Painting + L1000 profiles of 162 compounds
============================================================

:Size: the same {n} compounds, in the same row order, in both tables
:cell_painting: {n} x ({n_meta} meta + {n_cp} CellProfiler features; U2OS Cell Painting,
               Broad/Bray set), float64, {nan_cp} NaN, range [{min_cp:.1f}, {max_cp:.1f}]
:expression: {n} x ({n_meta} meta + {n_ge} L1000 landmark genes, gene symbols as column names),
             float64, {nan_ge} NaN, range [{min_ge:.1f}, {max_ge:.1f}]
:Meta columns: {meta}
               (smiles, inchikey from LINCS pertinfo, joined on the Broad id)
:Derived files: {path_cp} (sha256 {sha_cp})
                {path_ge} (sha256 {sha_ge})
:Recipe: {recipe}
:Sources: {url_cp}
          {url_ge}
          {url_pi}
:Licence: {licence}
"""


def load_cmea_paired(
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
) -> Bunch:
    """Load 162 compounds that have both a Cell Painting and an L1000 profile (CMEA package).

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`chmr_sklearn.datasets.get_data_home`.
    download_if_missing : bool, default=True
        Kept for symmetry: both files are derived and cannot be downloaded or rebuilt here
        (rebuilding needs the R data files and ``pyreadr``; the error message says how).

    Returns
    -------
    data : Bunch
        ``cell_painting`` (DataFrame 162 x (4 + 812)), ``expression`` (DataFrame
        162 x (4 + 978)), ``meta_columns`` (the 4 leading columns: broad_id, pert_iname,
        smiles, inchikey), ``cell_painting_features``, ``expression_features`` (column
        names), ``DESCR``. Rows are aligned: row i of both tables is the same compound.

    Examples
    --------
    >>> cmea = load_cmea_paired()
    >>> cmea.cell_painting.shape, cmea.expression.shape
    ((162, 816), (162, 982))
    """
    home = get_data_home(data_home)
    cp = pd.read_csv(fetch_file("derived_cmea_cellpainting", data_home=home,
                                download_if_missing=download_if_missing))
    ge = pd.read_csv(fetch_file("derived_cmea_l1000", data_home=home,
                                download_if_missing=download_if_missing))
    if list(cp.columns[:4]) != _CMEA_META or list(ge.columns[:4]) != _CMEA_META:
        raise ValueError(f"Unexpected CMEA layout: the first columns must be {_CMEA_META}.")
    if not cp["broad_id"].equals(ge["broad_id"]):
        raise ValueError("The CMEA Cell Painting and L1000 tables are not in the same row order.")
    cp_feats, ge_feats = list(cp.columns[4:]), list(ge.columns[4:])
    cp_vals = cp[cp_feats].to_numpy(dtype=np.float64)
    ge_vals = ge[ge_feats].to_numpy(dtype=np.float64)
    e_cp, e_ge = REGISTRY["derived_cmea_cellpainting"], REGISTRY["derived_cmea_l1000"]
    descr = _CMEA_DESCR.format(
        n=len(cp), n_meta=len(_CMEA_META), n_cp=len(cp_feats), n_ge=len(ge_feats),
        nan_cp=int(np.isnan(cp_vals).sum()), nan_ge=int(np.isnan(ge_vals).sum()),
        min_cp=np.nanmin(cp_vals), max_cp=np.nanmax(cp_vals),
        min_ge=np.nanmin(ge_vals), max_ge=np.nanmax(ge_vals),
        meta=", ".join(_CMEA_META), path_cp=e_cp["path"], sha_cp=e_cp["sha256"],
        path_ge=e_ge["path"], sha_ge=e_ge["sha256"], recipe=e_cp["recipe"],
        url_cp=REGISTRY["cmea_cell_morphology_rda"]["url"],
        url_ge=REGISTRY["cmea_transcriptomic_rda"]["url"],
        url_pi=REGISTRY["lincs_pertinfo"]["url"], licence=e_cp["licence"],
    )
    return Bunch(
        cell_painting=cp,
        expression=ge,
        meta_columns=list(_CMEA_META),
        cell_painting_features=cp_feats,
        expression_features=ge_feats,
        DESCR=descr,
    )
