"""The three molecular modalities of one set of molecules, featurized together.

Pretraining and :class:`~chmr_sklearn.CHMRTransformer` both need, for each molecule, the 1D
fingerprint, the 2D graph and the standardized 3D descriptors with their availability flag.
This module computes them with the three featurizers and keeps them aligned row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .conformers import ConformerFeaturizer
from .fingerprints import FingerprintFeaturizer
from .graphs import GraphFeaturizer

__all__ = ["MolecularFeatures", "ConformerScaler", "featurize_molecular"]

_CLIP = 10.0  # standardized 3D descriptors are clipped: RDF/MORSE have heavy tails


@dataclass
class ConformerScaler:
    """Column mean / std of the raw 3D descriptors, fitted on molecules that embedded."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray, ok: np.ndarray) -> "ConformerScaler":
        rows = raw[ok]
        if len(rows) == 0:
            raise ValueError("No molecule could be embedded in 3D; cannot standardize the 3D descriptors.")
        std = rows.std(axis=0)
        return cls(rows.mean(axis=0).astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32))

    def transform(self, raw: np.ndarray, ok: np.ndarray) -> np.ndarray:
        out = np.clip((raw - self.mean) / self.std, -_CLIP, _CLIP).astype(np.float32)
        out[~ok] = 0.0  # a failed conformer contributes nothing; the model also masks its latent
        return np.nan_to_num(out, nan=0.0)


@dataclass
class MolecularFeatures:
    """Row-aligned molecular inputs of the CHMR encoders.

    Attributes
    ----------
    fp : ndarray of float32, shape (n, n_bits + 167)
        1D fingerprint bits (0 on invalid rows).
    graphs : list of MolGraph or None
        2D graphs (None on invalid rows).
    conf : ndarray of float32, shape (n, n_3d)
        Standardized 3D descriptors (0 where unavailable).
    conf_ok : ndarray of bool, shape (n,)
        Whether a conformer was embedded.
    valid : ndarray of bool, shape (n,)
        Whether the molecule parsed at all.
    """

    fp: np.ndarray
    graphs: list
    conf: np.ndarray
    conf_ok: np.ndarray
    valid: np.ndarray

    def __len__(self) -> int:
        return len(self.valid)

    def take(self, idx: np.ndarray) -> "MolecularFeatures":
        """Rows ``idx`` as a new object (arrays are copied by fancy indexing)."""
        return MolecularFeatures(self.fp[idx], [self.graphs[i] for i in idx], self.conf[idx], self.conf_ok[idx],
                                 self.valid[idx])

    def torch_batch(self, idx: np.ndarray, device: Any = "cpu") -> dict:
        """Tensors for ``CHMRModel.encode`` on rows ``idx``."""
        import torch

        graph = GraphFeaturizer.collate([self.graphs[i] for i in idx]).to_torch(device)
        return {
            "fp": torch.from_numpy(self.fp[idx]).to(device),
            "graph": graph,
            "conf": torch.from_numpy(self.conf[idx]).to(device),
            "conf_mask": torch.from_numpy(self.conf_ok[idx].astype(np.float32)).to(device),
        }


def featurize_molecular(
    smiles: Sequence[Any],
    *,
    fp_radius: int = 2,
    fp_bits: int = 1024,
    conformer_method: str = "dg",
    conformer_hydrogens: bool = False,
    scaler: ConformerScaler | None = None,
    random_state: int = 0,
    n_jobs: int | None = None,
    verbose: int = 0,
) -> tuple[MolecularFeatures, ConformerScaler]:
    """Featurize molecules into the three CHMR molecular modalities.

    Invalid molecules never raise here: they get ``valid=False`` and neutral rows; callers
    apply their own ``on_invalid`` policy first.

    Parameters
    ----------
    smiles : sequence of str or Mol
    fp_radius, fp_bits : int
        Morgan settings (MACCS keys are always appended).
    conformer_method : {"etkdg", "dg"}
    conformer_hydrogens : bool
    scaler : ConformerScaler, optional
        Standardization of the 3D descriptors; fitted on these molecules when None.
    random_state : int
        Seed of the conformer embedding.
    n_jobs, verbose
        Passed to the featurizers.

    Returns
    -------
    features : MolecularFeatures
    scaler : ConformerScaler
    """
    common = dict(on_invalid="nan", n_jobs=n_jobs, verbose=verbose)
    fp = FingerprintFeaturizer(radius=fp_radius, n_bits=fp_bits, **common).transform(smiles)
    valid = ~np.isnan(fp[:, 0])
    fp = np.nan_to_num(fp, nan=0.0)
    graphs = list(GraphFeaturizer(**common).transform(smiles)[:, 0])
    conf_raw = ConformerFeaturizer(method=conformer_method, add_hydrogens=conformer_hydrogens,
                                   random_state=random_state, **common).transform(smiles)
    ok = (conf_raw[:, -1] == 1.0) & valid
    raw = conf_raw[:, :-1]
    if scaler is None:
        scaler = ConformerScaler.fit(raw, ok)
    features = MolecularFeatures(fp.astype(np.float32), graphs, scaler.transform(raw, ok), ok, valid)
    return features, scaler
