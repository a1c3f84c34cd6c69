"""Where data files live, how a missing one is downloaded, how every file is verified.

Rules (DESIGN §5):

* ``data_home`` = the argument, else the ``CHMR_DATA_HOME`` environment variable, else
  ``~/chmr_sklearn_data``. Files sit under it with the registry's relative path
  (``moleculenet/bbbp.csv.gz``: the same layout as the project's ``shared/data``).
* Only registry names can be fetched; nothing is ever written outside ``data_home``: a
  registry path that is absolute, has ``..``/``.``/empty parts or backslashes, or that resolves
  outside ``data_home`` through a symlink is refused with a ValueError.
* An existing file is **never rewritten** (``shared/`` is read-only in CI); it is verified
  (sha256 of the stored bytes, or of its decompressed content) and a mismatch raises.
* A download is verified in memory on its decompressed content, written to a temporary file
  in the destination folder and moved into place only then; a mismatch leaves nothing behind.
  Downloads and decompressed contents are capped (``_MAX_BYTES``) so a hostile server or a
  gzip bomb cannot exhaust memory before the hash check, and redirects may only lead to
  http(s) URLs. No archive is ever extracted: data files are single (gzip) files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ._registry import REGISTRY

__all__ = [
    "DATA_HOME_ENV",
    "ChecksumError",
    "fetch_file",
    "get_data_home",
    "list_data_files",
]

DATA_HOME_ENV = "CHMR_DATA_HOME"
_DEFAULT_HOME = "~/chmr_sklearn_data"
_GZIP_MAGIC = b"\x1f\x8b"
_ALLOWED_SCHEMES = ("https://", "http://", "file://")
_TIMEOUT_S = 60
# The largest registry file holds ~10 MB of content; anything far bigger is not ours.
_MAX_BYTES = 256 * 2**20

# (resolved path, inode, size, mtime_ns, ctime_ns) -> sha256 it was verified against; hashing a
# few MB is cheap, but loaders are called in loops (benchmarks x seeds), so each file is hashed
# once per process. ctime and inode change whenever the file is rewritten or replaced (unlike
# mtime, they cannot be set back), so a swapped file is hashed again.
_VERIFIED: dict[tuple[str, int, int, int, int], str] = {}

# name -> function(data_home, download_if_missing) -> bytes of the uncompressed derived file.
# Filled by the modules that know how to rebuild a derived file (see _profiles.py).
_BUILDERS: dict[str, Callable[[Path, bool], bytes]] = {}


class ChecksumError(ValueError):
    """A file's bytes do not match the hash recorded in the registry.

    The file is corrupt or another version. It is never overwritten: delete it to fetch it
    again.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as home:
    ...     Path(home, "moleculenet").mkdir()
    ...     _ = Path(home, "moleculenet", "bbbp.csv.gz").write_bytes(b"not the real file")
    ...     try:
    ...         fetch_file("bbbp", data_home=home)
    ...     except ChecksumError as err:
    ...         print("does not match the registry" in str(err))
    True
    """


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds (or will hold) the data files.

    Nothing is created here: a folder is made only when a file has to be downloaded.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit folder. When ``None``, the ``CHMR_DATA_HOME`` environment variable is used,
        else ``~/chmr_sklearn_data``. ``~`` is expanded.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> str(get_data_home("/tmp/somewhere"))
    '/tmp/somewhere'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or _DEFAULT_HOME
    return Path(os.path.expanduser(os.fspath(data_home)))


def list_data_files() -> list[str]:
    """Names of every file in the bundled registry (the names :func:`fetch_file` accepts).

    Examples
    --------
    >>> "bbbp" in list_data_files()
    True
    """
    return sorted(REGISTRY)


def _entry(name: str) -> dict[str, Any]:
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValueError(
            f"Unknown data file {name!r}; only registry names are accepted: {sorted(REGISTRY)}."
        )
    return REGISTRY[name]


def _local_path(entry: dict[str, Any], home: Path) -> Path:
    """Destination of a registry entry under ``home``; refuses anything that could escape it."""
    rel = entry["path"]
    pure = PurePosixPath(rel)
    if (
        not rel
        or "\\" in rel
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in rel.split("/"))
        or ":" in pure.parts[0]
    ):
        raise ValueError(f"Registry path {rel!r} is not a plain relative path under data_home.")
    path = home.joinpath(*pure.parts)
    # A symlinked folder or file inside data_home must not lead reads or writes elsewhere.
    root = home.resolve()
    if not path.resolve().is_relative_to(root):
        raise ValueError(
            f"Registry path {rel!r} resolves to {str(path.resolve())!r}, outside data_home "
            f"{str(root)!r} (a symlink?); refusing to read or write there."
        )
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _payload(data: bytes) -> bytes:
    """Decompressed content of gzip bytes (at most ``_MAX_BYTES``); other bytes unchanged."""
    if data[:2] != _GZIP_MAGIC:
        return data
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        content = stream.read(_MAX_BYTES + 1)
    if len(content) > _MAX_BYTES:
        raise OSError(f"decompresses to more than {_MAX_BYTES} bytes (a gzip bomb?)")
    return content


def _verify_existing(name: str, path: Path, entry: dict[str, Any]) -> None:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    if _VERIFIED.get(key) == entry["sha256"]:
        return
    data = path.read_bytes()
    actual = _sha256(data)
    if actual != entry["sha256"]:
        # A file this package downloaded and gzip-compressed itself differs in bytes from the
        # stored reference (gzip implementations differ), so accept a matching content too.
        try:
            content_actual = _sha256(_payload(data))
        except (OSError, EOFError, zlib.error):
            content_actual = "<not a readable gzip file>"
        if content_actual != entry["content_sha256"]:
            raise ChecksumError(
                f"Data file {str(path)!r} (registry name {name!r}) does not match the registry: "
                f"sha256 {actual} (expected {entry['sha256']}), content sha256 {content_actual} "
                f"(expected {entry['content_sha256']}). It is corrupt or a different version. "
                "It is never overwritten: delete it to fetch it again."
            )
    _VERIFIED[key] = entry["sha256"]


class _WebOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) URLs only (urllib would also follow ftp://)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not newurl.startswith(("https://", "http://")):
            raise urllib.error.URLError(f"refusing to follow a redirect to {newurl!r}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _fetch_bytes(url: str) -> bytes:
    """Download ``url`` (https or file) and return its bytes. Tests replace this function."""
    if not url.startswith(_ALLOWED_SCHEMES):
        raise ValueError(f"Refusing to download from {url!r}: only {_ALLOWED_SCHEMES} URLs.")
    opener = urllib.request.build_opener(_WebOnlyRedirects)
    with opener.open(url, timeout=_TIMEOUT_S) as response:  # scheme checked above
        data = response.read(_MAX_BYTES + 1)
    if len(data) > _MAX_BYTES:
        raise OSError(f"{url} is larger than {_MAX_BYTES} bytes; no registry file is that big.")
    return data


def _verify_payload(name: str, entry: dict[str, Any], raw: bytes, origin: str) -> bytes:
    """Check downloaded/rebuilt bytes on their content; return the bytes to store."""
    try:
        content = _payload(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ChecksumError(
            f"{origin} for {name!r} is a damaged gzip stream ({exc}); nothing was saved."
        ) from None
    actual = _sha256(content)
    if actual != entry["content_sha256"]:
        raise ChecksumError(
            f"Checksum mismatch for {name!r} ({entry['path']}) from {origin}: expected content "
            f"sha256 {entry['content_sha256']}, got {actual}. Nothing was saved."
        )
    if raw[:2] == _GZIP_MAGIC or not entry["path"].endswith(".gz"):
        return raw  # already compressed upstream: keep the upstream bytes unchanged
    return gzip.compress(content, compresslevel=9, mtime=0)


def _store(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically without ever replacing an existing file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if another process put the file there meanwhile
        except FileExistsError:
            pass
        except OSError:  # file system without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def store_verified(name: str, raw: bytes, *, data_home: str | os.PathLike | None = None,
                   origin: str = "rebuilt data") -> Path:
    """Verify ``raw`` against registry entry ``name`` and store it under ``data_home``.

    Used for downloads and for derived files rebuilt locally. Raises :class:`ChecksumError`
    (nothing written) on mismatch. An existing file is left untouched.
    """
    entry = _entry(name)
    path = _local_path(entry, get_data_home(data_home))
    to_store = _verify_payload(name, entry, raw, origin)
    if not path.exists():
        _store(path, to_store)
    _verify_existing(name, path, entry)
    return path


def fetch_file(
    name: str,
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
) -> Path:
    """Return the local path of registry file ``name``, downloading it when missing.

    Parameters
    ----------
    name : str
        A registry name (see :func:`list_data_files`), e.g. ``"bbbp"`` or ``"chembl2k_GE"``.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        When ``False``, a missing file raises :class:`FileNotFoundError` instead.

    Returns
    -------
    pathlib.Path
        The verified file.

    Raises
    ------
    ValueError
        Unknown name.
    ChecksumError
        The existing file, or the downloaded bytes, do not match the registry hashes. A bad
        download is never kept; an existing file is never overwritten.
    FileNotFoundError
        The file is missing and ``download_if_missing=False``, or it is a derived file that
        cannot be rebuilt here.
    OSError
        The download failed (no network, for instance).

    Examples
    --------
    >>> path = fetch_file("bbbp")  # $CHMR_DATA_HOME/moleculenet/bbbp.csv.gz, verified
    >>> path.name
    'bbbp.csv.gz'
    """
    entry = _entry(name)
    home = get_data_home(data_home)
    path = _local_path(entry, home)
    if path.exists():
        _verify_existing(name, path, entry)
        return path
    if entry["url"] is None and name not in _BUILDERS:
        raise FileNotFoundError(_derived_help(name, entry, path))
    if not download_if_missing:
        how = "rebuild" if entry["url"] is None else "download"
        raise FileNotFoundError(
            f"Data file {name!r} is not in {str(home)!r} (expected at {str(path)!r}). Pass "
            f"download_if_missing=True to {how} it, or point data_home / ${DATA_HOME_ENV} to a "
            "folder that has it."
        )
    if entry["url"] is None:
        raw = _BUILDERS[name](home, True)
        return store_verified(name, raw, data_home=home, origin="local rebuild")
    try:
        raw = _fetch_bytes(entry["url"])
    except (urllib.error.URLError, OSError) as exc:
        raise OSError(
            f"Could not download {name!r} from {entry['url']} ({exc}). Without network access, "
            f"put the file at {str(path)!r} (sha256 {entry['sha256']}) or point "
            f"${DATA_HOME_ENV} to a folder that has it."
        ) from exc
    return store_verified(name, raw, data_home=home, origin=entry["url"])


def _derived_help(name: str, entry: dict[str, Any], path: Path) -> str:
    return (
        f"Derived data file {name!r} is missing (expected at {str(path)!r}) and cannot be rebuilt "
        f"automatically. It has no download URL; it was built from {list(entry['derived_from'])} "
        f"as follows: {entry['recipe']} Rebuild it that way (the originals can be fetched with "
        f"chmr_sklearn.datasets.fetch_file), or copy it into place (sha256 {entry['sha256']})."
    )
