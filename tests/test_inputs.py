"""Input policy: accepted containers, invalid rows, never dropping or reordering rows."""

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from chmr_sklearn._inputs import InvalidMoleculeError, molecule_column, raise_for_invalid, to_mol, to_smiles


def test_containers_give_same_molecules(smiles_200):
    smi = smiles_200[:5]
    expected = list(smi)
    for X in (smi, tuple(smi), np.array(smi), pd.Series(smi), pd.Index(smi),
              np.array(smi, dtype=object).reshape(-1, 1), pd.DataFrame({"smiles": smi, "y": range(5)})):
        col = molecule_column(X)
        assert list(col.values) == expected, type(X)
    assert molecule_column(pd.DataFrame({"smiles": smi, "y": range(5)})).n_features == 2
    assert list(molecule_column(pd.DataFrame({"id": range(5), "s": smi}), smiles_col="s").values) == expected
    assert list(molecule_column(np.array([[0, s] for s in smi], dtype=object), smiles_col=1).values) == expected


def test_mols_are_accepted(smiles_200):
    mols = [Chem.MolFromSmiles(s) for s in smiles_200[:3]]
    col = molecule_column(mols)
    assert all(isinstance(m, Chem.Mol) for m in col.values)
    assert to_smiles(mols[0]) == Chem.MolToSmiles(mols[0])


@pytest.mark.parametrize("bad", ["CCO", Chem.MolFromSmiles("CCO")])
def test_single_molecule_is_rejected_with_hint(bad):
    with pytest.raises(ValueError, match="wrap it in a list"):
        molecule_column(bad)


def test_empty_and_bad_shapes():
    with pytest.raises(ValueError, match="0 molecules"):
        molecule_column([])
    with pytest.raises(ValueError, match="0 molecules"):
        molecule_column(pd.DataFrame({"smiles": []}))
    with pytest.raises(ValueError, match="3 dimensions"):
        molecule_column(np.empty((2, 2, 2), dtype=object))
    with pytest.raises(ValueError, match="no molecule column"):
        molecule_column(pd.DataFrame({"a": ["CCO"], "b": [1]}))


@pytest.mark.parametrize("entry", [None, np.nan, "", "   ", 3.5, 7, "C1CC", "not_a_smiles", b"CCO"])
def test_invalid_entries(entry):
    assert to_mol(entry) is None


def test_error_lists_every_bad_row_and_truncates_long_strings():
    entries = ["CCO", None, "xx" * 100, "c1ccccc1", np.nan, "C(C"]
    valid = np.array([to_mol(e) is not None for e in entries])
    with pytest.raises(InvalidMoleculeError) as info:
        raise_for_invalid(valid, entries, "raise")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.rows == [1, 2, 4, 5]
    message = str(err)
    assert "4 invalid molecule(s) out of 6" in message
    assert "1: None" in message and "5: 'C(C'" in message
    assert "xx" * 30 not in message  # truncated
    raise_for_invalid(valid, entries, "nan")  # no error
    with pytest.raises(ValueError, match="on_invalid"):
        raise_for_invalid(valid, entries, "drop")
