"""Persistent embedding cache: one SQLite file of float32 rows keyed by settings + canonical SMILES.

Why SQLite (``sqlite3``, Python's standard library): one self-contained file that other
processes, GridSearchCV clones and later Python sessions can share; transactions, so an
interrupted write never leaves a half-written row; safe concurrent writers (the WAL journal
plus a busy timeout makes a second writer wait instead of failing); no extra dependency.

Rows are keyed by ``(namespace, canonical SMILES)``. The namespace is a hash of everything
that changes the numbers (model weights, precision, conformer seed, featurization settings,
library versions, device type), so rows of different models or settings never mix. A row is
the raw little-endian float32 bytes of the transformer's full ``[fp ; z1d ; z2d ; z3d]`` row,
so a cached embedding equals the one computed when it was stored, bit for bit.

A file that SQLite cannot read raises :class:`CacheError` naming the file: the cache never
deletes or rewrites a file it does not understand (it may hold another tool's data).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["CACHE_FILENAME", "CacheError", "EmbeddingCache"]

CACHE_FILENAME = "chmr_embeddings.sqlite"
_TIMEOUT_S = 120.0  # a writer waits this long for another process's transaction
_MAX_PARAMS = 500  # keys per SELECT (SQLite's variable limit is 999 on old builds)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (
    namespace TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    width INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    namespace TEXT NOT NULL,
    smiles TEXT NOT NULL,
    row BLOB NOT NULL,
    PRIMARY KEY (namespace, smiles)
);
"""


class CacheError(RuntimeError):
    """The embedding cache file cannot be used (corrupt, not a cache, or locked too long).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = Path(d, CACHE_FILENAME).write_bytes(b"not a database" * 100)
    ...     try:
    ...         EmbeddingCache(d, "ns", {}, width=3).__enter__()
    ...     except CacheError as error:
    ...         print("corrupt" in str(error))
    True
    """


class EmbeddingCache:
    """Embedding rows of one transformer setting, stored in ``directory/chmr_embeddings.sqlite``.

    Use as a context manager: the connection lives for one ``transform`` call, so the
    transformer itself stays picklable and fork-safe.

    Parameters
    ----------
    directory : str or Path
        Created if missing.
    namespace : str
        Hash of the settings the rows were computed with.
    settings : dict
        Human-readable form of the namespace, stored once for inspection.
    width : int
        Length of every row (float32 values).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with EmbeddingCache(d, "ns", {"model": "m"}, width=3) as cache:
    ...         cache.put(["CCO"], np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
    ...     with EmbeddingCache(d, "ns", {"model": "m"}, width=3) as cache:
    ...         cache.get(["CCO", "CCN"])
    {'CCO': array([1., 2., 3.], dtype=float32)}
    """

    def __init__(self, directory: str | Path, namespace: str, settings: dict, width: int):
        self.path = Path(directory) / CACHE_FILENAME
        self.namespace = namespace
        self.settings = settings
        self.width = int(width)
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> EmbeddingCache:  # noqa: PYI034 (typing.Self needs Python 3.11)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._errors():
                self._conn = sqlite3.connect(self.path, timeout=_TIMEOUT_S)
                # WAL: readers never block the writer and vice versa (persists in the file).
                self._conn.execute("PRAGMA journal_mode=WAL")
                with self._conn:
                    self._conn.executescript(_SCHEMA)
                    self._conn.execute(
                        "INSERT OR IGNORE INTO namespaces VALUES (?, ?, ?)",
                        (self.namespace, json.dumps(self.settings, sort_keys=True), self.width),
                    )
        except CacheError:
            self.__exit__()  # no connection left open behind the error
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _errors(self):
        return _TranslateErrors(self.path)

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored rows of ``keys`` (missing keys are absent from the result)."""
        found: dict[str, np.ndarray] = {}
        with self._errors():
            for start in range(0, len(keys), _MAX_PARAMS):
                part = list(keys[start : start + _MAX_PARAMS])
                marks = ",".join("?" * len(part))
                cursor = self._conn.execute(
                    f"SELECT smiles, row FROM embeddings WHERE namespace = ? AND smiles IN ({marks})",
                    [self.namespace, *part],
                )
                for smiles, blob in cursor:
                    if len(blob) != 4 * self.width:
                        raise CacheError(
                            f"The embedding cache {self.path} holds a row of {len(blob)} bytes for {smiles!r} "
                            f"where {4 * self.width} are expected: the file is damaged. Delete it (it only "
                            "holds cached embeddings) or pass another cache_dir."
                        )
                    found[smiles] = np.frombuffer(blob, dtype="<f4")
        return found

    def put(self, keys: Sequence[str], rows: np.ndarray) -> None:
        """Store ``rows`` (float32, one per key) in one transaction; existing keys are kept."""
        data = np.ascontiguousarray(rows, dtype="<f4")
        with self._errors(), self._conn:
            self._conn.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)",
                ((self.namespace, k, data[i].tobytes()) for i, k in enumerate(keys)),
            )


class _TranslateErrors:
    """Turn SQLite's exceptions into one :class:`CacheError` that names the file and the fix."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None or not issubclass(exc_type, sqlite3.Error):
            return False
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            raise CacheError(
                f"The embedding cache {self.path} stayed locked by another process for {_TIMEOUT_S:.0f} s ({exc})."
            ) from exc
        raise CacheError(
            f"The embedding cache {self.path} cannot be read ({exc}): the file is corrupt or not a CHMR "
            "cache. Delete it (it only holds cached embeddings) or pass another cache_dir."
        ) from exc
