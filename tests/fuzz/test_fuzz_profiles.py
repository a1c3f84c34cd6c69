"""Fuzz ProfileTable: random tables either build correctly or raise one ValueError."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fuzz_strategies import WEHI, budget
from hypothesis import given
from hypothesis import strategies as st
from rdkit import Chem

from chmr_sklearn import CHMRTransformer
from chmr_sklearn.profiles import ProfileTable

KEYS = WEHI[:6] + ["OCC", "CCO"]  # "OCC" and "CCO" are one molecule: a duplicate key
BAD_KEYS = ["xyz", None, "", float("nan")]
_F32_MAX = float(np.finfo(np.float32).max)
SLOW = budget(1, minimum=200)


@st.composite
def tables(draw):
    """(DataFrame, expectation): what ProfileTable must do with it."""
    n = draw(st.integers(0, 7))
    keys = draw(st.lists(st.sampled_from(KEYS + BAD_KEYS), min_size=n, max_size=n))
    n_feat = draw(st.integers(0, 3))
    finite = draw(st.booleans())
    value = st.floats(-1e6, 1e6) if finite else st.floats(allow_nan=True, allow_infinity=True)
    data = {"smiles": keys}
    for j in range(n_feat):
        data[f"f{j}"] = draw(st.lists(value, min_size=n, max_size=n))
    if draw(st.booleans()):
        data["name"] = [f"cmpd{i}" for i in range(n)]  # non-numeric: ignored, never an error
    frame = pd.DataFrame(data)
    if draw(st.booleans()) and n_feat >= 1 and n > 0:
        frame = frame.astype({"f0": object})
        frame.loc[frame.index[0], "f0"] = "1.5"  # a text cell: the column is not numeric any more
    drop_key = draw(st.booleans()) and draw(st.booleans())
    if drop_key:
        frame = frame.drop(columns="smiles")
    if draw(st.integers(0, 5)) == 0 and n_feat >= 2:
        frame.columns = [c if c != "f1" else "f0" for c in frame.columns]  # duplicate column names
    return frame


def _expected_error(frame: pd.DataFrame) -> bool:
    if "smiles" not in frame.columns or len(frame) == 0 or frame.columns.duplicated().any():
        return True
    if any(k is None or not isinstance(k, str) or Chem.MolFromSmiles(k) is None or not k for k in frame["smiles"]):
        return True
    numeric = [c for c in frame.columns if c != "smiles" and pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        return True
    values = frame[numeric].to_numpy(dtype=np.float64)
    return not (np.isfinite(values) & (np.abs(values) <= _F32_MAX)).all()


def _check_table(frame):
    if _expected_error(frame):
        with pytest.raises(ValueError):
            ProfileTable(frame, name="fuzz")
        return
    table = ProfileTable(frame, name="fuzz")
    numeric = [c for c in frame.columns if c != "smiles" and pd.api.types.is_numeric_dtype(frame[c])]
    assert table.feature_names == numeric
    canon = [Chem.MolToInchiKey(Chem.MolFromSmiles(s)) for s in frame["smiles"]]
    expected = frame[numeric].astype(np.float64).groupby(pd.Series(canon, index=frame.index), sort=False).mean()
    assert table.keys.tolist() == expected.index.tolist()
    np.testing.assert_allclose(table.features, expected.to_numpy(), rtol=1e-6, atol=1e-6)
    assert table.n_duplicates_ == len(frame) - len(expected)
    assert np.isfinite(table.features).all()
    # align keeps one row per query, in order, NaN where unobserved
    queries = canon[::-1] + [None, "NOTAKEY"]
    X, observed = table.align(queries)
    assert X.shape == (len(queries), table.dim)
    assert observed.tolist() == [True] * len(canon) + [False, False]
    np.testing.assert_array_equal(X[0], table.features[table.keys.tolist().index(canon[-1])])
    assert np.isnan(X[-2:]).all()


@budget(5)
@given(frame=tables())
def test_profile_table_builds_or_raises(frame):
    _check_table(frame)


@pytest.mark.slow
@SLOW
@given(frame=tables())
def test_profile_table_builds_or_raises_long(frame):
    _check_table(frame)


def test_values_beyond_float32_are_rejected_regression():
    """Bug found by fuzzing: 1e300 (finite in float64) became inf in the float32 features."""
    frame = pd.DataFrame({"smiles": ["CCO", "CCN"], "f": [1e300, 1.0]})
    with pytest.raises(ValueError, match=r"1 NaN or infinite value.*row 0, 'f'.*float32"):
        ProfileTable(frame)
    assert np.isfinite(ProfileTable(frame.assign(f=[3e38, 1.0])).features).all()


@pytest.mark.parametrize("bad", [5, None, 1.5])
def test_non_iterable_arguments_raise_valueerror_regression(bad):
    """Bug found by fuzzing: feature_cols=5 / align(None) raised TypeError."""
    frame = pd.DataFrame({"smiles": ["CCO"], "f": [1.0]})
    if bad is not None:  # None is feature_cols' default
        with pytest.raises(ValueError, match="feature_cols"):
            ProfileTable(frame, feature_cols=bad)
    with pytest.raises(ValueError, match="sequence of keys"):
        ProfileTable(frame).align(bad)


@pytest.mark.parametrize(
    "profile",
    [
        pd.DataFrame({"smiles": ["CCO", "CCN"], "f": [np.nan, 1.0]}),
        pd.DataFrame({"smiles": ["CCO", "CCN"], "f": [np.inf, 1.0]}),
        pd.DataFrame({"smiles": ["CCO", "CCN"], "f": ["a", "b"]}),
        pd.DataFrame({"f": [1.0, 2.0]}),
        pd.DataFrame({"smiles": ["CCO", "xyz"], "f": [1.0, 2.0]}),
        pd.DataFrame({"smiles": ["c1ccncc1"], "f": [1.0]}),  # no overlap with the molecules
        np.ones((2, 3)),
        pd.DataFrame({"smiles": [], "f": []}),
    ],
    ids=["nan", "inf", "text", "no-key", "bad-smiles", "no-overlap", "array", "empty"],
)
def test_bad_profiles_rejected_before_pretraining(profile):
    t = CHMRTransformer(pretrained=None, max_epochs=1, batch_size=4, device="cpu", random_state=0)
    with pytest.raises(ValueError):
        t.fit(["CCO", "CCN", "c1ccccc1"], profiles={"expression": profile})
    assert not hasattr(t, "model_")
