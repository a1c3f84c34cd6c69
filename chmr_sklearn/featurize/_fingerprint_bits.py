"""The 1D modality's bits of one molecule: Morgan + MACCS, RDKit only (worker-side code).

:class:`~chmr_sklearn.featurize.FingerprintFeaturizer` (the scikit-learn transformer) and
:func:`~chmr_sklearn.featurize.molecular.featurize_molecular` both fill rows with
:class:`FingerprintBits`; it imports no scikit-learn, so worker processes start faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import DataStructs
from rdkit.Chem import MACCSkeys, rdFingerprintGenerator

__all__ = ["FingerprintBits", "N_MACCS"]

N_MACCS = 167


@dataclass(frozen=True)
class FingerprintBits:
    """Morgan bits (``radius``, ``n_bits``) followed by the 167 MACCS keys when ``maccs``.

    Examples
    --------
    >>> import numpy as np
    >>> from rdkit import Chem
    >>> bits = FingerprintBits(radius=2, n_bits=1024)
    >>> row = np.zeros(bits.width, dtype=np.uint8)
    >>> bits.fill_row(Chem.MolFromSmiles("CCO"), bits.generator(), row)
    >>> bits.width, int(row[:1024].sum()) > 0, int(row[1024:].sum()) > 0
    (1191, True, True)
    """

    radius: int = 2
    n_bits: int = 1024
    maccs: bool = True

    @property
    def width(self) -> int:
        """Columns of a row."""
        return self.n_bits + (N_MACCS if self.maccs else 0)

    def generator(self):
        """RDKit's Morgan generator (made once per chunk: its construction is not free)."""
        return rdFingerprintGenerator.GetMorganGenerator(radius=self.radius, fpSize=self.n_bits)

    def fill_row(self, mol, generator, row: np.ndarray) -> None:
        """Write one parsed molecule's bits into ``row`` (uint8 keeps worker -> parent transfers small)."""
        row[: self.n_bits] = generator.GetFingerprintAsNumPy(mol)
        if self.maccs:
            DataStructs.ConvertToNumpyArray(MACCSkeys.GenMACCSKeys(mol), row[self.n_bits:])
