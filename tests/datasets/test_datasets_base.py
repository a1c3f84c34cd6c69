"""Registry, data_home resolution, verification and (offline) download logic."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from chmr_sklearn.datasets import (
    ChecksumError,
    _base,
    _profiles,
    fetch_file,
    get_data_home,
    list_data_files,
    load_bbbp,
    load_chembl2k,
    load_cmea_paired,
    load_l1000_drugbank,
)
from chmr_sklearn.datasets._registry import REGISTRY

SHARED_DIRS = ("moleculenet", "infoalign", "cell", "pypi/moleculeace")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files_under(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): p.stat().st_mtime_ns for p in home.rglob("*") if p.is_file()}


# ---------------------------------------------------------------- data_home


def test_get_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("CHMR_DATA_HOME", str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home() == tmp_path / "env"
    monkeypatch.delenv("CHMR_DATA_HOME")
    assert get_data_home() == Path(os.path.expanduser("~/chmr_sklearn_data"))
    assert get_data_home("~/x") == Path(os.path.expanduser("~/x"))
    assert not (tmp_path / "arg").exists()  # resolving a home never creates it


# ---------------------------------------------------------------- registry


def test_registry_covers_every_shared_file_with_matching_hashes(data_home):
    registered = {e["path"]: name for name, e in REGISTRY.items()}
    on_disk = sorted(
        str(p.relative_to(data_home)) for d in SHARED_DIRS for p in (data_home / d).iterdir()
    )
    assert sorted(registered) == on_disk
    for rel in on_disk:
        raw = (data_home / rel).read_bytes()
        entry = REGISTRY[registered[rel]]
        assert _sha(raw) == entry["sha256"], rel
        assert _sha(gzip.decompress(raw)) == entry["content_sha256"], rel


def test_registry_hashes_agree_with_provenance(data_home):
    text = (data_home / "PROVENANCE.md").read_text()
    for entry in REGISTRY.values():
        assert entry["sha256"] in text, entry["path"]


def test_registry_urls_are_pinned_raw_github(data_home):
    for name, entry in REGISTRY.items():
        if entry["url"] is None:
            assert name.startswith("derived_") and entry["recipe"] and entry["derived_from"]
            assert all(src in REGISTRY for src in entry["derived_from"])
            continue
        assert re.fullmatch(
            r"https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/[\w./-]+", entry["url"]
        ), entry["url"]
        assert entry["url"].endswith(entry["source_path"])
        assert entry["licence"]
    assert list_data_files() == sorted(REGISTRY)


# ---------------------------------------------------------------- existing files


def test_fetch_existing_file_verifies_and_never_writes(data_home):
    before = _files_under(data_home)
    for name in REGISTRY:
        path = fetch_file(name, data_home=data_home, download_if_missing=False)
        assert path == data_home / REGISTRY[name]["path"]
    load_bbbp(data_home=data_home)
    load_l1000_drugbank(data_home=data_home)
    load_cmea_paired(data_home=data_home)
    assert _files_under(data_home) == before


def test_corrupt_existing_file_raises_and_is_kept(tmp_path, data_home):
    rel = REGISTRY["bbbp"]["path"]
    bad = tmp_path / rel
    bad.parent.mkdir(parents=True)
    original = (data_home / rel).read_bytes()
    bad.write_bytes(gzip.compress(gzip.decompress(original).replace(b"Propanolol", b"Propanolox")))
    with pytest.raises(ChecksumError, match=r"bbbp.*does not match the registry") as err:
        fetch_file("bbbp", data_home=tmp_path)
    assert REGISTRY["bbbp"]["sha256"] in str(err.value)
    with pytest.raises(ChecksumError):
        load_bbbp(data_home=tmp_path)
    assert bad.exists() and gzip.decompress(bad.read_bytes()) != gzip.decompress(original)
    bad.write_bytes(b"\x1f\x8b truncated gzip")
    with pytest.raises(ChecksumError, match="not a readable gzip"):
        fetch_file("bbbp", data_home=tmp_path)


def test_existing_file_recompressed_is_accepted(tmp_path, data_home):
    """A file this package gzipped itself differs in bytes; its content hash is enough."""
    rel = REGISTRY["bbbp"]["path"]
    (tmp_path / rel).parent.mkdir(parents=True)
    recompressed = gzip.compress(gzip.decompress((data_home / rel).read_bytes()), mtime=0)
    assert _sha(recompressed) != REGISTRY["bbbp"]["sha256"]
    (tmp_path / rel).write_bytes(recompressed)
    assert fetch_file("bbbp", data_home=tmp_path) == tmp_path / rel


def test_missing_file_without_download_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_if_missing=True"):
        fetch_file("bbbp", data_home=tmp_path, download_if_missing=False)
    with pytest.raises(FileNotFoundError):
        load_chembl2k(data_home=tmp_path, download_if_missing=False)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- downloads (offline)


@pytest.fixture
def plain_upstream(tmp_path, data_home):
    """BBBP as upstream serves it: the plain CSV (the stored file is gzip of it)."""
    src = tmp_path / "upstream" / "BBBP.csv"
    src.parent.mkdir()
    src.write_bytes(gzip.decompress((data_home / REGISTRY["bbbp"]["path"]).read_bytes()))
    return src


def test_download_plain_file_url_is_verified_and_gzipped(monkeypatch, tmp_path, plain_upstream):
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": plain_upstream.as_uri()})
    home = tmp_path / "home"
    path = fetch_file("bbbp", data_home=home)
    assert path == home / "moleculenet" / "bbbp.csv.gz"
    assert gzip.decompress(path.read_bytes()) == plain_upstream.read_bytes()
    assert [p.name for p in path.parent.iterdir()] == ["bbbp.csv.gz"]  # no temp file left
    X, _ = load_bbbp(data_home=home, return_X_y=True)
    assert len(X) == 2050
    mtime = path.stat().st_mtime_ns
    fetch_file("bbbp", data_home=home)  # second call: verified, not rewritten
    assert path.stat().st_mtime_ns == mtime


def test_download_gzip_upstream_is_stored_unchanged(monkeypatch, tmp_path, data_home):
    stored = data_home / REGISTRY["chembl2k_assays"]["path"]
    calls = []

    def fake_fetch(url):
        calls.append(url)
        return stored.read_bytes()

    monkeypatch.setattr(_base, "_fetch_bytes", fake_fetch)
    path = fetch_file("chembl2k_assays", data_home=tmp_path)
    assert calls == [REGISTRY["chembl2k_assays"]["url"]]
    assert _sha(path.read_bytes()) == REGISTRY["chembl2k_assays"]["sha256"]
    assert load_chembl2k(data_home=tmp_path).target.shape == (2355, 41)


@pytest.mark.parametrize(
    "payload",
    [b"smiles,p_np\nCCO,1\n", gzip.compress(b"smiles,p_np\nCCO,1\n"), b"\x1f\x8b broken gzip"],
    ids=["plain", "gzip", "damaged-gzip"],
)
def test_bad_download_leaves_nothing(monkeypatch, tmp_path, payload):
    monkeypatch.setattr(_base, "_fetch_bytes", lambda url: payload)
    with pytest.raises(ChecksumError, match=r"'bbbp'.*[Nn]othing was saved") as err:
        fetch_file("bbbp", data_home=tmp_path)
    if payload[:3] != b"\x1f\x8b ":
        assert REGISTRY["bbbp"]["content_sha256"] in str(err.value)
        assert _sha(gzip.decompress(payload) if payload[:2] == b"\x1f\x8b" else payload) in str(err.value)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_bad_download_through_file_url(monkeypatch, tmp_path):
    fake = tmp_path / "fake.csv"
    fake.write_text("smiles\nCCO\n")
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": fake.as_uri()})
    with pytest.raises(ChecksumError):
        load_bbbp(data_home=tmp_path / "home")
    assert not any(p.is_file() for p in (tmp_path / "home").rglob("*"))


def test_network_failure_is_explained(monkeypatch, tmp_path):
    def offline(url):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(_base, "_fetch_bytes", offline)
    with pytest.raises(OSError, match=r"Could not download 'bbbp'.*CHMR_DATA_HOME"):
        fetch_file("bbbp", data_home=tmp_path)


def test_only_registry_names_and_no_path_traversal(monkeypatch, tmp_path):
    for bad in ["../../etc/passwd", "moleculenet/bbbp.csv.gz", "/etc/passwd", None]:
        with pytest.raises(ValueError, match="registry names"):
            fetch_file(bad, data_home=tmp_path)
    monkeypatch.setattr(_base, "_fetch_bytes", lambda url: pytest.fail("must not download"))
    for evil in ["../evil.csv.gz", "/tmp/evil.csv.gz", "a/../../evil.csv.gz", "a\\..\\evil", ""]:
        monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "path": evil})
        with pytest.raises(ValueError, match="plain relative path"):
            fetch_file("bbbp", data_home=tmp_path / "home")
    assert not (tmp_path / "home").exists() and not (tmp_path / "evil.csv.gz").exists()


def test_only_web_and_file_urls(tmp_path):
    with pytest.raises(ValueError, match="Refusing"):
        _base._fetch_bytes("ftp://example.org/x.csv")


# ---------------------------------------------------------------- derived files


def _copy(names, src: Path, dst: Path) -> None:
    for name in names:
        rel = REGISTRY[name]["path"]
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dst / rel)


def test_l1000_drugbank_is_rebuilt_from_its_originals(monkeypatch, tmp_path, data_home):
    _copy(["l1000_consensi_drugbank", "drugbank"], data_home, tmp_path)
    monkeypatch.setattr(_base, "_fetch_bytes", lambda url: pytest.fail("must not download"))
    with pytest.raises(FileNotFoundError, match="download_if_missing=True to rebuild"):
        load_l1000_drugbank(data_home=tmp_path, download_if_missing=False)
    rebuilt = load_l1000_drugbank(data_home=tmp_path)
    rel = REGISTRY["derived_l1000_drugbank"]["path"]
    assert gzip.decompress((tmp_path / rel).read_bytes()) == gzip.decompress((data_home / rel).read_bytes())
    pd.testing.assert_frame_equal(rebuilt, load_l1000_drugbank(data_home=data_home))


def test_l1000_rebuild_mismatch_is_not_cached(monkeypatch, tmp_path, data_home):
    # the rebuild itself is tested above; here a registry hash that no rebuild can match
    # (as with another RDKit writing other SMILES) must leave the cache empty
    reference = pd.read_csv(data_home / REGISTRY["derived_l1000_drugbank"]["path"])
    monkeypatch.setattr(_profiles, "_build_l1000_drugbank_frame", lambda home, dl: reference.copy())
    monkeypatch.setitem(_base._BUILDERS, "derived_l1000_drugbank",
                        lambda home, dl: reference.to_csv(index=False).encode())
    entry = {**REGISTRY["derived_l1000_drugbank"], "content_sha256": "0" * 64}
    monkeypatch.setitem(REGISTRY, "derived_l1000_drugbank", entry)
    with pytest.warns(UserWarning, match="not cached"):
        frame = load_l1000_drugbank(data_home=tmp_path)
    assert frame.shape == (1170, 982)
    assert not (tmp_path / entry["path"]).exists()
    with pytest.raises(ChecksumError):
        fetch_file("derived_l1000_drugbank", data_home=tmp_path)
    assert not (tmp_path / entry["path"]).exists()


def test_cmea_missing_explains_recipe(tmp_path):
    for flag in (True, False):
        with pytest.raises(FileNotFoundError, match=r"derived_cmea_cellpainting.*pyreadr.*lincs_pertinfo"):
            load_cmea_paired(data_home=tmp_path, download_if_missing=flag)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- download security


@pytest.fixture
def web(tmp_path):
    """A local HTTP server (no internet): serves tmp_path/www, counts requests, can redirect."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []
    redirects: dict[str, str] = {}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            if self.path in redirects:
                self.send_response(302)
                self.send_header("Location", redirects[self.path])
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield {"root": root, "url": f"http://127.0.0.1:{server.server_address[1]}", "hits": hits,
               "redirects": redirects}
    finally:
        server.shutdown()
        server.server_close()


def _files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()) if home.exists() else []


def test_http_download_is_verified_stored_atomically_and_cached(monkeypatch, tmp_path, web, plain_upstream):
    (web["root"] / "BBBP.csv").write_bytes(plain_upstream.read_bytes())
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": web["url"] + "/BBBP.csv"})
    temp_dirs = []
    real_mkstemp = _base.tempfile.mkstemp
    monkeypatch.setattr(_base.tempfile, "mkstemp", lambda **kw: temp_dirs.append(kw["dir"]) or real_mkstemp(**kw))
    home = tmp_path / "home"
    path = fetch_file("bbbp", data_home=home)
    assert _files(home) == ["moleculenet/bbbp.csv.gz"]  # the temp file was renamed, not left
    assert temp_dirs == [path.parent] and path.parent.is_relative_to(home)
    assert gzip.decompress(path.read_bytes()) == plain_upstream.read_bytes()
    fetch_file("bbbp", data_home=home)
    assert web["hits"] == ["/BBBP.csv"]  # the cached file is verified, not downloaded again


def test_http_download_with_wrong_content_leaves_nothing(monkeypatch, tmp_path, web):
    (web["root"] / "BBBP.csv").write_text("smiles,p_np\nCCO,1\n")
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": web["url"] + "/BBBP.csv"})
    with pytest.raises(ChecksumError, match="Nothing was saved"):
        fetch_file("bbbp", data_home=tmp_path / "home")
    assert _files(tmp_path / "home") == []


def test_redirects_only_to_web_urls(monkeypatch, tmp_path, web, plain_upstream):
    (web["root"] / "BBBP.csv").write_bytes(plain_upstream.read_bytes())
    secret = tmp_path / "secret.txt"
    secret.write_text("not for download")
    web["redirects"]["/to-file"] = secret.as_uri()
    web["redirects"]["/to-ftp"] = "ftp://127.0.0.1:9/BBBP.csv"  # urllib alone would follow this
    web["redirects"]["/to-web"] = web["url"] + "/BBBP.csv"
    home = tmp_path / "home"
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": web["url"] + "/to-file"})
    with pytest.raises(OSError, match="redirect"):
        fetch_file("bbbp", data_home=home)
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": web["url"] + "/to-ftp"})
    with pytest.raises(OSError, match="refusing to follow a redirect to 'ftp://"):
        fetch_file("bbbp", data_home=home)
    assert _files(home) == []
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": web["url"] + "/to-web"})
    assert fetch_file("bbbp", data_home=home).is_file()


def test_oversized_download_and_gzip_bomb_are_refused(monkeypatch, tmp_path, web):
    monkeypatch.setattr(_base, "_MAX_BYTES", 2**20)
    (web["root"] / "big.csv").write_bytes(b"x" * (2**20 + 1))
    (web["root"] / "bomb.csv.gz").write_bytes(gzip.compress(b"\0" * (4 * 2**20)))  # 4 MiB from ~4 kB
    home = tmp_path / "home"
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": web["url"] + "/big.csv"})
    with pytest.raises(OSError, match="larger than"):
        fetch_file("bbbp", data_home=home)
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": web["url"] + "/bomb.csv.gz"})
    with pytest.raises(ChecksumError, match="gzip bomb"):
        fetch_file("bbbp", data_home=home)
    assert _files(home) == []


def test_remote_name_never_chooses_the_local_path(monkeypatch, tmp_path, plain_upstream):
    """The URL's file name ('..', absolute, other names) is ignored: the registry path decides."""
    weird = plain_upstream.parent / "sub"
    weird.mkdir()
    url = weird.as_uri() + "/../BBBP.csv"  # resolves to plain_upstream
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": url})
    home = tmp_path / "home"
    assert fetch_file("bbbp", data_home=home) == home / "moleculenet" / "bbbp.csv.gz"
    assert _files(home) == ["moleculenet/bbbp.csv.gz"]
    assert sorted(p.name for p in plain_upstream.parent.iterdir()) == ["BBBP.csv", "sub"]


@pytest.mark.parametrize("evil", ["C:/evil.csv.gz", "C:evil.csv.gz", "moleculenet/./bbbp.csv.gz",
                                  "moleculenet//bbbp.csv.gz", "moleculenet/bbbp.csv.gz/", "..", "."])
def test_more_registry_paths_that_could_escape(monkeypatch, tmp_path, evil):
    monkeypatch.setattr(_base, "_fetch_bytes", lambda url: pytest.fail("must not download"))
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "path": evil})
    with pytest.raises(ValueError, match="plain relative path"):
        fetch_file("bbbp", data_home=tmp_path / "home")
    assert not (tmp_path / "home").exists()


def test_every_registry_path_stays_under_data_home(tmp_path):
    for name, entry in REGISTRY.items():
        assert _base._local_path(entry, tmp_path).resolve().is_relative_to(tmp_path.resolve()), name


def test_symlinks_escaping_data_home_are_refused(monkeypatch, tmp_path, data_home, plain_upstream):
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": plain_upstream.as_uri()})
    outside = tmp_path / "outside"
    outside.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    (home / "moleculenet").symlink_to(outside, target_is_directory=True)  # a folder escaping
    with pytest.raises(ValueError, match="outside data_home"):
        fetch_file("bbbp", data_home=home)
    assert list(outside.iterdir()) == []
    (home / "moleculenet").unlink()
    (home / "moleculenet").mkdir()
    (home / "moleculenet" / "bbbp.csv.gz").symlink_to(data_home / REGISTRY["bbbp"]["path"])  # a file
    with pytest.raises(ValueError, match="outside data_home"):
        load_bbbp(data_home=home)
    # a symlink that stays inside data_home is fine
    (home / "moleculenet" / "bbbp.csv.gz").unlink()
    (home / "store").mkdir()
    shutil.copyfile(data_home / REGISTRY["bbbp"]["path"], home / "store" / "bbbp.csv.gz")
    (home / "moleculenet" / "bbbp.csv.gz").symlink_to(home / "store" / "bbbp.csv.gz")
    assert fetch_file("bbbp", data_home=home, download_if_missing=False).is_file()


def test_a_cached_file_swapped_later_is_verified_again(tmp_path, data_home):
    """The once-per-process hash cache must not trust a file rewritten with the same size and
    mtime (mtime can be set back; inode/ctime cannot)."""
    rel = REGISTRY["bbbp"]["path"]
    path = tmp_path / rel
    path.parent.mkdir(parents=True)
    good = (data_home / rel).read_bytes()
    path.write_bytes(good)
    fetch_file("bbbp", data_home=tmp_path)  # verified and remembered
    stat = path.stat()
    bad = bytearray(good)
    bad[-9] ^= 0xFF  # same size, corrupt gzip trailer/content
    path.write_bytes(bytes(bad))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    with pytest.raises(ChecksumError):
        fetch_file("bbbp", data_home=tmp_path)


def test_failed_write_leaves_no_temp_file(monkeypatch, tmp_path, plain_upstream):
    monkeypatch.setitem(REGISTRY, "bbbp", {**REGISTRY["bbbp"], "url": plain_upstream.as_uri()})

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_base.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        fetch_file("bbbp", data_home=tmp_path / "home")
    assert _files(tmp_path / "home") == []
