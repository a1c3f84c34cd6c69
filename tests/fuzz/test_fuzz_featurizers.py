"""Fuzz the featurizers and CHMRTransformer: rows are never lost, shifted or wrongly NaN.

Every batch either works (one output row per input row, row i describes input i, invalid rows
NaN under ``on_invalid="nan"``) or raises one InvalidMoleculeError naming exactly the invalid
rows. Any other exception fails the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fuzz_strategies import (
    HUGE,
    INVALID,
    TRICKY,
    UNEMBEDDABLE,
    WEHI,
    batches,
    budget,
    expected_valid,
)
from hypothesis import given
from hypothesis import strategies as st
from rdkit import Chem

from chmr_sklearn import CHMRTransformer
from chmr_sklearn._inputs import InvalidMoleculeError
from chmr_sklearn.featurize import (
    ConformerFeaturizer,
    FingerprintFeaturizer,
    GraphFeaturizer,
)

FEATURIZERS = [FingerprintFeaturizer, GraphFeaturizer, ConformerFeaturizer]
SLOW = budget(1, minimum=200)


def _invalid_rows(batch) -> list[int]:
    return [i for i, entry in enumerate(batch) if not expected_valid(entry)]


def _check_raise(make, batch) -> bool:
    """``on_invalid="raise"``: an error naming exactly the bad rows, or success. True if raised."""
    bad = _invalid_rows(batch)
    if not bad:
        return False
    with pytest.raises(InvalidMoleculeError) as err:
        make()
    assert err.value.rows == bad
    assert isinstance(err.value, ValueError)
    return True


def _check_featurizer(cls, batch, on_invalid):
    featurizer = cls(on_invalid=on_invalid)
    if on_invalid == "raise" and _check_raise(lambda: featurizer.fit_transform(batch), batch):
        return
    out = featurizer.fit_transform(batch)
    assert out.shape[0] == len(batch)
    bad = set(_invalid_rows(batch))
    for i, entry in enumerate(batch):
        row = out[i]
        if cls is GraphFeaturizer:
            if i in bad:
                assert row[0] is None
                continue
            n_atoms = entry.GetNumAtoms() if isinstance(entry, Chem.Mol) else Chem.MolFromSmiles(
                entry.strip()).GetNumAtoms()
            assert row[0].x.shape[0] == n_atoms
            alone = cls().fit_transform([entry])[0, 0]
            for a, b in zip(row[0], alone):
                np.testing.assert_array_equal(a, b)
            continue
        if i in bad:
            assert np.isnan(row).all()
            continue
        if cls is ConformerFeaturizer:
            assert row[-1] in (0.0, 1.0)
            assert np.isfinite(row[:-1]).all() if row[-1] == 1.0 else np.isnan(row[:-1]).all()
        else:
            assert np.isfinite(row).all() and set(np.unique(row)) <= {0.0, 1.0}
        # row i describes input i: the same numbers as featurizing it alone
        np.testing.assert_array_equal(row, cls().fit_transform([entry])[0])


@pytest.mark.parametrize("cls", FEATURIZERS, ids=lambda c: c.__name__)
@budget(3)
@given(batch=batches(huge=False), on_invalid=st.sampled_from(["raise", "nan"]))
def test_featurizer_rows_preserved(cls, batch, on_invalid):
    _check_featurizer(cls, batch, on_invalid)


@pytest.mark.slow
@pytest.mark.parametrize("cls", FEATURIZERS, ids=lambda c: c.__name__)
@SLOW
@given(batch=batches(max_size=12), on_invalid=st.sampled_from(["raise", "nan"]))
def test_featurizer_rows_preserved_long(cls, batch, on_invalid):
    _check_featurizer(cls, batch, on_invalid)


def test_fixed_edge_cases_featurize():
    """Every tricky/huge/invalid case at once, in each featurizer (no hypothesis needed)."""
    batch = TRICKY + HUGE + INVALID + [Chem.MolFromSmiles("c1ccccc1O", sanitize=False),
                                       Chem.MolFromSmarts("[#6]~[#7,#8]")]
    assert _invalid_rows(batch) == list(range(len(TRICKY) + len(HUGE), len(TRICKY) + len(HUGE) + len(INVALID)))
    for cls in FEATURIZERS:
        _check_featurizer(cls, batch, "nan")
        _check_featurizer(cls, batch, "raise")
    conf = ConformerFeaturizer(on_invalid="nan").fit_transform(batch)
    # salts/tiny species and the huge ones (> max_atoms) get no conformer: flag 0, not NaN
    assert conf[TRICKY.index("[Na+].[Cl-]"), -1] == 0.0
    assert (conf[len(TRICKY): len(TRICKY) + len(HUGE), -1] == 0.0).all()
    assert conf[TRICKY.index("C[C@H](N)C(=O)O"), -1] == 1.0


def test_unembeddable_molecules_get_flag_zero_and_a_finite_embedding(transformers):
    """Valid molecules whose conformer cannot be embedded: NaN descriptors and conformer_ok = 0
    (not an invalid row), and CHMRTransformer still embeds them (the 3D latent is masked)."""
    conf = ConformerFeaturizer().fit_transform(UNEMBEDDABLE)
    assert (conf[:, -1] == 0.0).all() and np.isnan(conf[:, :-1]).all()
    emb = transformers["raise"].transform(UNEMBEDDABLE + ["CCO"])
    assert np.isfinite(emb).all()
    assert len({row.tobytes() for row in emb}) == len(emb)


@pytest.mark.parametrize("empty", [[], (), np.array([], dtype=object), pd.Series([], dtype=object),
                                   pd.DataFrame({"smiles": []}), np.empty((0, 2), dtype=object)],
                         ids=["list", "tuple", "array", "series", "frame", "2d-array"])
def test_empty_input_raises_valueerror(empty):
    for cls in FEATURIZERS:
        with pytest.raises(ValueError, match="0 molecules"):
            cls().fit_transform(empty)


def test_unsanitized_mol_input_regression():
    """Bug found by fuzzing: an unsanitized or SMARTS Mol crashed deep in RDKit (RuntimeError)."""
    raw = Chem.MolFromSmiles("c1ccccc1O", sanitize=False)
    broken = Chem.MolFromSmiles("c1cccc1", sanitize=False)  # cannot be kekulized
    for cls in FEATURIZERS:
        out = cls(on_invalid="nan").fit_transform([raw, broken, Chem.MolFromSmarts("[#6]~[#7,#8]")])
        assert out.shape[0] == 3
    fp = FingerprintFeaturizer(on_invalid="nan").fit_transform([raw, broken, "Oc1ccccc1"])
    np.testing.assert_array_equal(fp[0], fp[2])
    assert np.isnan(fp[1]).all()
    with pytest.raises(InvalidMoleculeError) as err:
        GraphFeaturizer().fit_transform([raw, broken])
    assert err.value.rows == [1]
    assert raw.NeedsUpdatePropertyCache()  # the caller's Mol is left untouched


@pytest.mark.parametrize("X", [
    {"smiles": ["CCO", "CCN"]},  # a dict iterates over its keys: one "molecule" called "smiles"
    {"CCO", "CCN"},  # a set has no row order
    pd.DataFrame([["CCO", "CCN"]], columns=["smiles", "smiles"]),  # two "smiles" columns
    pd.DataFrame({("smiles", "a"): ["CCO"], ("smiles", "b"): ["CCN"]}),  # a MultiIndex level
], ids=["dict", "set", "duplicated-column", "multiindex"])
def test_containers_without_row_order_raise_regression(X):
    """Bug found by fuzzing: a dict or set was accepted with rows not matching the input (a dict
    gave one row per key); a non-unique molecule column turned every row into an invalid one."""
    for estimator in (FingerprintFeaturizer(on_invalid="nan"), CHMRTransformer(on_invalid="nan", device="cpu")):
        with pytest.raises(ValueError, match="Expected molecules|not unique"):
            estimator.fit(X)


# ----------------------------------------------------------------------- CHMRTransformer


@pytest.fixture(scope="module")
def transformers():
    """The shipped model, without the cache so that every call really recomputes; float64 so that
    a row's numbers cannot depend on its batch (a shifted row would differ exactly)."""
    return {mode: CHMRTransformer(on_invalid=mode, cache=False, device="cpu", precision="float64").fit(["CCO"])
            for mode in ("raise", "nan")}


def _check_transformer(transformers, batch, on_invalid, container):
    t = transformers[on_invalid]
    index = pd.RangeIndex(len(batch))[::-1]
    X = {"list": batch, "series": pd.Series(batch, index=index, dtype=object),
         "frame": pd.DataFrame({"id": range(len(batch)), "smiles": pd.Series(batch, dtype=object)})}[container]
    if container == "frame":
        t = CHMRTransformer(on_invalid=on_invalid, cache=False, device="cpu", precision="float64").fit(X)
    if on_invalid == "raise" and _check_raise(lambda: t.transform(X), batch):
        return
    emb = t.transform(X)
    codes = t.tree_codes(X)
    assert emb.shape == (len(batch), 2091) and codes.shape[0] == len(batch)
    bad = set(_invalid_rows(batch))
    single = transformers["nan"]
    for i, entry in enumerate(batch):
        if i in bad:
            assert np.isnan(emb[i]).all() and (codes[i] == -1).all()
        else:
            assert np.isfinite(emb[i]).all() and (codes[i] >= 0).all()
            # float64 inference: a molecule's embedding does not depend on its batch
            np.testing.assert_array_equal(emb[i], single.transform([entry])[0])


@given(batch=batches(max_size=5), on_invalid=st.sampled_from(["raise", "nan"]),
       container=st.sampled_from(["list", "series", "frame"]))
def test_transformer_rows_preserved(transformers, batch, on_invalid, container):
    _check_transformer(transformers, batch, on_invalid, container)


@pytest.mark.slow
@SLOW
@given(batch=batches(max_size=10), on_invalid=st.sampled_from(["raise", "nan"]),
       container=st.sampled_from(["list", "series", "frame"]))
def test_transformer_rows_preserved_long(transformers, batch, on_invalid, container):
    _check_transformer(transformers, batch, on_invalid, container)


def test_transformer_single_and_duplicated_rows(transformers):
    t = transformers["nan"]
    one = t.transform([WEHI[0]])
    assert one.shape == (1, 2091)
    dup = t.transform([WEHI[0], "xyz", WEHI[0], WEHI[0]])
    np.testing.assert_array_equal(dup[[0, 2, 3]], np.repeat(one, 3, axis=0))
    assert np.isnan(dup[1]).all()
    for empty in ([], pd.Series([], dtype=object), np.array([], dtype=object)):
        with pytest.raises(ValueError, match="0 molecules"):
            t.transform(empty)
