"""Persistent embedding cache: one SQLite file of float32 rows keyed by settings + canonical SMILES.

Why SQLite (``sqlite3``, Python's standard library): one self-contained file that other
processes, GridSearchCV clones and later Python sessions can share; transactions, so an
interrupted write never leaves a half-written row; safe concurrent writers; no extra dependency.

Concurrency. Any number of processes may read and write one file at once:

* the WAL journal lets readers work while one process writes (it persists in the file);
* every write is one ``BEGIN IMMEDIATE`` transaction per chunk of molecules: the write lock is
  taken at its start, so a second writer waits (``busy_timeout``, 120 s) instead of failing
  half-way, and a reader never sees part of a chunk;
* rows are added with ``INSERT OR IGNORE``: when two processes compute the same molecule the
  first row stays. Both rows are equal anyway (the key holds everything that changes the
  numbers), so every process reads the same bytes.

Rows are keyed by ``(namespace, canonical SMILES)``. The namespace is a hash of everything
that changes the numbers (model weights, precision, conformer seed, featurization settings,
library versions, device type), so rows of different models or settings never mix. A row is
the raw little-endian float32 bytes of the transformer's full ``[fp ; z1d ; z2d ; z3d]`` row,
so a cached embedding equals the one computed when it was stored, bit for bit.

Versions. The file records its layout (``PRAGMA user_version``, :data:`SCHEMA_VERSION`) and
that it is a CHMR cache (``PRAGMA application_id``). A file of another layout (written by an
older or newer chmr_sklearn) or of another application raises :class:`CacheError`; rows that
an older *package* version computed (another namespace) are never read, and a
:class:`CacheWarning` says so once per process. The namespace's stored settings must equal the
settings that hash to it, otherwise the file was altered and is refused.

The cache never deletes or rewrites a file it does not understand (it may hold another tool's
data): the error names the file and the fix.
"""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["CACHE_FILENAME", "SCHEMA_VERSION", "CacheError", "CacheWarning", "EmbeddingCache", "cache_file_bytes"]

CACHE_FILENAME = "chmr_embeddings.sqlite"
#: Layout of the file. 1: chmr_sklearn 0.1.0's first layout (no version stamp); 2: stamped
#: with ``user_version`` / ``application_id`` and a ``meta`` table.
SCHEMA_VERSION = 2
_APPLICATION_ID = 0x43484D52  # "CHMR": tells our files from other SQLite databases
_TIMEOUT_S = 120.0  # a writer waits this long for another process's transaction
_MAX_PARAMS = 500  # keys per SELECT (SQLite's variable limit is 999 on old builds)
_VERSION_KEY = "chmr_sklearn"  # the settings entry naming the package version that computed rows
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE namespaces (
    namespace TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    width INTEGER NOT NULL
);
CREATE TABLE embeddings (
    namespace TEXT NOT NULL,
    smiles TEXT NOT NULL,
    row BLOB NOT NULL,
    PRIMARY KEY (namespace, smiles)
);
"""
_OUR_TABLES = {"meta", "namespaces", "embeddings"}
_warned: set[tuple[str, str]] = set()  # (file, stale version) pairs already reported in this process


class CacheError(RuntimeError):
    """The embedding cache file cannot be used (corrupt, not a cache, another layout, or locked too long).

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


class CacheWarning(UserWarning):
    """The embedding cache holds rows of another chmr_sklearn version; they are ignored, not used.

    Examples
    --------
    >>> import tempfile, warnings
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with EmbeddingCache(d, "old", {"chmr_sklearn": "0.0.1"}, width=3) as cache:
    ...         _ = cache.put(["CCO"], np.zeros((1, 3), dtype=np.float32))
    ...     with warnings.catch_warnings(record=True) as caught:
    ...         warnings.simplefilter("always")
    ...         with EmbeddingCache(d, "new", {"chmr_sklearn": "0.2.0"}, width=3) as cache:
    ...             print(cache.get(["CCO"]))
    {}
    >>> print(caught[0].category.__name__, "0.0.1" in str(caught[0].message))
    CacheWarning True
    """


class EmbeddingCache:
    """Embedding rows of one transformer setting, stored in ``directory/chmr_embeddings.sqlite``.

    Use as a context manager: the connection lives for one ``transform`` call, so the
    transformer itself stays picklable and fork-safe. Several processes may use one file at
    the same time (see the module docstring).

    Parameters
    ----------
    directory : str or Path
        Created if missing.
    namespace : str
        Hash of the settings the rows were computed with.
    settings : dict
        Human-readable form of the namespace, stored once; reopening checks it is unchanged.
        Its ``"chmr_sklearn"`` entry, when present, is the package version that computed the
        rows (rows of other versions are reported by a :class:`CacheWarning`).
    width : int
        Length of every row (float32 values).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     with EmbeddingCache(d, "ns", {"model": "m"}, width=3) as cache:
    ...         _ = cache.put(["CCO"], np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
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
                # isolation_level=None: no implicit transactions; each write is one explicit
                # BEGIN IMMEDIATE ... COMMIT (see _write).
                self._conn = sqlite3.connect(self.path, timeout=_TIMEOUT_S, isolation_level=None)
                self._conn.execute(f"PRAGMA busy_timeout = {int(_TIMEOUT_S * 1000)}")
                self._check_readable()
                self._use_wal()
                # A crash may lose the last committed chunks, never corrupt the file: enough for a cache.
                self._conn.execute("PRAGMA synchronous = NORMAL")
                with self._write():
                    self._check_or_create_schema()
                    self._register_namespace()
            self._warn_other_versions()
        except BaseException:
            self.__exit__()  # no connection left open behind the error
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _errors(self):
        return _TranslateErrors(self.path)

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction that holds the write lock from its start (waits for other writers)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ---- opening --------------------------------------------------------------------------
    def _check_readable(self) -> None:
        # The first read of a file that is not a database fails here, before any write.
        self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()

    def _use_wal(self) -> None:
        # Switching a new file to WAL needs a moment of exclusive access; when another process
        # holds the file, retry until the timeout rather than fail the whole transform.
        deadline = time.monotonic() + _TIMEOUT_S
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            if mode.lower() == "wal" or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def _check_or_create_schema(self) -> None:
        conn = self._conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and version == 0 and app == 0:  # a new, empty file: ours to lay out
            # statement by statement: executescript would COMMIT the open transaction
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO meta VALUES ('created_by', ?)", (str(self.settings.get(_VERSION_KEY)),))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            return
        if app == _APPLICATION_ID and version == SCHEMA_VERSION and _OUR_TABLES <= tables:
            return
        if app == 0 and version == 0 and tables == {"namespaces", "embeddings"}:
            version = 1  # chmr_sklearn 0.1.0's unstamped layout
        elif app != _APPLICATION_ID:
            raise CacheError(
                f"The file {self.path} is an SQLite database but not a CHMR embedding cache (tables: "
                f"{', '.join(sorted(tables)) or 'none'}). It is left untouched: pass another cache_dir."
            )
        raise CacheError(
            f"The embedding cache {self.path} was written by {'an older' if version < SCHEMA_VERSION else 'a newer'} "
            f"chmr_sklearn (cache layout {version}; this version reads layout {SCHEMA_VERSION}). Its rows are not "
            "used. Delete the file (it only holds cached embeddings) or pass another cache_dir."
        )

    def _register_namespace(self) -> None:
        stored_json = json.dumps(self.settings, sort_keys=True)
        self._conn.execute("INSERT OR IGNORE INTO namespaces VALUES (?, ?, ?)",
                           (self.namespace, stored_json, self.width))
        settings, width = self._conn.execute(
            "SELECT settings, width FROM namespaces WHERE namespace = ?", (self.namespace,)).fetchone()
        if settings != stored_json or width != self.width:
            try:
                stored = json.loads(settings)
            except ValueError:
                stored = {}
            changed = sorted(k for k in set(stored) | set(self.settings) if stored.get(k) != self.settings.get(k))
            raise CacheError(
                f"The embedding cache {self.path} holds rows under this setting's key whose recorded settings "
                f"differ from it ({', '.join(changed) or f'row width {width} != {self.width}'}): the file was "
                "altered or written by an incompatible chmr_sklearn. Its rows are not used. Delete the file (it "
                "only holds cached embeddings) or pass another cache_dir."
            )

    def _warn_other_versions(self) -> None:
        """Say once per process that rows of other package versions sit unused in the file."""
        ours = self.settings.get(_VERSION_KEY)
        if ours is None:
            return
        stale: dict[str, list[str]] = {}
        for namespace, settings in self._conn.execute("SELECT namespace, settings FROM namespaces"):
            version = json.loads(settings).get(_VERSION_KEY)
            if version is not None and version != ours and (str(self.path), version) not in _warned:
                stale.setdefault(version, []).append(namespace)
        for version, namespaces in stale.items():
            _warned.add((str(self.path), version))
            marks = ",".join("?" * len(namespaces))
            n_rows = self._conn.execute(
                f"SELECT count(*) FROM embeddings WHERE namespace IN ({marks})", namespaces).fetchone()[0]
            warnings.warn(
                f"The embedding cache {self.path} holds {n_rows} rows computed by chmr_sklearn {version}; "
                f"they are ignored (this is chmr_sklearn {ours}) and molecules are embedded again. Delete the "
                "file to reclaim the space if no other installation uses it.",
                CacheWarning, stacklevel=4,
            )

    # ---- rows -----------------------------------------------------------------------------
    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored rows of ``keys`` (missing keys are absent from the result)."""
        with self._errors():
            return self._select(keys)

    def _select(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
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

    def put(self, keys: Sequence[str], rows: np.ndarray) -> np.ndarray:
        """Store ``rows`` (one per key) in one transaction and return the rows the file now holds.

        A key another process stored first keeps its row, and that row is returned in place
        of the given one: every process then uses the same bytes for a molecule, even where
        recomputing it would differ in the last bits (``precision="float32"``).
        """
        data = np.array(rows, dtype="<f4", order="C")  # a copy: the caller's array is not changed
        if len(keys) == 0:
            return data.astype(np.float32, copy=False)
        with self._errors(), self._write():
            cursor = self._conn.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)",
                ((self.namespace, k, data[i].tobytes()) for i, k in enumerate(keys)),
            )
            if cursor.rowcount != len(keys):  # some keys were there already: read them back
                stored = self._select(keys)
                for i, k in enumerate(keys):
                    data[i] = stored[k]
        return data.astype(np.float32, copy=False)


def cache_file_bytes(directory: str | Path) -> int:
    """Bytes the cache in ``directory`` takes on disk (database + its WAL journal; 0 if absent).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     print(cache_file_bytes(d))
    0
    """
    base = Path(directory) / CACHE_FILENAME
    return sum(p.stat().st_size for p in (base, base.with_name(base.name + "-wal")) if p.is_file())


class _TranslateErrors:
    """Turn SQLite's exceptions into one :class:`CacheError` that names the file and the fix."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None or not issubclass(exc_type, sqlite3.Error):
            return False
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            raise CacheError(
                f"The embedding cache {self.path} stayed locked by another process for {_TIMEOUT_S:.0f} s ({exc})."
            ) from exc
        raise CacheError(
            f"The embedding cache {self.path} cannot be read ({exc}): the file is corrupt or not a CHMR "
            "cache. Delete it (it only holds cached embeddings) or pass another cache_dir."
        ) from exc
