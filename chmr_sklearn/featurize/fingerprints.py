"""1D modality: Morgan bits + MACCS keys (CHMR's 1191-bit molecular fingerprint)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from .._inputs import to_mol
from ._base import MoleculeFeaturizer
from ._fingerprint_bits import N_MACCS, FingerprintBits

__all__ = ["FingerprintFeaturizer"]


class FingerprintFeaturizer(MoleculeFeaturizer):
    """Morgan (ECFP-like) bits concatenated with the 167 MACCS keys.

    The default, radius 2 with 1024 bits + MACCS = 1191 columns, is CHMR's 1D modality. The
    same radius is used in pretraining and downstream (the official code mixes radius 4 and 1).

    Parameters
    ----------
    radius : int, default=2
        Morgan radius.
    n_bits : int, default=1024
        Length of the folded Morgan bit vector.
    maccs : bool, default=True
        Append the 167 MACCS keys.
    smiles_col : str or int, default="smiles"
        Column holding the molecules when ``X`` is a DataFrame (name) or 2-D array (position).
    on_invalid : {"raise", "nan"}, default="raise"
        ``"raise"``: one ``ValueError`` listing every invalid row. ``"nan"``: NaN rows.
    n_jobs : int, default=None
        Worker processes; molecules are parsed inside the workers. ``-1`` uses every core.
    verbose : int, default=0
        Show a progress bar.

    Attributes
    ----------
    n_features_in_ : int
        Columns of the input seen in ``fit`` (1 for a list of SMILES).
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame.

    Examples
    --------
    >>> from chmr_sklearn.featurize import FingerprintFeaturizer
    >>> fp = FingerprintFeaturizer().fit_transform(["CCO", "c1ccccc1O"])
    >>> fp.shape, fp.dtype.name, set(np.unique(fp)) <= {0.0, 1.0}
    ((2, 1191), 'float32', True)
    >>> FingerprintFeaturizer(on_invalid="nan").fit_transform(["CCO", "xyz"])[1, :3]
    array([nan, nan, nan], dtype=float32)
    """

    _parameter_constraints = {
        **MoleculeFeaturizer._parameter_constraints,
        "radius": [Interval(Integral, 0, None, closed="left")],
        "n_bits": [Interval(Integral, 1, None, closed="left")],
        "maccs": ["boolean"],
    }
    # Bits fit exactly in float32 and halve memory next to float64.
    _float32 = True

    def __init__(self, radius=2, n_bits=1024, maccs=True, *, smiles_col="smiles",
                 on_invalid="raise", n_jobs=None, verbose=0):
        self.radius = radius
        self.n_bits = n_bits
        self.maccs = maccs
        self.smiles_col = smiles_col
        self.on_invalid = on_invalid
        self.n_jobs = n_jobs
        self.verbose = verbose

    @property
    def n_features_out(self) -> int:
        """Number of output columns."""
        return self._bits().width

    def _bits(self) -> FingerprintBits:
        """The per-molecule computation with these settings (what workers run)."""
        return FingerprintBits(self.radius, self.n_bits, self.maccs)

    def _featurize_chunk(self, entries):
        bits = self._bits()
        generator = bits.generator()
        # uint8 keeps the worker -> parent transfer small; _assemble casts once.
        rows = np.zeros((len(entries), bits.width), dtype=np.uint8)
        valid = np.zeros(len(entries), dtype=bool)
        for i, entry in enumerate(entries):
            mol = to_mol(entry)
            if mol is None:
                continue
            valid[i] = True
            bits.fill_row(mol, generator, rows[i])
        return rows, valid

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names ``morgan_0 ... morgan_{n_bits-1}`` then ``maccs_0 ... maccs_166``."""
        names = [f"morgan_{i}" for i in range(self.n_bits)]
        if self.maccs:
            names += [f"maccs_{i}" for i in range(N_MACCS)]
        return np.asarray(names, dtype=object)
