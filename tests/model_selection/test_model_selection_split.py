"""Scaffold splits: the benchmark counts on the real files, the exact fill rules, edge cases."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem.Scaffolds import MurckoScaffold
from sklearn.model_selection import GroupKFold

import chmr_sklearn.model_selection as ms
from chmr_sklearn.datasets import load_bbbp, load_bace, load_broad6k, load_chembl2k, load_hiv
from chmr_sklearn.model_selection import scaffold_groups, scaffold_split
from chmr_sklearn.model_selection import _split


def _check_partition(parts, n):
    allidx = np.concatenate(parts)
    assert all(p.dtype.kind == "i" and np.all(np.diff(p) > 0) for p in parts)  # sorted, unique
    assert len(allidx) == n and set(allidx.tolist()) == set(range(n))  # disjoint + complete


def _straddling(parts, keys) -> int:
    where = {}
    for part, idx in enumerate(parts):
        for i in idx:
            where.setdefault(keys[i], set()).add(part)
    return sum(len(s) > 1 for s in where.values())


# ---- independent re-statements of the two upstream procedures, used as oracles ------------


def _infoalign_oracle(smiles, seed, ratios=(0.6, 0.15, 0.25)):
    """InfoAlign: groups in first-seen order, shuffled by numpy's *global* legacy generator,
    then dealt molecule by molecule with int() cut-offs."""
    by_scaffold = {}
    for i, s in enumerate(smiles):
        scaffold = Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(Chem.MolFromSmiles(s)))
        by_scaffold.setdefault(scaffold, []).append(i)
    groups = list(by_scaffold.values())
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        np.random.shuffle(groups)
    finally:
        np.random.set_state(state)
    flat = [i for g in groups for i in g]
    n = len(smiles)
    a = int(ratios[0] * n)
    b = a + int(ratios[1] * n)
    return [sorted(flat[:a]), sorted(flat[a:b]), sorted(flat[b:])]


def _ogb_oracle(smiles, fracs=(0.8, 0.1, 0.1)):
    """Hu et al. / OGB: whole groups, (size, first index) descending, cumulative cut-offs."""
    groups = {}
    for i, s in enumerate(smiles):
        groups.setdefault(MurckoScaffold.MurckoScaffoldSmiles(smiles=s, includeChirality=True), []).append(i)
    ordered = sorted(groups.values(), key=lambda g: (len(g), g[0]), reverse=True)
    n = len(smiles)
    out = [[], [], []]
    for g in ordered:
        if len(out[0]) + len(g) > fracs[0] * n:
            target = 2 if len(out[0]) + len(out[1]) + len(g) > (fracs[0] + fracs[1]) * n else 1
        else:
            target = 0
        out[target].extend(g)
    return [sorted(p) for p in out]


# ---- real benchmark files --------------------------------------------------------------


@pytest.fixture(scope="module")
def chembl2k(data_home):
    return load_chembl2k(data_home=data_home)


def test_chembl2k_seed3_counts_and_oracle(chembl2k):
    X = chembl2k.data
    parts = scaffold_split(X, (0.6, 0.15, 0.25), method="random_groups", random_state=3)
    assert [len(p) for p in parts] == [1413, 353, 589]
    _check_partition(parts, 2355)
    assert [p.tolist() for p in parts] == _infoalign_oracle(X.tolist(), 3)
    # the protocol deals molecules, so exactly one group straddles a boundary here
    keys = _split._scaffold_keys(X, "smiles", True)
    assert _straddling(parts, keys) == 1
    # the Bunch carries the protocol
    assert all(np.array_equal(a, b) for a, b in zip(parts, scaffold_split(X, **chembl2k.split_protocol)))


def test_chembl2k_other_seed_differs_but_same_counts(chembl2k):
    a = scaffold_split(chembl2k.data, (0.6, 0.15, 0.25), method="random_groups", random_state=3)
    b = scaffold_split(chembl2k.data, (0.6, 0.15, 0.25), method="random_groups", random_state=4)
    assert [len(p) for p in b] == [1413, 353, 589]
    assert not np.array_equal(a[2], b[2])


def test_broad6k_seed3_counts(data_home):
    bunch = load_broad6k(data_home=data_home)
    parts = scaffold_split(bunch.data, **bunch.split_protocol)
    assert [len(p) for p in parts] == [3940, 985, 1642]
    _check_partition(parts, 6567)


def test_bbbp_ogb_split(data_home):
    raw = load_bbbp(data_home=data_home)
    with pytest.warns(UserWarning, match="11 of 2050 entries are not valid"):
        parts = scaffold_split(raw.data, method="ogb")
    assert [len(p) for p in parts] == [1640, 205, 205]
    _check_partition(parts, 2050)
    with pytest.warns(UserWarning):
        keys = _split._scaffold_keys(raw.data, "smiles", True)
    assert _straddling(parts, keys) == 0
    # OGB's ogbg-molbbbp holds the 2,039 parsable molecules: 1631/204/204
    clean = load_bbbp(data_home=data_home, drop_invalid=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing invalid left, so no warning
        parts = scaffold_split(clean.data, (0.8, 0.1, 0.1), method="ogb")
    assert [len(p) for p in parts] == [1631, 204, 204]
    assert [p.tolist() for p in parts] == _ogb_oracle(clean.data.tolist())


def test_bace_ogb_split_matches_oracle(data_home):
    X = load_bace(data_home=data_home).data
    parts = scaffold_split(X)
    assert [len(p) for p in parts] == [1210, 151, 152]
    assert [p.tolist() for p in parts] == _ogb_oracle(X.tolist())


@pytest.mark.slow
def test_hiv_ogb_split_counts(data_home):
    X = load_hiv(data_home=data_home).data
    with pytest.warns(UserWarning):
        parts = scaffold_split(X)
    assert [len(p) for p in parts] == [32901, 4113, 4113]  # ogbg-molhiv's sizes
    _check_partition(parts, 41127)


# ---- exact rules on hand-made molecules ------------------------------------------------

TOY = ["c1ccccc1O", "c1ccccc1N", "c1ccccc1C",  # benzene x3  (rows 0-2)
       "C1CCCCC1O", "C1CCCCC1N",               # cyclohexane x2 (3-4)
       "CCO", "CCN",                            # acyclic: scaffold "" x2 (5-6)
       "c1ccncc1", "C1CC1", "c1ccoc1"]          # singletons (7, 8, 9)


def test_ogb_tie_break_is_later_first_index_first():
    # sizes 3, 2, 2, 1, 1, 1; the two pairs tie on size: {5, 6} (first index 5) is taken
    # before {3, 4}; train cut-off 6 -> {0,1,2} + {5,6} = 5, {3,4} would make 7 -> valid
    # (5 + 0 + 2 <= 8); then singleton 9 fits train (6), 8 and 7 go to test.
    train, valid, test = scaffold_split(TOY, (0.6, 0.2, 0.2))
    assert train.tolist() == [0, 1, 2, 5, 6, 9]
    assert valid.tolist() == [3, 4]
    assert test.tolist() == [7, 8]
    assert [p.tolist() for p in (train, valid, test)] == _ogb_oracle(TOY, (0.6, 0.2, 0.2))


def test_random_groups_deals_molecules_across_boundaries():
    # n = 10, cut-offs int(0.55 * 10) = 5 and 5 + int(0.25 * 10) = 7
    parts = scaffold_split(TOY, (0.55, 0.25, 0.2), method="random_groups", random_state=0)
    assert [len(p) for p in parts] == [5, 2, 3]
    groups = [[0, 1, 2], [3, 4], [5, 6], [7], [8], [9]]  # first-seen order
    np.random.RandomState(0).shuffle(groups)
    flat = [i for g in groups for i in g]
    assert [p.tolist() for p in parts] == [sorted(flat[:5]), sorted(flat[5:7]), sorted(flat[7:])]
    # with this seed a group is cut by a boundary: allowed by this protocol
    keys = _split._scaffold_keys(TOY, "smiles", True)
    assert _straddling(parts, keys) >= 1


def test_random_state_forms():
    a = scaffold_split(TOY, (0.6, 0.2, 0.2), method="random_groups", random_state=7)
    b = scaffold_split(TOY, (0.6, 0.2, 0.2), method="random_groups",
                       random_state=np.random.RandomState(7))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # the ogb method ignores the seed
    c = scaffold_split(TOY, (0.6, 0.2, 0.2), method="ogb", random_state=123)
    assert all(np.array_equal(x, y) for x, y in zip(c, scaffold_split(TOY, (0.6, 0.2, 0.2))))


def test_input_forms_agree():
    mols = [Chem.MolFromSmiles(s) for s in TOY]
    df = pd.DataFrame({"id": range(10), "mol": TOY})
    ref = scaffold_split(TOY, (0.6, 0.2, 0.2))
    for X, kw in [(mols, {}), (np.array(TOY, dtype=object), {}), (pd.Series(TOY), {}),
                  (df, {"smiles_col": "mol"})]:
        assert all(np.array_equal(a, b) for a, b in zip(ref, scaffold_split(X, (0.6, 0.2, 0.2), **kw)))


def test_invalid_entries_keep_their_rows():
    X = ["c1ccccc1O", "not_a_smiles", "c1ccccc1N", None, "not_a_smiles", "CCO"]
    with pytest.warns(UserWarning, match="3 of 6 entries"):
        groups = scaffold_groups(X)
    # the two identical bad strings share a group; None is a group of its own
    assert groups.tolist() == [0, 1, 0, 2, 1, 3]
    with pytest.warns(UserWarning):
        parts = scaffold_split(X, (0.5, 0.25, 0.25))
    _check_partition(parts, 6)


def test_chirality_option():
    # enantiomers whose stereocentre stays in the scaffold (it links two rings)
    X = ["O=C1N[C@@H](c2ccccc2)CC1", "O=C1N[C@H](c2ccccc2)CC1"]
    assert scaffold_groups(X).tolist() == [0, 1]
    assert scaffold_groups(X, include_chirality=False).tolist() == [0, 0]


def test_scaffold_groups_with_group_kfold(chembl2k):
    X = chembl2k.data
    groups = scaffold_groups(X)
    assert groups.shape == (2355,) and groups.min() == 0 and groups.max() == 1770
    for train, test in GroupKFold(n_splits=5).split(X, groups=groups):
        assert not set(groups[train]) & set(groups[test])


@pytest.mark.parametrize("sizes", [(0.8, 0.1), (0.8, 0.1, 0.2), (0.5, 0.6, -0.1), "abc", 0.8,
                                   (True, 0, 0)])
def test_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        scaffold_split(TOY, sizes)


def test_bad_method_and_empty_input():
    with pytest.raises(ValueError, match="method"):
        scaffold_split(TOY, method="scaffold")
    with pytest.raises(ValueError, match="0 molecules"):
        scaffold_split([])


def test_infoalign_scaffold_function_equals_ours(chembl2k):
    # InfoAlign keys on MolToSmiles(GetScaffoldForMol(mol)); we use MurckoScaffoldSmiles with
    # includeChirality=True. They must be the same strings for the split to be the same.
    for s in chembl2k.data.iloc[::5]:
        mol = Chem.MolFromSmiles(s)
        assert MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=True) == \
            Chem.MolToSmiles(MurckoScaffold.GetScaffoldForMol(mol))


@pytest.mark.parametrize("module", [ms, _split], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
