"""Benchmark step 1 and 2: load a dataset, split it once by scaffold, embed it once."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import datasets as D
from ..estimators import CHMRTransformer
from ..featurize import FingerprintFeaturizer
from ..model_selection import scaffold_split

__all__ = ["DATASETS", "N_FP", "BenchData", "cached_transformer", "embed", "load_split", "split_digest"]

N_FP = 1191  # Morgan r2 1024 + MACCS 167: the fingerprint block of the concat embedding

DATASETS: dict[str, Callable] = {
    "chembl2k": D.load_chembl2k,
    "broad6k": D.load_broad6k,
    "toxcast": D.load_toxcast,
    "bbbp": D.load_bbbp,
    "bace": D.load_bace,
    "clintox": D.load_clintox,
    "sider": D.load_sider,
    "hiv": D.load_hiv,
    "esol": D.load_esol,
    "freesolv": D.load_freesolv,
    "lipophilicity": D.load_lipophilicity,
}

# InfoAlign's sets keep every row (all parse); the MoleculeNet files hold a few rows current RDKit
# rejects, removed before the split as OGB did (BBBP 2,050 -> 2,039).
_KEEP_INVALID = {"chembl2k", "broad6k"}
_OGB = {"method": "ogb", "sizes": (0.8, 0.1, 0.1), "random_state": None}
# Checked sizes of the InfoAlign protocol (reference §2): a wrong split must stop the run.
_EXPECTED_SIZES = {"chembl2k": (1413, 353, 589), "broad6k": (3940, 985, 1642)}


@dataclass
class BenchData:
    """One dataset, split once: every model sees exactly these index arrays.

    Build it with :func:`load_split`.

    Examples
    --------
    >>> d = load_split("esol")
    >>> d.name, d.kind, d.Y.shape, [len(part) for part in d.split]
    ('esol', 'regression', (1128, 1), [902, 113, 113])
    >>> d.protocol["method"], d.n_invalid_dropped
    ('ogb', 0)
    """

    name: str
    smiles: np.ndarray
    Y: np.ndarray  # (n, T) float, NaN = unlabelled; only tasks learnable on the train split
    kind: str  # "classification" or "regression"
    split: tuple[np.ndarray, np.ndarray, np.ndarray]
    protocol: dict
    task_names: list[str]
    tasks_dropped: list[str] = field(default_factory=list)
    n_invalid_dropped: int = 0


def load_split(name: str, loader: Callable | None = None, protocol: dict | None = None) -> BenchData:
    """Load ``name`` (or call ``loader``) and split it with the dataset's benchmark protocol.

    Parameters
    ----------
    name : str
        Dataset name, a key of :data:`DATASETS` unless ``loader`` is given.
    loader : callable, optional
        Returns a loader Bunch (``data``, ``target``, ``target_names``, ``metric``,
        ``split_protocol``); accepts ``drop_invalid``.
    protocol : dict, optional
        :func:`~chmr_sklearn.model_selection.scaffold_split` keywords overriding the dataset's
        own protocol (the ToxCast 60/15/25 variant).

    Returns
    -------
    BenchData

    Examples
    --------
    >>> d = load_split("esol")
    >>> d.kind, [len(p) for p in d.split], d.Y.shape
    ('regression', [902, 113, 113], (1128, 1))
    """
    loader = loader or DATASETS[name]
    bunch = loader(drop_invalid=name not in _KEEP_INVALID)
    smiles = np.asarray(bunch.data, dtype=object)
    Y = np.asarray(bunch.target, dtype=np.float64)
    Y = Y[:, None] if Y.ndim == 1 else Y
    kind = "classification" if bunch.metric == "mean_roc_auc" else "regression"
    protocol = dict(protocol or bunch.split_protocol or _OGB)
    tr, va, te = scaffold_split(smiles, **protocol)
    expected = _EXPECTED_SIZES.get(name)
    if expected and protocol == bunch.split_protocol and (len(tr), len(va), len(te)) != expected:
        raise AssertionError(f"{name}: split {len(tr)}/{len(va)}/{len(te)} is not the protocol's {expected}")
    # A task a model can learn needs labels (both classes) in the train split; dropped for every model.
    names = [str(t) for t in np.atleast_1d(bunch.target_names)]
    keep = np.array([_learnable(Y[tr, t], kind) for t in range(Y.shape[1])])
    return BenchData(
        name=name, smiles=smiles, Y=Y[:, keep], kind=kind, split=(tr, va, te), protocol=protocol,
        task_names=[n for n, k in zip(names, keep) if k], tasks_dropped=[n for n, k in zip(names, keep) if not k],
        n_invalid_dropped=int(getattr(bunch, "n_invalid_dropped", 0) or 0),
    )


def split_digest(split) -> str:
    """Short hash of the (train, valid, test) index arrays; every fit records it.

    Examples
    --------
    >>> split_digest((np.array([0, 1]), np.array([2]), np.array([3])))
    '4efe143bfef9'
    """
    h = hashlib.sha1()
    for part in split:
        h.update(np.asarray(part, dtype=np.int64).tobytes() + b"|")
    return h.hexdigest()[:12]


def _learnable(y: np.ndarray, kind: str) -> bool:
    y = y[~np.isnan(y)]
    return len(np.unique(y)) >= 2 if kind == "classification" else len(y) >= 5


_EMBEDDINGS: OrderedDict = OrderedDict()  # the last two datasets: a second split of the same molecules reuses it


def embed(data: BenchData, n_jobs: int = 1, precision: str = "float64") -> tuple[np.ndarray, float]:
    """Embed every molecule once with the shipped ``CHMRTransformer``; (embedding, seconds).

    The seconds are those of the first computation; the same molecules again (another split of
    the dataset) come from an in-process cache of the last two embeddings.

    The first :data:`N_FP` columns are the 1191-bit fingerprints the forest and the fingerprint
    MLP see; a sample of rows is checked against :class:`FingerprintFeaturizer` so a change of
    the embedding layout cannot silently hand the baselines other features.

    Examples
    --------
    >>> d = load_split("esol")
    >>> d.smiles = d.smiles[:5]
    >>> E, seconds = embed(d)
    >>> E.shape
    (5, 2091)
    """
    key = (hashlib.sha1("\n".join(map(str, data.smiles)).encode()).hexdigest(), precision)
    if key in _EMBEDDINGS:
        _EMBEDDINGS.move_to_end(key)
        return _EMBEDDINGS[key]
    t = time.perf_counter()
    E = CHMRTransformer(n_jobs=n_jobs, precision=precision).fit_transform(data.smiles)
    seconds = time.perf_counter() - t
    rows = np.linspace(0, len(E) - 1, num=min(len(E), 50)).astype(int)
    if not np.array_equal(E[rows, :N_FP], FingerprintFeaturizer().fit_transform(data.smiles[rows])):
        raise AssertionError("the embedding's first 1191 columns are not FingerprintFeaturizer()'s bits")
    _EMBEDDINGS[key] = (np.asarray(E, dtype=np.float32), seconds)
    while len(_EMBEDDINGS) > 2:
        _EMBEDDINGS.popitem(last=False)
    return _EMBEDDINGS[key]


def cached_transformer(smiles: np.ndarray, cache_dir: str, n_jobs: int) -> tuple[CHMRTransformer, float]:
    """The shipped ``CHMRTransformer`` with every molecule embedded into ``cache_dir``; (it, seconds).

    Estimators given it fit on SMILES as a user would and read each embedding back from the
    disk cache (a clone keeps the cache directory), so every seed and variant embeds nothing.
    """
    t = time.perf_counter()
    transformer = CHMRTransformer(cache_dir=cache_dir, n_jobs=n_jobs)
    transformer.fit_transform(smiles)
    return transformer, time.perf_counter() - t
