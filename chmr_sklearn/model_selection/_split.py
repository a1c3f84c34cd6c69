"""Murcko-scaffold splits that reproduce the benchmark protocols, and scaffold groups.

Two protocols (DESIGN §5, reference §2):

``method="ogb"``
    The deterministic scaffold split of Hu et al. 2020 (pretrain-gnns ``scaffold_split``), which
    OGB's ``ogbg-mol*`` split files and CHMR's MoleculeNet numbers use. Scaffold = RDKit
    ``MurckoScaffoldSmiles(includeChirality=True)``. Groups are ordered by
    ``sorted(key=(size, first index), reverse=True)`` - largest first and, among equal sizes,
    the group whose first molecule comes **later** in the file first (that is what
    ``reverse=True`` does to the tie-break; it changes which singletons reach valid/test).
    Each whole group goes to train if ``len(train) + len(group) <= frac_train * n``, else to
    valid if ``len(train) + len(valid) + len(group) <= (frac_train + frac_valid) * n``, else
    to test. No group straddles two parts.

``method="random_groups"``
    InfoAlign's ``scaffold_split`` (ChEMBL2K, Broad6K; ToxCast in its current code). Groups in
    order of first appearance are shuffled by the legacy numpy generator
    (``np.random.seed(s); np.random.shuffle(groups)``), then molecules are dealt one by one:
    the first ``int(frac_train * n)`` to train, up to ``int(frac_valid * n)`` more to valid,
    the rest to test. A group **can straddle** a boundary (this is the protocol: ChEMBL2K with
    seed 3 gives 1413/353/589 with one straddling group).

Invalid entries (SMILES RDKit cannot parse, None, NaN) are never dropped: each distinct raw
entry is a group of its own (identical strings share a group), and a warning says how many.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Hashable, Sequence

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem.Scaffolds import MurckoScaffold
from sklearn.utils import check_random_state

from .._inputs import molecule_column, to_mol

__all__ = ["scaffold_groups", "scaffold_split"]

SPLIT_METHODS = ("ogb", "random_groups")


def _scaffold_keys(X: Any, smiles_col: str | int | None, include_chirality: bool) -> list[Hashable]:
    """One hashable key a row: ("scaffold", SMILES) or ("invalid", raw entry)."""
    values = molecule_column(X, smiles_col).values
    keys: list[Hashable] = []
    n_invalid = 0
    RDLogger.DisableLog("rdApp.*")
    try:
        for entry in values:
            mol = to_mol(entry)
            key: Hashable | None = None
            if mol is not None:
                try:
                    key = ("scaffold", MurckoScaffold.MurckoScaffoldSmiles(
                        mol=mol, includeChirality=include_chirality))
                except Exception:  # RDKit can fail on exotic valid molecules; treat as invalid
                    key = None
            if key is None:
                n_invalid += 1
                raw = entry if isinstance(entry, str) else (
                    Chem.MolToSmiles(entry) if isinstance(entry, Chem.Mol) else repr(entry))
                key = ("invalid", raw)
            keys.append(key)
    finally:
        RDLogger.EnableLog("rdApp.*")
    if n_invalid:
        warnings.warn(
            f"{n_invalid} of {len(keys)} entries are not valid molecules (or have no Murcko "
            "scaffold); each distinct entry forms its own scaffold group. No row is dropped.",
            UserWarning,
            stacklevel=3,
        )
    return keys


def _group_lists(keys: Sequence[Hashable]) -> list[list[int]]:
    """Row indices of each group, groups in order of first appearance, indices ascending."""
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def scaffold_groups(
    X: Any,
    *,
    smiles_col: str | int | None = "smiles",
    include_chirality: bool = True,
) -> np.ndarray:
    """Integer Murcko-scaffold group of every molecule, for ``GroupKFold`` & co.

    Parameters
    ----------
    X : array-like of SMILES / RDKit Mol, or DataFrame
        Molecules (any input form accepted by the estimators).
    smiles_col : str or int, default="smiles"
        Molecule column of a DataFrame or 2-D array.
    include_chirality : bool, default=True
        Keep stereo marks in the scaffold SMILES (as both benchmark protocols do).

    Returns
    -------
    groups : ndarray of int, shape (n_samples,)
        Group ids ``0 .. n_groups - 1`` numbered by first appearance. Invalid entries get a
        group of their own (one per distinct raw entry) with a warning.

    Examples
    --------
    >>> scaffold_groups(["c1ccccc1O", "CCO", "c1ccccc1CC", "C1CC1N"])
    array([0, 1, 0, 2])

    With scikit-learn's group-aware splitters:

    >>> from sklearn.model_selection import GroupKFold
    >>> X = ["c1ccccc1O", "CCO", "c1ccccc1CC", "C1CC1N", "CCN", "C1CC1O"]
    >>> folds = list(GroupKFold(n_splits=3).split(X, groups=scaffold_groups(X)))
    >>> len(folds)
    3
    """
    keys = _scaffold_keys(X, smiles_col, include_chirality)
    ids: dict[Hashable, int] = {}
    return np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.intp)


def _check_sizes(sizes: Any) -> tuple[float, float, float]:
    try:
        fractions = tuple(sizes)
    except TypeError:
        fractions = ()
    if len(fractions) != 3 or not all(
        isinstance(f, numbers.Real) and not isinstance(f, bool) and 0 <= f <= 1 for f in fractions
    ):
        raise ValueError(
            f"sizes must be three fractions (train, valid, test) in [0, 1], got {sizes!r}."
        )
    if not np.isclose(sum(fractions), 1.0, rtol=0, atol=1e-6):
        raise ValueError(f"sizes must sum to 1, got {sizes!r} (sum {sum(fractions)}).")
    # keep the caller's floats untouched: the cut-offs must be computed exactly as upstream
    return tuple(float(f) for f in fractions)  # type: ignore[return-value]


def _fill_ogb(groups: list[list[int]], n: int, sizes: tuple[float, float, float]) -> list[list[int]]:
    frac_train, frac_valid, _ = sizes
    ordered = sorted(groups, key=lambda g: (len(g), g[0]), reverse=True)
    train_cutoff = frac_train * n
    valid_cutoff = (frac_train + frac_valid) * n
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for group in ordered:
        if len(train) + len(group) <= train_cutoff:
            train.extend(group)
        elif len(train) + len(valid) + len(group) <= valid_cutoff:
            valid.extend(group)
        else:
            test.extend(group)
    return [train, valid, test]


def _fill_random_groups(
    groups: list[list[int]], n: int, sizes: tuple[float, float, float], random_state: Any
) -> list[list[int]]:
    rng = check_random_state(random_state)
    order = list(range(len(groups)))
    # RandomState.shuffle draws the same swaps for any sequence of this length, so shuffling
    # positions reproduces np.random.seed(s); np.random.shuffle(list_of_groups) exactly.
    rng.shuffle(order)
    train_cutoff = int(sizes[0] * n)
    valid_cutoff = int(sizes[1] * n) + train_cutoff
    parts: list[list[int]] = [[], [], []]
    count = 0
    for g in order:
        for i in groups[g]:
            parts[0 if count < train_cutoff else 1 if count < valid_cutoff else 2].append(i)
            count += 1
    return parts


def scaffold_split(
    X: Any,
    sizes: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    method: str = "ogb",
    random_state: int | np.random.RandomState | None = None,
    smiles_col: str | int | None = "smiles",
    include_chirality: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split molecules into train / valid / test by Murcko scaffold, as the benchmarks do.

    Parameters
    ----------
    X : array-like of SMILES / RDKit Mol, or DataFrame
        Molecules (any input form accepted by the estimators), in dataset order: the order
        matters for both protocols.
    sizes : sequence of 3 floats, default=(0.8, 0.1, 0.1)
        Fractions (train, valid, test); they must sum to 1.
    method : {"ogb", "random_groups"}, default="ogb"
        ``"ogb"``: deterministic, largest scaffold groups first, whole groups (MoleculeNet /
        OGB / CHMR's ToxCast, BBBP, BACE, ClinTox, SIDER, HIV). ``"random_groups"``:
        InfoAlign's shuffled groups dealt molecule by molecule (ChEMBL2K, Broad6K with
        ``sizes=(0.6, 0.15, 0.25), random_state=3``). See the module docstring for the exact
        rules.
    random_state : int, RandomState instance or None, default=None
        Seed of the group shuffle for ``"random_groups"`` (legacy ``RandomState``, identical
        to ``np.random.seed(random_state)``); ``None`` uses numpy's global generator. Ignored
        by ``"ogb"``.
    smiles_col : str or int, default="smiles"
        Molecule column of a DataFrame or 2-D array.
    include_chirality : bool, default=True
        Keep stereo marks in the scaffold SMILES (both protocols do).

    Returns
    -------
    train_idx, valid_idx, test_idx : ndarray of int
        Sorted positional indices; disjoint, together ``0 .. n - 1``.

    Notes
    -----
    Invalid entries are kept: each distinct one is its own group (a warning says how many).
    OGB's files were made with a 2019 RDKit that parsed some SMILES current RDKit rejects and
    rejected a few others (ogbg-molbbbp has 2,039 of BBBP's 2,050 rows, ogbg-molclintox 1,477
    of 1,484), so a split of the raw file can differ from OGB's in where those rows go; for
    BBBP, ``load_bbbp(drop_invalid=True)`` gives OGB's 2,039 molecules and 1631/204/204.

    Examples
    --------
    >>> X = ["c1ccccc1O", "c1ccccc1N", "c1ccccc1C", "C1CCCCC1O", "C1CCCCC1N", "CCO",
    ...      "CCN", "c1ccncc1", "C1CC1", "c1ccoc1"]

    Groups: benzene {0, 1, 2}, cyclohexane {3, 4}, acyclic {5, 6}, then single rings 7, 8, 9.
    Of the two pairs the later one ({5, 6}) goes first and fills train to 5 of 6; {3, 4} no
    longer fits and goes to valid; furan (9, the latest singleton) completes train:

    >>> train, valid, test = scaffold_split(X, sizes=(0.6, 0.2, 0.2))
    >>> train.tolist(), valid.tolist(), test.tolist()
    ([0, 1, 2, 5, 6, 9], [3, 4], [7, 8])
    >>> [len(p) for p in scaffold_split(X, (0.6, 0.2, 0.2), method="random_groups",
    ...                                 random_state=3)]
    [6, 2, 2]
    """
    if method not in SPLIT_METHODS:
        raise ValueError(f"method must be one of {SPLIT_METHODS}, got {method!r}.")
    fractions = _check_sizes(sizes)
    keys = _scaffold_keys(X, smiles_col, include_chirality)
    groups = _group_lists(keys)
    n = len(keys)
    if method == "ogb":
        parts = _fill_ogb(groups, n, fractions)
    else:
        parts = _fill_random_groups(groups, n, fractions, random_state)
    return tuple(np.sort(np.asarray(p, dtype=np.intp)) for p in parts)  # type: ignore[return-value]
