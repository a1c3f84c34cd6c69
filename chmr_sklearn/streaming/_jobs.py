"""What is computed for a chunk: embeddings (:class:`EmbedJob`) or predictions (:class:`PredictJob`).

A job is built once from the caller's fitted estimator, is picklable (a cluster ships it to each
worker once), and turns a chunk (a ``pyarrow.Table``) into output columns. Neither job keeps rows
between chunks: the transformer's in-memory cache is off in the job's private view of it (its
disk cache, when set, is used).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from sklearn.utils.validation import check_is_fitted

from .._inputs import InvalidMoleculeError, to_mol
from ._parts import part_counts, write_part


@dataclass
class ChunkResult:
    """What became of one chunk (small: sent back from a worker)."""

    file_index: int
    chunk: int
    n_rows: int
    n_invalid: int = 0
    skipped: bool = False
    bad: dict = field(default_factory=dict)  # 1-based row in its file -> entry (on_invalid="raise")


def streaming_view(transformer, verbose: int = 0):
    """A view of ``transformer`` sharing its fitted state, with the in-memory cache off.

    The cache is off because a library is mostly molecules seen once: filling the LRU would
    only evict the caller's rows. The fitted model and engine state (float64 encoder copy,
    weights hash) are shared, not copied.
    """
    # Not copy.copy: that goes through __getstate__, which drops the engine state.
    view = object.__new__(type(transformer))
    view.__dict__.update(transformer.__dict__)
    view.cache = False
    view.verbose = transformer.verbose if verbose >= 2 else 0
    return view


class _Job:
    names: list[str]
    strict: bool

    def manifest(self) -> dict:
        raise NotImplementedError

    def compute(self, table: pa.Table, smiles_col: str) -> tuple[list[np.ndarray] | None, np.ndarray]:
        """Output columns of the chunk's rows (``None`` when strict and some are invalid), invalid positions."""
        raise NotImplementedError

    def for_cluster(self) -> _Job:
        """A copy to ship to workers: one featurization process each (the cluster gives the parallelism)."""
        raise NotImplementedError


def process_chunk(job: _Job, table: pa.Table, smiles_col: str, part: Path, file_index: int, chunk: int,
                  first_row: int, *, scan_only: bool = False) -> ChunkResult:
    """Compute and write one chunk (or reuse its finished part); report its invalid rows."""
    result = ChunkResult(file_index, chunk, table.num_rows)
    entries = table.column(smiles_col).to_pylist()
    if scan_only:  # the output will not be written: only find the invalid rows, fast
        result.bad = {first_row + i + 1: e for i, e in enumerate(entries) if to_mol(e) is None}
        return result
    if part.is_file():
        done_rows, done_invalid = part_counts(part, job.names[0])
        if done_rows != table.num_rows:
            raise ValueError(f"{part} holds {done_rows} rows where the input chunk has {table.num_rows}; "
                             "pass resume=False to start over.")
        if not (job.strict and done_invalid):
            result.n_invalid, result.skipped = done_invalid, True
            return result
    columns, invalid = job.compute(table, smiles_col)
    if columns is None:
        result.bad = {first_row + int(i) + 1: entries[i] for i in invalid}
        return result
    result.n_invalid = len(invalid)
    write_part(table, columns, job.names, part)
    return result


class EmbedJob(_Job):
    """Embeddings (and tree codes) with a fitted :class:`~chmr_sklearn.CHMRTransformer`."""

    def __init__(self, transformer, *, codes: bool, verbose: int = 0):
        check_is_fitted(transformer, "model_")
        transformer._engine().settings()  # hash the weights once, in the state shared with the caller
        self.transformer = streaming_view(transformer, verbose)
        self.codes, self.strict = bool(codes), transformer.on_invalid == "raise"
        self.names = [str(n) for n in self.transformer.get_feature_names_out()]
        if codes:
            if self.transformer.model_.tree_vq is None:
                raise ValueError("This encoder was pretrained without Tree-VQ (use_tree_vq=False): no tree codes.")
            self.names += [f"tree_code_{h}" for h in range(self.transformer.model_.tree_vq.n_levels)]

    def manifest(self) -> dict:
        t = self.transformer
        return {"task": "embed", "output": t.output, "codes": self.codes, "embedding": t._engine().settings()}

    def compute(self, table, smiles_col):
        engine = self.transformer._engine()
        keys = engine.keys(table.column(smiles_col).to_pylist())
        invalid = np.flatnonzero(np.array([k is None for k in keys], dtype=bool))
        if self.strict and len(invalid):
            return None, invalid
        emb, tree = engine.embed(keys, codes=self.codes)
        columns = list(np.asfortranarray(emb).T)  # contiguous columns, no per-column copy
        if tree is not None:
            columns += list(np.asfortranarray(tree).T)
        return columns, invalid

    def for_cluster(self) -> EmbedJob:
        job = object.__new__(EmbedJob)
        job.__dict__.update(self.__dict__)
        job.transformer = streaming_view(self.transformer)
        job.transformer.n_jobs = 1
        return job


def prediction_columns(estimator) -> list[str]:
    """One output column per task: ``<task>_proba`` (classifier, P(label 1)) or ``<task>_pred``."""
    from ..estimators import CHMRClassifier

    suffix = "proba" if isinstance(estimator, CHMRClassifier) else "pred"
    names = estimator.task_names_ or (
        ["target"] if estimator.n_tasks_ == 1 else [f"task{i}" for i in range(estimator.n_tasks_)])
    return [f"{name}_{suffix}" for name in names]


def estimator_sha256(estimator) -> str:
    """A hash of a fitted head estimator that is the same in every process that loads it.

    Not a pickle's hash: torch pickles a tensor with its storage's address, so two loads of one
    model pickle differently; the head's weights are hashed as arrays, the residual forest
    through its trees' arrays (:func:`_forest_arrays`), the rest with joblib.
    """
    import joblib

    digest = hashlib.sha256()
    for index, head in enumerate(estimator.heads_):
        for variant, net in sorted(head.variant_nets().items()):
            for name, tensor in sorted(net.module_.state_dict().items()):
                arr = tensor.detach().cpu().contiguous().numpy()
                digest.update(f"{index}.{int(variant)}.{name}:{arr.dtype}:{arr.shape}".encode())
                digest.update(arr.tobytes())
    fitted = {k: v for k, v in vars(estimator).items()
              if k.endswith("_") and not k.startswith("_") and k not in ("heads_", "transformer_", "history_")}
    fitted["heads"] = [(None if h.rf is None else _forest_arrays(h.rf), h.rf_residual, h.scores, h.monitor,
                        h.weights) for h in estimator.heads_]
    params = {k: v for k, v in estimator.get_params(deep=False).items()
              if k not in ("transformer", "memory", "n_jobs", "verbose", "on_invalid", "device")}
    digest.update(joblib.hash((fitted, params)).encode())
    return digest.hexdigest()


def _forest_arrays(residual) -> dict:
    """What a :class:`RandomForestResidual` computes, as plain arrays.

    A fitted tree's pickled node records carry uninitialised padding bytes, so two loads of one
    file hash differently through joblib; the arrays the tree predicts with do not.
    """
    def tree(t):
        return [t.children_left, t.children_right, t.feature, t.threshold, t.value]

    forests = [None if f is None else [tree(e.tree_) for e in f.estimators_] for f in residual.forests_]
    return {"forests": forests, "constants": residual.constants_, "oob_offset": residual.oob_offset_}


class PredictJob(_Job):
    """Predictions of a fitted :class:`~chmr_sklearn.CHMRClassifier` / :class:`~chmr_sklearn.CHMRRegressor`.

    ``on_invalid`` is the estimator's own; columns from :func:`prediction_columns`.
    """

    def __init__(self, estimator, *, verbose: int = 0):
        from ..estimators import CHMRClassifier, CHMRRegressor

        if not isinstance(estimator, (CHMRClassifier, CHMRRegressor)):
            raise TypeError(f"predict_file needs a fitted CHMRClassifier or CHMRRegressor, got {type(estimator).__name__}.")
        check_is_fitted(estimator, "heads_")
        if isinstance(estimator.transformer, str) and estimator.transformer == "passthrough":
            raise ValueError("This estimator was trained on precomputed embeddings (transformer='passthrough'); "
                             "predicting from SMILES needs one that embeds them itself.")
        self.estimator = object.__new__(type(estimator))
        self.estimator.__dict__.update(estimator.__dict__)
        self.estimator.memory = None  # joblib.Memory would store every chunk's embedding
        view = streaming_view(estimator.transformer_, verbose)
        view.on_invalid = estimator.on_invalid
        self.estimator.transformer_ = view
        self.classifier = isinstance(estimator, CHMRClassifier)
        self.strict = estimator.on_invalid == "raise"
        self.names = prediction_columns(estimator)
        self.sha256 = estimator_sha256(estimator)

    def manifest(self) -> dict:
        return {"task": "predict", "columns": self.names, "model_sha256": self.sha256,
                "embedding": self.estimator.transformer_._engine().settings()}

    def compute(self, table, smiles_col):
        est = self.estimator
        if table.num_rows == 0:
            return [np.empty(0, dtype=np.float64) for _ in self.names], np.empty(0, dtype=np.intp)
        frame = table.to_pandas()
        features = getattr(est, "feature_names_in_", None)
        # Models fitted in Python on a DataFrame expect its columns; chmr fit passes the SMILES only.
        X = frame[list(features)] if features is not None else frame[smiles_col].to_numpy(dtype=object)
        try:
            if self.classifier:
                proba = est.predict_proba(X)
                predictions = proba if est.multitask_ else proba[:, 1:]
            else:
                predictions = np.asarray(est.predict(X)).reshape(len(frame), -1)
        except InvalidMoleculeError as err:
            if not self.strict:
                raise
            return None, np.asarray(err.rows, dtype=np.intp)
        predictions = np.asarray(predictions, dtype=np.float64)
        invalid = np.flatnonzero(np.isnan(predictions).all(axis=1))
        return [np.ascontiguousarray(predictions[:, j]) for j in range(predictions.shape[1])], invalid

    def for_cluster(self) -> PredictJob:
        job = object.__new__(PredictJob)
        job.__dict__.update(self.__dict__)
        job.estimator = object.__new__(type(self.estimator))
        job.estimator.__dict__.update(self.estimator.__dict__)
        job.estimator.transformer_ = streaming_view(self.estimator.transformer_)
        job.estimator.transformer_.n_jobs = job.estimator.n_jobs = 1
        return job
