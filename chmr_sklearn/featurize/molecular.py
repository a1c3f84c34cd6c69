"""The three molecular modalities of one set of molecules, featurized together.

Pretraining and :class:`~chmr_sklearn.CHMRTransformer` both need, for each molecule, the 1D
fingerprint, the 2D graph and the standardized 3D descriptors with their availability flag.
This module computes them with the featurizers' per-molecule code and keeps them aligned row
by row. It imports no scikit-learn: worker processes run it (see :mod:`._chunks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .._inputs import to_mol
from ._chunks import map_chunks
from ._conformer_descriptors import ConformerDescriptors, families
from ._fingerprint_bits import FingerprintBits
from ._molgraph import collate_graphs, mol_to_graph

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
        if raw.shape[1] == 0:  # a model without the 3-D modality: nothing to standardize
            return cls(np.zeros(0, np.float32), np.ones(0, np.float32))
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
        Standardized 3D descriptors (0 where unavailable); no columns with ``conformer_method="none"``.
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

        graph = collate_graphs([self.graphs[i] for i in idx]).to_torch(device)
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
    conformer_descriptors: Sequence[str] | None = None,
    conformer_force_tol: float = 1e-3,
    scaler: ConformerScaler | None = None,
    random_state: int = 0,
    n_jobs: int | None = None,
    verbose: int = 0,
) -> tuple[MolecularFeatures, ConformerScaler]:
    """Featurize molecules into the three CHMR molecular modalities.

    Invalid molecules never raise here: they get ``valid=False`` and neutral rows; callers
    apply their own ``on_invalid`` policy first. Each molecule is parsed once and the three
    featurizers run on that one ``Mol``, chunk by chunk inside the ``n_jobs`` workers; the
    rows equal those of the three featurizers run separately, bit for bit.

    Parameters
    ----------
    smiles : sequence of str or Mol
    fp_radius, fp_bits : int
        Morgan settings (MACCS keys are always appended).
    conformer_method : {"etkdg", "dg", "none"}
        ``"none"``: no conformer is generated (for encoders without the 3D modality); ``conf``
        has no columns and ``conf_ok`` is False everywhere.
    conformer_hydrogens : bool
    conformer_descriptors : sequence of str, optional
        3D descriptor families (:class:`~chmr_sklearn.featurize.ConformerFeaturizer`'s ``descriptors``); None: all.
    conformer_force_tol : float
        Distance geometry's force tolerance (:class:`~chmr_sklearn.featurize.ConformerFeaturizer`'s ``force_tol``).
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

    Examples
    --------
    >>> feats, scaler = featurize_molecular(["CCO", "c1ccccc1O", "not a smiles"])
    >>> feats.fp.shape, feats.conf.shape, feats.valid.tolist()
    ((3, 1191), (3, 651), [True, True, False])
    >>> featurize_molecular(["CCO"], conformer_method="none")[0].conf.shape
    (1, 0)
    """
    featurizers = _Featurizers.make(fp_radius, fp_bits, conformer_method, conformer_hydrogens, random_state,
                                    conformer_descriptors, conformer_force_tol)
    values = np.asarray(list(smiles) if not isinstance(smiles, np.ndarray) else smiles, dtype=object).ravel()
    chunks = map_chunks(featurizers.chunk, values, n_jobs=n_jobs, verbose=verbose, desc="featurize")
    fp, graphs, conf_raw, ok, valid = _concat(chunks, featurizers)
    if scaler is None:
        scaler = ConformerScaler.fit(conf_raw, ok)
    features = MolecularFeatures(fp, graphs, scaler.transform(conf_raw, ok), ok, valid)
    return features, scaler


@dataclass(frozen=True)
class _Featurizers:
    """The per-molecule computations with the settings of one encoder; picklable, runs in workers.

    ``conf`` is None for encoders without the 3D modality (``method="none"``).
    """

    fp: FingerprintBits
    conf: ConformerDescriptors | None

    @classmethod
    def make(cls, fp_radius: int, fp_bits: int, method: str, hydrogens: bool, seed: int,
             descriptors: Sequence[str] | None = None, force_tol: float = 1e-3) -> "_Featurizers":
        conf = None if method == "none" else ConformerDescriptors(
            method=method, add_hydrogens=hydrogens, descriptors=families(descriptors), force_tol=force_tol,
            random_state=seed)
        return cls(FingerprintBits(radius=fp_radius, n_bits=fp_bits), conf)

    @property
    def n_conf(self) -> int:
        """Raw 3D columns, ``conformer_ok`` included (1: only that flag, left NaN = no conformer)."""
        return 1 if self.conf is None else self.conf.width

    def chunk(self, entries: np.ndarray) -> tuple:
        """Parse each entry once and run the three featurizers on that ``Mol``."""
        n = len(entries)
        fp = np.zeros((n, self.fp.width), dtype=np.uint8)
        conf = np.full((n, self.n_conf), np.nan)
        graphs: list = [None] * n
        valid = np.zeros(n, dtype=bool)
        generator = self.fp.generator()
        for i, entry in enumerate(entries):
            mol = to_mol(entry)
            if mol is None:
                continue
            valid[i] = True
            self.fp.fill_row(mol, generator, fp[i])
            graphs[i] = mol_to_graph(mol)
            if self.conf is not None:
                self.conf.fill_row(mol, conf[i])
        return fp, graphs, conf, valid


def _concat(chunks: list, featurizers: _Featurizers) -> tuple:
    """Chunk results -> (fp float32, graphs, raw 3D, conformer ok, valid)."""
    if not chunks:  # no molecules at all
        n_fp, n_conf = featurizers.fp.width, featurizers.n_conf
        chunks = [(np.zeros((0, n_fp), np.uint8), [], np.zeros((0, n_conf)), np.zeros(0, bool))]
    fp = np.concatenate([c[0] for c in chunks]).astype(np.float32)
    graphs = [g for c in chunks for g in c[1]]
    conf = np.concatenate([c[2] for c in chunks])
    valid = np.concatenate([c[3] for c in chunks])
    ok = (conf[:, -1] == 1.0) & valid
    return fp, graphs, conf[:, :-1], ok, valid
