"""The embedding engine: molecules -> CHMR rows, chunk by chunk, through a bounded cache.

:class:`~chmr_sklearn.CHMRTransformer` and :mod:`chmr_sklearn.streaming` both embed through
this module. Its internal interface, in the order a caller uses it::

    engine = transformer._engine()      # EmbeddingEngine of a fitted transformer, current params
    keys = engine.keys(entries)         # canonical SMILES per entry; None when invalid
    out, codes = engine.embed(keys, codes=True)
                                        # (n, n_output) float32 (NaN rows for None keys) and,
                                        # with codes=True, (n, depth) int64 tree codes (-1)
    engine.settings()                   # dict of everything that changes the numbers: keys the
                                        # disk cache and resumable streaming runs

``embed`` takes the distinct keys ``TRANSFORM_CHUNK`` at a time (so working memory beyond
the output is bounded) and, for each molecule, reads the in-memory LRU
(:class:`MemoryCache`), then the disk cache (``cache_dir``), and computes only what is
missing: featurization and encoding run together inside ``n_jobs`` worker processes (one
torch thread each; forked for the call on Linux, see :mod:`chmr_sklearn._workers`), or in this process
for small inputs.

An engine is a cheap, short-lived view: the fitted model and the state shared by every call
(the LRU, the float64 copy of the encoder, the weights hash) live in an :class:`EngineState`
held by the transformer; the state's lock makes ``transform`` safe from several threads.
"""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from .._inputs import to_smiles
from ..featurize.molecular import featurize_molecular
from ._disk_cache import EmbeddingCache
from .._workers import GATE, can_fork, forked_map

__all__ = ["TRANSFORM_CHUNK", "CacheInfo", "EmbeddingEngine", "EngineState", "MemoryCache", "effective_workers"]

#: Distinct molecules featurized + encoded per step of ``embed`` (whole inference batches).
TRANSFORM_CHUNK = 8192
# Below this many molecules to compute, worker processes cost more than they save, so the
# work stays in this process. Forked workers (Linux) start in ~35 ms and pay off from ~100
# molecules (measured on WEHI molecules, 2 cores: 128 in 0.26 s against 0.35 s in this
# process, 512 in 0.74 s against 1.21 s). Elsewhere joblib's workers, once running, pay off
# from a few hundred molecules; starting them costs seconds (each imports torch and RDKit),
# which ~300 mol/s in one process vs ~450 in two only win back past ~2,000 molecules.
_MIN_FORKED = 128
_MIN_PARALLEL = 512
_COLD_FACTOR = 4
# Canonicalizing costs ~0.2 ms per molecule, a tenth of featurizing + encoding.
_CANONICAL_COST = 0.1
# n_jobs=None never starts more workers than this (each holds torch + the encoder, ~300 MB).
_MAX_DEFAULT_WORKERS = 8
# Molecules per worker task, at most: small enough to balance 2 cores at a chunk's end, large
# enough for efficient GNN batches. Small inputs are cut into two tasks per worker.
_TASK_SIZE = 256
# Molecules per encoder forward pass on CPU, whatever ``batch_size``: a GIN batch of ~64
# molecules keeps its message tensors (~1,500 bonds x width) in cache. Measured on 2,048 WEHI
# molecules, one thread, the shipped encoder: 0.36 ms per molecule at 64, 0.39 at 128,
# 0.50 at 256, 0.81 at 512 (memory-bound element-wise adds), 0.46 at 16.
_CPU_ENCODE_BATCH = 64
# Per-entry bookkeeping of the LRU beyond the row itself (dict slot, key string, array header).
_ENTRY_OVERHEAD = 200


class CacheInfo(NamedTuple):
    """Counters of a transformer's in-memory cache, like ``functools.lru_cache``'s ``cache_info()``.

    Attributes
    ----------
    hits, misses : int
        Molecule lookups answered from memory / not found there (then read from the disk
        cache or computed).
    maxsize : int
        The bound, in bytes (``cache_size`` MB).
    currsize : int
        Bytes held now (rows plus bookkeeping, an estimate within a few percent).
    n_molecules : int
        Embedding rows held now.
    """

    hits: int
    misses: int
    maxsize: int
    currsize: int
    n_molecules: int


class MemoryCache:
    """A thread-safe LRU of embedding rows and canonical SMILES, bounded in bytes.

    Rows are keyed by canonical SMILES; raw input strings map to their canonical form (so
    repeated strings skip RDKit). Both kinds count against ``max_bytes``; the least recently
    used entry goes first.

    Parameters
    ----------
    max_bytes : int
        Bound on the bytes held (0 keeps nothing).

    Examples
    --------
    >>> import numpy as np
    >>> cache = MemoryCache(max_bytes=10_000)
    >>> cache.put_rows(["CCO"], np.zeros((1, 1000), dtype=np.float32))
    >>> sorted(cache.get_rows(["CCO", "CCN"]))
    ['CCO']
    >>> cache.info().hits, cache.info().misses, cache.info().n_molecules
    (1, 1, 1)
    >>> cache.put_rows(["CCN", "CCC"], np.ones((2, 1000), dtype=np.float32))  # evicts CCO
    >>> sorted(cache.get_rows(["CCO", "CCN", "CCC"]))
    ['CCC', 'CCN']
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict = OrderedDict()
        self._nbytes = 0
        self._rows = 0
        self._hits = self._misses = 0
        self._lock = threading.Lock()

    def get_rows(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Rows held for ``keys`` (each found key becomes the most recently used)."""
        found = {}
        with self._lock:
            for k in keys:
                row = self._data.get(("row", k))
                if row is None:
                    self._misses += 1
                    continue
                self._data.move_to_end(("row", k))
                self._hits += 1
                found[k] = row[0]
        return found

    def put_rows(self, keys: list[str], rows: np.ndarray) -> None:
        """Keep a private copy of each row (a view would keep its whole chunk alive)."""
        for k, row in zip(keys, rows, strict=True):
            self._put(("row", k), row.copy(), row.nbytes + len(k) + _ENTRY_OVERHEAD)

    def get_canonical(self, raw: str) -> Any:
        """The canonical SMILES of ``raw`` seen before, else ``False`` (``None`` = invalid)."""
        with self._lock:
            entry = self._data.get(("raw", raw))
            if entry is None:
                return False
            self._data.move_to_end(("raw", raw))
            return entry[0]

    def put_canonical(self, raw: str, canonical: str | None) -> None:
        """Remember ``raw``'s canonical SMILES."""
        self._put(("raw", raw), canonical, len(raw) + len(canonical or "") + _ENTRY_OVERHEAD)

    def _put(self, key: tuple, value: Any, nbytes: int) -> None:
        if nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return
            self._data[key] = (value, nbytes)
            self._nbytes += nbytes
            self._rows += key[0] == "row"
            while self._nbytes > self.max_bytes:
                (kind, _), (_, size) = self._data.popitem(last=False)
                self._nbytes -= size
                self._rows -= kind == "row"

    def clear(self) -> None:
        """Drop every entry (counters are kept)."""
        with self._lock:
            self._data.clear()
            self._nbytes = self._rows = 0

    def info(self) -> CacheInfo:
        """Hit / miss counters and current size."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, self.max_bytes, self._nbytes, self._rows)


class EngineState:
    """What every embedding call of one fitted transformer shares, behind one lock.

    Parameters
    ----------
    max_bytes : int
        Bound of the in-memory cache.

    Examples
    --------
    >>> EngineState(max_bytes=1 << 20).memory.info().maxsize
    1048576
    """

    def __init__(self, max_bytes: int):
        self.memory = MemoryCache(max_bytes)
        self.lock = threading.Lock()
        self.model64: torch.nn.Module | None = None
        self.weights_sha256: str | None = None
        self.blob: tuple[str, np.ndarray] | None = None

    def resize(self, max_bytes: int) -> None:
        """Follow a changed ``cache_size`` (``set_params`` after ``fit``)."""
        if max_bytes != self.memory.max_bytes:
            self.memory = MemoryCache(max_bytes)


def effective_workers(n_jobs: int | None) -> int:
    """Worker processes for ``n_jobs``; ``None`` follows torch's thread count.

    ``None`` uses as many workers as torch uses intra-op threads (``torch.get_num_threads()``:
    the physical cores by default, ``OMP_NUM_THREADS`` or ``torch.set_num_threads`` when
    set, 1 inside a joblib worker that limits threads), at most 8 (each worker holds its own
    torch and encoder, ~300 MB), unless a joblib ``parallel_config(n_jobs=...)`` is active;
    otherwise joblib's meaning (``-1``: every core).

    Examples
    --------
    >>> effective_workers(1)
    1
    """
    from joblib import effective_n_jobs
    from joblib.parallel import get_active_backend

    if n_jobs is None:
        backend, configured = get_active_backend()
        if configured is not None and configured != 1 and getattr(backend, "nesting_level", 0) == 0:
            return max(1, effective_n_jobs(configured))
        return max(1, min(torch.get_num_threads(), _MAX_DEFAULT_WORKERS))
    return max(1, effective_n_jobs(n_jobs))


@dataclass
class EmbeddingEngine:
    """Featurize + encode + cache for one fitted transformer, with its current parameters.

    Built by ``CHMRTransformer._engine()``; see the module docstring for the interface.

    Examples
    --------
    >>> from chmr_sklearn import CHMRTransformer
    >>> engine = CHMRTransformer().fit(["CCO"])._engine()
    >>> keys = engine.keys(["OCC", "not a smiles"])
    >>> keys
    ['CCO', None]
    >>> out, _ = engine.embed(keys)
    >>> out.shape, bool(np.isnan(out[1]).all())
    ((2, 2091), True)
    """

    model: torch.nn.Module
    config: Any
    scaler: Any
    device: torch.device
    precision: str
    output: str
    batch_size: int
    n_jobs: int | None
    seed: int
    verbose: int
    cache: bool
    cache_dir: Any
    state: EngineState
    version: str

    # ---- keys -----------------------------------------------------------------------------
    def keys(self, entries) -> list[str | None]:
        """Canonical SMILES of each entry (``None`` when invalid): the cache keys."""
        if not self.cache:
            return self._canonical(list(entries))
        memory = self.state.memory
        out: list = [False] * len(entries)
        unknown = []  # positions of strings not yet canonicalized, and of Mol objects
        for i, e in enumerate(entries):
            if isinstance(e, str):
                out[i] = memory.get_canonical(e)
            if out[i] is False:
                unknown.append(i)
        for i, canon in zip(unknown, self._canonical([entries[i] for i in unknown])):
            out[i] = canon
            if isinstance(entries[i], str):
                memory.put_canonical(entries[i], canon)
        return out

    def _canonical(self, entries: list) -> list[str | None]:
        """``to_smiles`` of each entry; in worker processes when the input is large."""
        workers = effective_workers(self.n_jobs)
        if workers == 1 or len(entries) < _parallel_threshold(_CANONICAL_COST):
            with GATE.computing():
                return _canonical_chunk(entries)
        bounds = _tasks(len(entries), workers, 4 * _TASK_SIZE)  # cheap work: larger tasks
        if can_fork():
            parts = forked_map(lambda a, b: _canonical_chunk(entries[a:b]), bounds, workers)
        else:
            from joblib import Parallel, delayed

            parts = Parallel(n_jobs=workers)(delayed(_canonical_chunk)(entries[a:b]) for a, b in bounds)
        return [k for part in parts for k in part]

    # ---- embedding ------------------------------------------------------------------------
    def embed(self, keys: list[str | None], *, codes: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Output rows of ``keys`` (NaN for ``None``) and, with ``codes``, their tree codes.

        Repeated molecules are computed once and copied to each of their rows.
        """
        if codes and self.model.tree_vq is None:
            raise ValueError("This encoder was pretrained without Tree-VQ (use_tree_vq=False): no tree codes.")
        first: dict[str, int] = {}
        inverse = np.full(len(keys), -1, dtype=np.intp)
        for i, k in enumerate(keys):
            if k is not None:
                inverse[i] = first.setdefault(k, len(first))
        distinct = list(first)
        order = np.argsort(inverse, kind="stable")  # rows grouped by molecule, invalid (-1) first
        grouped = inverse[order]
        out = np.empty((len(keys), self.n_output()), dtype=np.float32)
        out[inverse < 0] = np.nan  # every other row is written below
        tree = np.full((len(keys), self.model.tree_vq.n_levels), -1, dtype=np.int64) if codes else None
        step = self.chunk_size()
        with self._disk_cache() as disk:
            for start in range(0, len(distinct), step):
                block = distinct[start : start + step]
                rows = self.rows(block, disk)
                lo, hi = np.searchsorted(grouped, [start, start + len(block)])
                pos, which = order[lo:hi], grouped[lo:hi] - start
                out[pos] = self.project(rows)[which]
                if codes:
                    tree[pos] = self.route(rows)[which]
        return out, tree

    def chunk_size(self) -> int:
        # Whole inference batches, so chunking never changes how molecules are batched in
        # this process.
        return max(1, TRANSFORM_CHUNK // self.encode_batch()) * self.encode_batch()

    def encode_batch(self) -> int:
        """Molecules per forward pass: ``batch_size``, at most ``_CPU_ENCODE_BATCH`` on CPU."""
        return min(self.batch_size, _CPU_ENCODE_BATCH) if self.device.type == "cpu" else self.batch_size

    def rows(self, block: list[str], disk: EmbeddingCache | None) -> np.ndarray:
        """Full ``[fp ; z1d ; z2d ; z3d]`` rows of distinct molecules: memory, disk, computed."""
        rows = np.empty((len(block), self.row_width()), dtype=np.float32)
        memory = self.state.memory if self.cache else None
        found = memory.get_rows(block) if memory is not None else {}
        todo = []
        for j, k in enumerate(block):
            row = found.get(k)
            if row is None:
                todo.append(j)
            else:
                rows[j] = row
        if todo and disk is not None:
            stored = disk.get([block[j] for j in todo])
            for j in todo:
                if block[j] in stored:
                    rows[j] = stored[block[j]]
            todo = [j for j in todo if block[j] not in stored]
        if todo:
            computed = self.compute([block[j] for j in todo])
            if len(todo) == len(block):  # nothing was cached: no copy
                rows = computed
            else:
                rows[todo] = computed
            if disk is not None:
                # the rows the file holds: another process may have stored a molecule first
                rows[todo] = disk.put([block[j] for j in todo], rows[todo])
        if memory is not None:
            fresh = [j for j, k in enumerate(block) if k not in found]
            memory.put_rows([block[j] for j in fresh], rows[fresh])
        return rows

    def compute(self, smiles: list[str]) -> np.ndarray:
        """Featurize and encode ``smiles`` (canonical, valid): full rows, float32."""
        workers = effective_workers(self.n_jobs)
        if workers == 1 or len(smiles) < _parallel_threshold():
            return self._assemble([(0, len(smiles))], [self._compute_here(smiles)])
        if self.device.type != "cpu":  # the accelerator encodes; the workers only featurize
            return self._assemble([(0, len(smiles))], [self._compute_here(smiles, n_jobs=workers)])
        bounds = _tasks(len(smiles), workers, _TASK_SIZE)
        if can_fork():  # the workers inherit the encoder and the molecules
            model, batch, features = self.inference_model(), self.encode_batch(), self._feature_settings()

            def work(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
                return _worker_rows(smiles[a:b], model, batch, self.scaler, features)

            return self._assemble(bounds, forked_map(work, bounds, workers))
        from joblib import Parallel, delayed

        task = _WorkerTask(self._blob(), self.precision, self.encode_batch(), self.scaler, self._feature_settings())
        parts = Parallel(n_jobs=workers, return_as="generator")(delayed(task)(smiles[a:b]) for a, b in bounds)
        return self._assemble(bounds, parts)

    def _assemble(self, bounds: list[tuple[int, int]], parts) -> np.ndarray:
        """Rows from ``(fingerprint bits, latents)`` parts, each written once into place."""
        rows = np.empty((bounds[-1][1], self.row_width()), dtype=np.float32)
        n_fp = self.config.fp_bits + 167
        for (a, b), (bits, latents) in zip(bounds, parts):
            rows[a:b, :n_fp] = bits
            rows[a:b, n_fp:] = latents
        return rows

    def _compute_here(self, smiles: list[str], n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
        # featurization keeps forks out itself (and forks its own workers with n_jobs > 1)
        feats, _ = featurize_molecular(smiles, **self._feature_settings(), scaler=self.scaler, n_jobs=n_jobs,
                                       verbose=self.verbose)
        with GATE.computing():  # no other thread forks meanwhile (see chmr_sklearn._workers)
            return _encode(self.inference_model(), feats, self.encode_batch(), self.device)

    def _feature_settings(self) -> dict:
        return {**self.config.featurization(), "random_state": self.seed}

    def inference_model(self) -> torch.nn.Module:
        """The encoder in the arithmetic of ``precision`` (float64 copy made once, shared).

        In float32 a molecule's embedding may change in the last bits with the other
        molecules of its batch (BLAS blocking); computing in float64 and rounding once to
        float32 makes it independent of batching.
        """
        if self.precision == "float32":
            return self.model
        with self.state.lock:
            if self.state.model64 is None:
                self.state.model64 = copy.deepcopy(self.model).double().eval()
            return self.state.model64

    def _blob(self) -> tuple[str, np.ndarray]:
        # For joblib's workers (no fork): the CPU encoder pickled once per fitted transformer,
        # as a numpy buffer joblib memory-maps to the workers once per call, not once per task.
        with self.state.lock:
            if self.state.blob is None:
                data = pickle.dumps(copy.deepcopy(self.model).cpu().float(), protocol=pickle.HIGHEST_PROTOCOL)
                self.state.blob = (hashlib.sha256(data).hexdigest(), np.frombuffer(data, dtype=np.uint8))
            return self.state.blob

    # ---- output columns -------------------------------------------------------------------
    @property
    def modalities(self) -> tuple[str, ...]:
        """The encoder's molecular latents, in row order (``"3d"`` only if it has that modality)."""
        return self.model.molecular_modalities

    def row_width(self) -> int:
        return self.config.fp_bits + 167 + len(self.modalities) * self.config.latent_dim

    def n_output(self) -> int:
        d = self.config.latent_dim
        return {"concat": self.row_width(), "latents": len(self.modalities) * d, "anchor": d}[self.output]

    def project(self, rows: np.ndarray) -> np.ndarray:
        """Full rows -> the columns of ``output``."""
        n_fp = self.config.fp_bits + 167
        if self.output == "concat":
            return rows
        if self.output == "latents":
            return rows[:, n_fp:]
        return self._anchor(rows[:, n_fp:])

    def _anchor(self, lat: np.ndarray) -> np.ndarray:
        # Summed left to right in float32, as CHMRModel.anchor does: z1d + z2d (+ z3d).
        d = self.config.latent_dim
        out = lat[:, :d]
        for k in range(1, len(self.modalities)):
            out = out + lat[:, k * d : (k + 1) * d]
        return out

    def route(self, rows: np.ndarray) -> np.ndarray:
        """Tree-VQ codes of full rows (their anchor routed down the tree)."""
        lat = rows[:, self.config.fp_bits + 167 :].astype(np.float64)
        anchor = self._anchor(lat).astype(np.float64 if self.precision == "float64" else np.float32)
        with torch.inference_mode():
            return self.inference_model().tree_vq.route(torch.from_numpy(anchor).to(self.device)).cpu().numpy()

    # ---- cache keys -----------------------------------------------------------------------
    def weights_sha256(self) -> str:
        """Hash of the encoder's weights and 3D scaler (computed once per fitted transformer)."""
        with self.state.lock:
            if self.state.weights_sha256 is None:
                digest = hashlib.sha256()
                for name, tensor in sorted(self.model.state_dict().items()):
                    arr = tensor.detach().cpu().contiguous().numpy()
                    digest.update(f"{name}:{arr.dtype}:{arr.shape}".encode())
                    digest.update(arr.tobytes())
                for arr in (self.scaler.mean, self.scaler.std):
                    digest.update(np.ascontiguousarray(arr, dtype=np.float32).tobytes())
                self.state.weights_sha256 = digest.hexdigest()
            return self.state.weights_sha256

    def settings(self) -> dict:
        """Everything that changes the embedding numbers (keys the disk cache and streaming)."""
        import rdkit

        return {
            "model_sha256": self.weights_sha256(),  # weights + 3D scaler, however obtained
            "precision": self.precision,
            "conformer_seed": self.seed,
            **self.config.featurization(),
            "device": self.device.type,  # float rounding may differ between CPU and GPU kernels
            "chmr_sklearn": self.version,
            "torch": torch.__version__,
            "rdkit": rdkit.__version__,
        }

    def _disk_cache(self):
        import contextlib

        if self.cache_dir is None:
            return contextlib.nullcontext(None)
        settings = self.settings()
        namespace = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        return EmbeddingCache(self.cache_dir, namespace, settings, self.row_width())


def _pool_running() -> bool:
    """Whether joblib's reusable worker pool is up (its workers need no start-up)."""
    try:
        from joblib.externals.loky import reusable_executor

        pool = reusable_executor._executor
        return bool(pool is not None and not pool._flags.shutdown and not pool._flags.broken
                    and getattr(pool, "_processes", None))
    except Exception:  # noqa: BLE001 - private joblib state; unknown means "start-up not paid"
        return False


def _parallel_threshold(cost: float = 1.0) -> int:
    """Fewest molecules worth sending to worker processes, for work of ``cost`` x featurize + encode.

    Forked workers are cheap to start, so their threshold scales with the work; joblib's
    (elsewhere) take the molecules a first call will send them anyway: their start-up is
    paid once per process, and canonicalizing on every core then wins.
    """
    if can_fork():
        return int(_MIN_FORKED / cost)
    return _MIN_PARALLEL if _pool_running() else _COLD_FACTOR * _MIN_PARALLEL


def _encode(model: torch.nn.Module, feats, batch_size: int, device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """Fingerprint bits (uint8) and ``[z1d ; z2d (; z3d)]`` float32 latents of featurized molecules.

    The encoder takes ``batch_size`` molecules per forward pass. Bits travel as uint8 (a
    quarter of float32) from the workers; :meth:`EmbeddingEngine._assemble` writes both into
    the rows. No deterministic-mode switch on CPU: CPU ``index_add`` (the GNN's scatter) is
    bit-reproducible whatever the thread count (tests/estimators/test_transformer.py), and
    the switch costs seconds of imports on first use. On an accelerator, where the scatter
    uses atomic adds, deterministic kernels are selected.
    """
    import contextlib

    from .._runtime import deterministic

    latents = []
    exact = deterministic() if device.type != "cpu" else contextlib.nullcontext()
    with torch.inference_mode(), exact:  # no autograd bookkeeping; the model casts inputs to its dtype
        for start in range(0, len(feats), batch_size):
            idx = np.arange(start, min(start + batch_size, len(feats)))
            z = model.encode(**feats.torch_batch(idx, device))
            latents.append(torch.cat([z[m] for m in model.molecular_modalities], dim=1).float().cpu().numpy())
    return feats.fp.astype(np.uint8), np.concatenate(latents)


def _tasks(n: int, workers: int, largest: int) -> list[tuple[int, int]]:
    """Slices of ``n`` molecules for ``workers``: at most ``largest``, at least two per worker.

    The last ``workers`` tasks' worth is cut into quarter-size tasks (at least 16 molecules,
    a reasonable encoder batch) so that the workers finish together: the call waits for the
    slowest. 8,192 molecules on 2 workers, at most 256 a task: 30 x 256, then 8 x 64.

    Examples
    --------
    >>> [b - a for a, b in _tasks(1000, 2, 256)]
    [250, 250, 55, 56, 55, 56, 55, 56, 55, 56, 56]
    """
    size = max(1, min(largest, -(-n // (2 * workers))))
    tail = min(n, workers * size)
    small = max(min(size, 16), size // 4)
    bulk = _even_slices(n - tail, -(-(n - tail) // size))
    return bulk + [(n - tail + a, n - tail + b) for a, b in _even_slices(tail, -(-tail // small))]


def _even_slices(n: int, pieces: int) -> list[tuple[int, int]]:
    """``pieces`` consecutive slices covering ``n``, sizes differing by at most one."""
    cuts = [n * i // pieces for i in range(pieces + 1)] if pieces else [0]
    return [(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def _canonical_chunk(entries: list) -> list[str | None]:
    return [to_smiles(e) for e in entries]


# Models unpickled inside a worker process, by (blob hash, precision): one per fitted encoder.
_WORKER_MODELS: dict[tuple[str, str], torch.nn.Module] = {}


@dataclass
class _WorkerTask:
    """Featurize + encode one slice of molecules inside a joblib worker process (one torch thread).

    The path where workers cannot be forked (see :func:`chmr_sklearn._workers.can_fork`): the worker
    unpickles the encoder once and keeps it for later calls.
    """

    blob: tuple[str, np.ndarray]
    precision: str
    batch_size: int
    scaler: Any
    features: dict

    def __call__(self, smiles: list[str]) -> np.ndarray:
        torch.set_num_threads(1)  # this worker is one of n_jobs processes sharing the cores
        key = (self.blob[0], self.precision)
        model = _WORKER_MODELS.get(key)
        if model is None:
            model = pickle.loads(self.blob[1].tobytes()).eval()
            if self.precision == "float64":
                model = model.double()
            _WORKER_MODELS.clear()  # keep one encoder per worker
            _WORKER_MODELS[key] = model
        return _worker_rows(smiles, model, self.batch_size, self.scaler, self.features)


def _worker_rows(smiles: list[str], model: torch.nn.Module, batch_size: int, scaler, features: dict):
    """A worker process's task, forked or joblib's: featurize on this one process, encode on the CPU."""
    feats, _ = featurize_molecular(smiles, **features, scaler=scaler, n_jobs=1)
    return _encode(model, feats, batch_size, torch.device("cpu"))
