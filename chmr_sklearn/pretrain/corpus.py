"""Everything pretraining reads, computed once: molecular features, filled bio modalities, graph.

``PretrainCorpus.build(smiles, profiles, config)`` featurizes the molecules, aligns every
profile table to them by InChIKey, fills the missing rows (structure-aware propagation by
default), derives the augmented views for VICReg and the min-max targets for CPR, and builds
the biological context graph for the random walks.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._inputs import raise_for_invalid
from ..featurize.molecular import (
    ConformerScaler,
    MolecularFeatures,
    featurize_molecular,
)
from ..profiles import (
    ContextGraph,
    ProfileTable,
    augmented_view,
    fill_missing,
    inchikeys_from_smiles,
    propagation_weights,
    tanimoto_knn,
)
from ..profiles.propagate import propagation_confidence
from .config import PretrainConfig

__all__ = ["BioModality", "PretrainCorpus", "as_profile_tables"]

_CLIP = 10.0


@dataclass
class BioModality:
    """One biological modality aligned to the corpus molecules.

    Attributes
    ----------
    name : str
    inputs : ndarray (n, d) float32
        Standardized, filled encoder inputs for every molecule.
    augmented : ndarray (n, d) float32
        Standardized augmented view (neighbours' propagated estimate) for VICReg.
    observed : ndarray (n,) bool
    targets : ndarray (m, d) float32
        Min-max scaled observed rows: the CPR reconstruction targets of the profile nodes.
    rows_mol : ndarray (m,) int
        Molecule index of each observed row.
    mean, std : ndarray (d,)
        Standardization of the raw features (stored in checkpoints).
    confidence : ndarray (n,) float32
        Share of each molecule's filled row that propagation drew from measured rows
        (1 where observed, 0 where propagation never reached; see
        :func:`~chmr_sklearn.profiles.propagate.propagation_confidence`). Used by
        ``PretrainConfig.sca_propagated``.

    Examples
    --------
    Two of six molecules have an expression profile; the others are filled by propagation:

    >>> from chmr_sklearn.pretrain import PretrainConfig, PretrainCorpus
    >>> smiles = ["CCO", "CCN", "c1ccccc1O", "c1ccccc1N", "CC(=O)O", "CCCl"]
    >>> expr = pd.DataFrame({"smiles": ["CCO", "c1ccccc1O"], "g1": [0.5, -1.0], "g2": [1.0, 0.0]})
    >>> bio = PretrainCorpus.build(smiles, {"expression": expr}, PretrainConfig(knn_k=2)).bio["expression"]
    >>> bio.observed.tolist(), bio.rows_mol.tolist()
    ([True, False, True, False, False, False], [0, 2])
    >>> bio.inputs.shape, bio.augmented.shape, bio.targets.shape
    ((6, 2), (6, 2), (2, 2))
    >>> bool(np.isfinite(bio.inputs).all())
    True
    """

    name: str
    inputs: np.ndarray
    augmented: np.ndarray
    observed: np.ndarray
    targets: np.ndarray
    rows_mol: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    confidence: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return self.inputs.shape[1]


def as_profile_tables(profiles: Mapping[str, Any] | None, smiles_col: str = "smiles") -> dict[str, ProfileTable]:
    """Turn ``{name: DataFrame | ProfileTable}`` into ProfileTables, with clear errors."""
    if profiles is None:
        return {}
    if not isinstance(profiles, Mapping):
        raise ValueError(  # noqa: TRY004 - one ValueError for bad input
            f"profiles must be a dict {{modality name: DataFrame or ProfileTable}}, got {type(profiles).__name__}.")
    tables = {}
    for name, table in profiles.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"Profile modality names must be non-empty strings, got {name!r}.")
        if isinstance(table, ProfileTable):
            tables[name] = table
        elif isinstance(table, pd.DataFrame):
            has_smiles = smiles_col in table.columns
            tables[name] = ProfileTable(table, name=name, smiles_col=smiles_col if has_smiles else None,
                                        inchikey_col=None if has_smiles else "inchikey")
        else:
            raise ValueError(  # noqa: TRY004 - one ValueError for bad input
                f"Profile {name!r} must be a pandas DataFrame or ProfileTable, got {type(table).__name__}.")
    return tables


def _standardize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.clip((x - mean) / std, -_CLIP, _CLIP).astype(np.float32)


def _modality(name: str, table, keys: list, weights, config: PretrainConfig) -> BioModality:
    """One profile table aligned to the corpus molecules (by InChIKey), filled, standardized."""
    raw, observed = table.align(keys)
    unused = len(table.keys) - len(set(table.keys) & {k for k in keys if k is not None})
    if unused:
        warnings.warn(f"Profile {name!r}: {unused} of {len(table.keys)} molecules are not among the "
                      "pretraining molecules and are unused; add their SMILES to X to use them.", stacklevel=4)
    if not observed.any():
        raise ValueError(f"Profile {name!r} matches none of the {len(keys)} molecules (by InChIKey).")
    # The augmented view always comes from propagation; reuse it as the fill when they agree.
    propagated = fill_missing(raw, observed, method="propagate", W=weights, steps=config.propagate_steps)
    filled = propagated if config.fill == "propagate" else fill_missing(raw, observed, method=config.fill)
    aug = augmented_view(propagated, observed, weights)
    obs_rows = raw[observed]
    mean = obs_rows.mean(axis=0)
    std = obs_rows.std(axis=0)
    std = np.where(std > 1e-6, std, 1.0)
    lo, hi = obs_rows.min(axis=0), obs_rows.max(axis=0)
    span = np.where(hi - lo > 1e-12, hi - lo, 1.0)
    return BioModality(
        name=name, inputs=_standardize(filled, mean, std), augmented=_standardize(aug, mean, std),
        observed=observed, targets=((obs_rows - lo) / span).astype(np.float32),
        rows_mol=np.flatnonzero(observed), mean=mean.astype(np.float32), std=std.astype(np.float32),
        confidence=propagation_confidence(observed, weights, config.propagate_steps).astype(np.float32),
    )


@dataclass
class PretrainCorpus:
    """The pretraining inputs; see the module docstring. Build it with :meth:`build`.

    Attributes
    ----------
    smiles : list of str
        The pretraining molecules, in order (invalid ones left out with ``on_invalid="nan"``).
    mol : MolecularFeatures
        Their 1D fingerprints, 2D graphs and standardized 3D descriptors, row-aligned.
    scaler : ConformerScaler
        Standardization of the 3D descriptors (stored in checkpoints).
    bio : dict of str to BioModality
        One entry per profile table.
    graph : ContextGraph or None
        The context graph of the CPR random walks (``None`` when ``use_cpr=False``).

    Examples
    --------
    >>> from chmr_sklearn.pretrain import PretrainConfig
    >>> smiles = ["CCO", "CCN", "c1ccccc1O", "c1ccccc1N", "CC(=O)O", "CCCl"]
    >>> expr = pd.DataFrame({"smiles": ["CCO", "c1ccccc1O"], "g1": [0.5, -1.0], "g2": [1.0, 0.0]})
    >>> corpus = PretrainCorpus.build(smiles, {"expression": expr}, PretrainConfig(knn_k=2))
    >>> len(corpus), list(corpus.bio), corpus.graph.n_mol
    (6, ['expression'], 6)
    """

    smiles: list
    mol: MolecularFeatures
    scaler: ConformerScaler
    bio: dict
    graph: ContextGraph | None

    def __len__(self) -> int:
        return len(self.smiles)

    def fingerprint(self) -> str:
        """A sha256 of everything the corpus feeds pretraining: molecules and profile tables.

        It covers the molecules in order, each modality's name, observed mask, filled inputs,
        augmented view, CPR targets and standardization, the 3D scaler and the context graph's
        edges, so two corpora share it only when pretraining would see the same numbers.
        Checkpoints store it: :class:`Pretrainer` never resumes a run on other data.

        Examples
        --------
        >>> from chmr_sklearn.pretrain import PretrainConfig
        >>> smiles = ["CCO", "CCN", "c1ccccc1O", "c1ccccc1N"]
        >>> a = PretrainCorpus.build(smiles, None, PretrainConfig(knn_k=2)).fingerprint()
        >>> b = PretrainCorpus.build(smiles[::-1], None, PretrainConfig(knn_k=2)).fingerprint()
        >>> len(a), a == PretrainCorpus.build(smiles, None, PretrainConfig(knn_k=2)).fingerprint(), a == b
        (64, True, False)
        """
        cached = self.__dict__.get("_fingerprint")
        if cached is not None:
            return cached
        digest = hashlib.sha256()

        def add(label: str, value) -> None:
            digest.update(label.encode())
            if isinstance(value, np.ndarray):
                value = np.ascontiguousarray(value)
                digest.update(f"{value.dtype.str}{value.shape}".encode())
                digest.update(value.tobytes())
            else:
                digest.update(json.dumps(value, default=str).encode())

        add("smiles", [str(s) for s in self.smiles])
        add("fp", self.mol.fp)
        add("conf_ok", np.asarray(self.mol.conf_ok))
        add("scaler", [np.asarray(self.scaler.mean).tolist(), np.asarray(self.scaler.std).tolist()])
        for name, b in self.bio.items():
            for field_name in ("observed", "inputs", "augmented", "targets", "rows_mol", "mean", "std", "confidence"):
                value = getattr(b, field_name)
                if value is not None:
                    add(f"bio:{name}:{field_name}", np.asarray(value))
        if self.graph is not None:
            for field_name in ("indptr", "indices", "weights", "node_type"):
                add(f"graph:{field_name}", np.asarray(getattr(self.graph, field_name)))
        self.__dict__["_fingerprint"] = digest.hexdigest()
        return self.__dict__["_fingerprint"]

    @classmethod
    def build(
        cls,
        smiles: Sequence[Any],
        profiles: Mapping[str, Any] | None,
        config: PretrainConfig,
        *,
        on_invalid: str = "raise",
        n_jobs: int | None = None,
        verbose: int = 0,
        molecular: tuple[MolecularFeatures, ConformerScaler] | None = None,
    ) -> PretrainCorpus:
        """Featurize ``smiles`` and align ``profiles`` to them.

        Parameters
        ----------
        smiles : sequence of str or Mol
            The pretraining molecules (labels are never used).
        profiles : dict {name: DataFrame or ProfileTable}, optional
            Biological modalities; any number, each keyed by molecule. Missing rows are
            expected. Profile rows of molecules absent from ``smiles`` are unused (warned).
        config : PretrainConfig
        on_invalid : {"raise", "nan"}
            ``"nan"`` leaves invalid molecules out of pretraining instead of raising.
        n_jobs : int or None
            Processes featurizing the molecules (joblib's meaning: None is one unless a
            ``joblib.parallel_config`` says otherwise, -1 every core; forked from this
            process on Linux). ``chmr pretrain`` passes -1. The features do not depend on it.
        verbose : int
            Show a progress bar while featurizing.
        molecular : (MolecularFeatures, ConformerScaler), optional
            The molecular features of ``smiles`` computed before (e.g. ``corpus.mol`` and
            ``corpus.scaler`` of a corpus of the same molecules and featurization settings):
            skips featurization when several corpora share the molecules but not the profiles.
        """
        tables = as_profile_tables(profiles)
        if molecular is not None:
            feats, scaler = molecular
            if len(feats) != len(smiles):
                raise ValueError(f"molecular holds {len(feats)} rows for {len(smiles)} molecules.")
        else:
            feats, scaler = featurize_molecular(smiles, **config.featurization(), random_state=config.seed,
                                                n_jobs=n_jobs, verbose=verbose)
        raise_for_invalid(feats.valid, list(smiles), on_invalid)
        keep = np.flatnonzero(feats.valid)
        if len(keep) < 2:
            raise ValueError(f"Pretraining needs at least 2 valid molecules, got {len(keep)}.")
        if len(keep) < len(feats):
            feats = feats.take(keep)
        smiles = [smiles[i] for i in keep]
        keys = inchikeys_from_smiles(smiles)
        morgan = feats.fp[:, : config.fp_bits] > 0

        bio: dict[str, BioModality] = {}
        weights = None
        if tables:
            indices, sims = tanimoto_knn(morgan, k=min(config.knn_k, len(smiles) - 1))
            weights = propagation_weights(indices, sims)
        for name, table in tables.items():
            bio[name] = _modality(name, table, keys, weights, config)
        graph = None
        if config.use_cpr:
            graph = ContextGraph.build(
                # cosine edges compare standardized profiles (min-max targets would all look alike)
                morgan, {name: (b.inputs[b.rows_mol], b.rows_mol) for name, b in bio.items()},
                target_density=config.graph_density, min_threshold=config.graph_min_threshold,
                profiled_knn=config.graph_mol_knn,
            )
        return cls(smiles=list(smiles), mol=feats, scaler=scaler, bio=bio, graph=graph)
