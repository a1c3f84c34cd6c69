"""Soak benchmark: one long-lived transformer embeds a large library in requests; memory must stay flat.

A notebook or a service keeps one fitted :class:`~chmr_sklearn.CHMRTransformer` for hours.
:func:`run_soak` plays that: requests of ``request_size`` molecules, each mostly new molecules
plus a fraction revisiting earlier ones, with this process's RSS, the in-memory cache's
counters (``cache_info()``) and the disk cache's size sampled after every request.
:func:`soak_summary` fits the RSS slope after the warm-up (the in-memory LRU full) and
:func:`render_soak` writes the report.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._machine import load_average, load_smiles, machine_info

__all__ = ["render_soak", "run_soak", "soak_corpus", "soak_summary"]

MB = 2**20
# Benchmark files read through their dataset loaders (every labelled set we ship a loader for).
_LOADERS = ("bace", "bbbp", "broad6k", "chembl2k", "clintox", "esol", "freesolv", "hiv", "lipophilicity",
            "sider", "tox21", "toxcast", "chembl2321810")
# Structure tables of the registry: (file, SMILES column) -- LINCS perturbagens, InfoAlign's maps.
_STRUCTURE_TABLES = (("lincs_pertinfo", "canonical_smiles"), ("broad6k_structure", "smiles"),
                     ("chembl2k_structure", "smiles"))


def _sources() -> dict[str, list[str]]:
    """Raw SMILES of every real molecule source reachable offline, by source name."""
    import pandas as pd
    from rdkit import Chem, RDConfig, rdBase

    from .. import datasets

    out = {"wehi": load_smiles()}
    nci = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    if nci.is_file():
        out["rdkit_nci5k"] = [ln.split()[0] for ln in nci.read_text().splitlines() if ln.strip()]
    for name in _LOADERS:
        X, _ = getattr(datasets, f"load_{name}")(return_X_y=True)
        out[name] = list((X["smiles"] if isinstance(X, pd.DataFrame) else X).astype(str))
    for name in datasets.MOLECULEACE_DATASETS:
        X, _ = datasets.load_moleculeace(name, return_X_y=True)
        out[f"moleculeace_{name}"] = list((X["smiles"] if isinstance(X, pd.DataFrame) else X).astype(str))
    for name, column in _STRUCTURE_TABLES:
        frame = pd.read_csv(datasets.fetch_file(name), sep="\t" if "pertinfo" in name else ",", usecols=[column])
        out[name] = frame[column].dropna().astype(str).tolist()
    drugbank = pd.read_csv(datasets.fetch_file("drugbank"), sep="\t", usecols=["inchi"])["inchi"].dropna()
    with rdBase.BlockLogs():  # DrugBank gives InChI only
        mols = (Chem.MolFromInchi(s) for s in drugbank)
        out["drugbank"] = [Chem.MolToSmiles(m) for m in mols if m is not None]
    return out


def soak_corpus(*, quick: bool = False, cache: str | Path | None = None) -> tuple[list[str], dict[str, int]]:
    """Every distinct real molecule available offline, canonical SMILES, shuffled with seed 0.

    Sources: RDKit's WEHI 10k and NCI 5k, every benchmark file through the
    :mod:`chmr_sklearn.datasets` loaders (MoleculeNet, ChEMBL2K, Broad6K, MoleculeACE, the
    RDKit ChEMBL set), and the structure tables of the data registry (LINCS perturbagen
    SMILES, InfoAlign's Broad6K / ChEMBL2K maps, DrugBank InChI). Unparsable entries are
    dropped; duplicates (same canonical SMILES) are kept once.

    Parameters
    ----------
    quick : bool, default=False
        Only the WEHI molecules (seconds; no shared data needed).
    cache : path, optional
        A text file of the result: read when it exists, written otherwise (canonicalizing
        ~300,000 SMILES takes minutes).

    Returns
    -------
    smiles : list of str
    counts : dict
        Distinct molecules first contributed by each source, in the order read.

    Examples
    --------
    >>> smiles, counts = soak_corpus(quick=True)
    >>> len(smiles) == counts["wehi"] > 9000
    True
    """
    import json

    from .._inputs import to_smiles

    cache = Path(cache) if cache is not None else None
    if cache is not None and cache.is_file():
        stored = json.loads(cache.read_text())
        return stored["smiles"], stored["counts"]
    sources = {"wehi": load_smiles()} if quick else _sources()
    seen: set[str] = set()
    counts: dict[str, int] = {}
    for name, raw in sources.items():
        before = len(seen)
        seen.update(c for c in map(to_smiles, raw) if c is not None)
        counts[name] = len(seen) - before
    smiles = sorted(seen)
    np.random.default_rng(0).shuffle(smiles)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"smiles": smiles, "counts": counts}))
    return smiles, counts


def _rss_mb() -> tuple[float, float]:
    """RSS of this process and of its child processes (featurization workers), in MB."""
    import psutil

    me = psutil.Process()
    children = 0
    for child in me.children(recursive=True):
        try:
            children += child.memory_info().rss
        except psutil.Error:  # a worker that just exited
            pass
    return me.memory_info().rss / MB, children / MB


def _disk_mb(cache_dir: Path | None) -> float:
    from ..estimators._disk_cache import cache_file_bytes

    return cache_file_bytes(cache_dir) / MB if cache_dir is not None else 0.0


def run_soak(smiles: list[str], *, request_size: int = 1000, revisit: float = 0.2, cache_size: float = 512,
             cache_dir: str | Path | None = None, n_jobs: int | None = None, max_minutes: float | None = None,
             random_state: int = 0, log: Callable[[str], None] = print,
             every: Callable[[dict], None] | None = None) -> dict:
    """Embed ``smiles`` in requests with one transformer; sample memory and cache counters after each.

    Request *i* holds the next ``(1 - revisit) * request_size`` new molecules and
    ``revisit * request_size`` molecules drawn (without replacement, ``random_state``) from
    every molecule embedded before, in shuffled order.

    Parameters
    ----------
    smiles : list of str
        Distinct molecules, in the order they are first requested.
    request_size : int, default=1000
    revisit : float, default=0.2
        Fraction of each request that revisits earlier molecules.
    cache_size : float, default=512
        ``CHMRTransformer(cache_size=...)``, MB.
    cache_dir : path, optional
        A disk cache for the transformer; emptied first, so its growth is this run's.
    n_jobs : int, optional
        ``CHMRTransformer(n_jobs=...)``.
    max_minutes : float, optional
        Stop after the request that crosses this wall time (the result says so).
    random_state : int, default=0
    log : callable
        Progress lines.
    every : callable, optional
        Called with the result so far every 10 requests (e.g. to write a partial report).

    Returns
    -------
    dict
        ``settings``, ``machine``, ``samples`` (one dict per request: molecules so far,
        RSS, cache counters, disk MB, seconds), ``stopped`` (why the run ended).

    Examples
    --------
    >>> result = run_soak(load_smiles()[:40], request_size=20, revisit=0.5, cache_size=1, log=lambda m: None)
    >>> [s["distinct"] for s in result["samples"]], result["stopped"]
    ([0, 10, 20, 30, 40], 'all molecules embedded')
    """
    from .. import CHMRTransformer

    rng = np.random.default_rng(random_state)
    if cache_dir is not None:
        cache_dir = Path(cache_dir)
        shutil.rmtree(cache_dir, ignore_errors=True)
    n_old = int(round(revisit * request_size))
    n_new = request_size - n_old
    transformer = CHMRTransformer(cache_size=cache_size, cache_dir=cache_dir, n_jobs=n_jobs, on_invalid="nan")
    transformer.fit(smiles[:1])
    settings = {"request_size": request_size, "revisit": revisit, "cache_size_mb": cache_size,
                "disk_cache": cache_dir is not None, "n_jobs": n_jobs, "max_minutes": max_minutes,
                "n_molecules": len(smiles), "precision": transformer.precision, "random_state": random_state}
    result = {"settings": settings, "machine": machine_info(), "samples": [], "stopped": "running"}
    start = time.perf_counter()
    rss, kids = _rss_mb()
    result["samples"].append({"request": 0, "distinct": 0, "requested": 0, "revisits": 0, "rss_mb": rss,
                              "children_rss_mb": kids, "hits": 0, "misses": 0, "cache_mb": 0.0,
                              "cache_rows": 0, "disk_mb": _disk_mb(cache_dir), "size": 0, "seconds": 0.0,
                              "elapsed": 0.0})
    seen = requested = revisits = 0
    while seen < len(smiles):
        fresh = smiles[seen : seen + n_new]
        old = rng.choice(seen, size=min(n_old, seen), replace=False) if seen else np.empty(0, dtype=int)
        request = fresh + [smiles[i] for i in old]
        rng.shuffle(request)
        tick = time.perf_counter()
        transformer.transform(request)
        seconds = time.perf_counter() - tick
        seen, requested, revisits = seen + len(fresh), requested + len(request), revisits + len(old)
        info = transformer.cache_info()
        rss, kids = _rss_mb()
        sample = {"request": len(result["samples"]), "distinct": seen, "requested": requested, "revisits": revisits,
                  "rss_mb": rss, "children_rss_mb": kids, "hits": info.hits, "misses": info.misses,
                  "cache_mb": info.currsize / MB, "cache_rows": info.n_molecules, "disk_mb": _disk_mb(cache_dir),
                  "size": len(request), "seconds": seconds, "elapsed": time.perf_counter() - start}
        result["samples"].append(sample)
        log(f"{sample['elapsed']:7.0f}s  {seen:>7,} molecules  RSS {rss:7.1f} MB  memory cache "
            f"{sample['cache_mb']:6.1f} MB ({info.hits:,} hits / {info.misses:,} misses)  disk "
            f"{sample['disk_mb']:7.1f} MB  {len(request) / seconds:5.0f} mol/s")
        if every is not None and sample["request"] % 10 == 0:
            every(result)
        if max_minutes is not None and sample["elapsed"] > 60 * max_minutes:
            result["stopped"] = f"time budget of {max_minutes:g} min reached"
            break
    else:
        result["stopped"] = "all molecules embedded"
    result["machine"]["load_end"] = load_average()
    result["wall_seconds"] = time.perf_counter() - start
    return result


def soak_summary(result: dict) -> dict:
    """RSS slope after the warm-up, its noise, hit rates and disk growth of a :func:`run_soak` result.

    The warm-up ends at the first request after which the in-memory cache holds at least 90 %
    of its bound (until then RSS grows by design), and never before 10 % of the requests. The
    slope is a least-squares line of RSS on molecules embedded; *noise* is the standard
    deviation of the residuals. Flat within noise: the line's rise over the measured span
    is below twice the noise.

    Returns
    -------
    dict
        ``warmup_molecules``, ``slope_mb_per_10k``, ``rise_mb`` (slope times span),
        ``noise_mb``, ``flat`` (bool, or None with fewer than 5 samples after warm-up),
        ``rise_second_half_mb`` (the same fit over the second half: does growth stop?),
        ``plateau`` (not flat overall, but the second half's rise is within the noise),
        ``hit_rate`` (memory hits / lookups), ``revisit_hit_rate`` (memory hits / revisits),
        ``disk_mb``, ``disk_kb_per_molecule``, ``mol_per_s``, ``rss_peak_mb``.

    Examples
    --------
    >>> samples = [{"distinct": 1000 * i, "rss_mb": 500.0 + (i % 2), "cache_mb": 100.0, "hits": 10 * i,
    ...             "misses": 90 * i, "revisits": 20 * i, "requested": 100 * i, "disk_mb": 0.0,
    ...             "elapsed": float(i), "children_rss_mb": 0.0} for i in range(20)]
    >>> s = soak_summary({"settings": {"cache_size_mb": 100}, "samples": samples})
    >>> s["flat"], round(s["hit_rate"], 2), round(s["revisit_hit_rate"], 2)
    (True, 0.1, 0.5)
    """
    samples = result["samples"]
    bound = result["settings"]["cache_size_mb"]
    full = next((i for i, s in enumerate(samples) if s["cache_mb"] >= 0.9 * bound), len(samples))
    first = max(full, len(samples) // 10, 1)
    tail = samples[first:]
    last = samples[-1]
    out = {"warmup_molecules": tail[0]["distinct"] if tail else None, "n_after_warmup": len(tail),
           "slope_mb_per_10k": None, "rise_mb": None, "noise_mb": None, "flat": None, "rise_second_half_mb": None,
           "plateau": None}
    if len(tail) >= 5:
        x = np.array([s["distinct"] for s in tail], dtype=float)
        y = np.array([s["rss_mb"] for s in tail])
        slope, intercept = np.polyfit(x, y, 1)
        noise = float(np.std(y - (slope * x + intercept)))
        rise = float(slope * (x[-1] - x[0]))
        half = len(x) // 2  # growth that stops (allocator high-water marks) vs growth that goes on
        late = float(np.polyfit(x[half:], y[half:], 1)[0] * (x[-1] - x[half])) if len(x) - half >= 3 else None
        flat = abs(rise) <= 2 * noise + 1.0  # +1 MB: allocator granularity
        out.update(slope_mb_per_10k=float(slope * 1e4), rise_mb=rise, noise_mb=noise, flat=bool(flat),
                   rise_second_half_mb=late,
                   plateau=bool(not flat and late is not None and abs(late) <= 2 * noise + 1.0))
    lookups = last["hits"] + last["misses"]
    out.update(
        hit_rate=last["hits"] / lookups if lookups else None,
        revisit_hit_rate=last["hits"] / last["revisits"] if last["revisits"] else None,
        disk_mb=last["disk_mb"],
        disk_kb_per_molecule=1024 * last["disk_mb"] / last["distinct"] if last["distinct"] else None,
        mol_per_s=last["requested"] / last["elapsed"] if last["elapsed"] else None,
        rss_peak_mb=max(s["rss_mb"] for s in samples),
        children_rss_peak_mb=max(s["children_rss_mb"] for s in samples),
    )
    return out


def _fmt(x, spec: str = ".1f") -> str:
    return "n/a" if x is None else format(x, spec)


def render_soak(result: dict, *, command: str = "", counts: dict | None = None) -> str:
    """The Markdown report of a :func:`run_soak` result (summary, settings, machine, RSS table).

    Examples
    --------
    >>> result = run_soak(load_smiles()[:20], request_size=10, cache_size=1, log=lambda m: None)
    >>> render_soak(result).splitlines()[0]
    '# Soak: one transformer, many requests, bounded memory'
    """
    s, cfg, m = soak_summary(result), result["settings"], result["machine"]
    samples = result["samples"]
    verdict = {True: "flat within noise", False: "NOT flat", None: "too few samples after warm-up to say"}[s["flat"]]
    if s.get("plateau"):
        verdict = "NOT flat overall, but flat within noise over the second half (growth stopped)"
    lines = [
        "# Soak: one transformer, many requests, bounded memory", "",
        f"One `CHMRTransformer(cache_size={cfg['cache_size_mb']:g}"
        + (", cache_dir=...)" if cfg["disk_cache"] else ")")
        + f"` in one process embedded {samples[-1]['distinct']:,} distinct real molecules of {cfg['n_molecules']:,} "
        f"in requests of {cfg['request_size']:,} ({100 * cfg['revisit']:.0f} % revisits of earlier molecules); "
        f"{result['stopped']}.", "",
        "| measure | value |", "|---|---|",
        f"| RSS slope after warm-up (from {_fmt(s['warmup_molecules'], ',')} molecules) | "
        f"{_fmt(s['slope_mb_per_10k'], '+.2f')} MB per 10,000 molecules: rise {_fmt(s['rise_mb'], '+.1f')} MB "
        f"vs noise (sd) {_fmt(s['noise_mb'], '.1f')} MB: **{verdict}** |",
        f"| RSS rise over the second half of the requests after warm-up (linear fit) | "
        f"{_fmt(s['rise_second_half_mb'], '+.1f')} MB |",
        f"| peak RSS (this process / featurization workers) | {_fmt(s['rss_peak_mb'])} MB / "
        f"{_fmt(s['children_rss_peak_mb'])} MB |",
        f"| in-memory cache hit rate (all lookups / revisits) | {_fmt(_pct(s['hit_rate']))} % / "
        f"{_fmt(_pct(s['revisit_hit_rate']))} % |",
        f"| disk cache | {_fmt(s['disk_mb'])} MB, {_fmt(s['disk_kb_per_molecule'], '.2f')} kB per molecule |"
        if cfg["disk_cache"] else "| disk cache | off |",
        f"| throughput (requested molecules / wall second) | {_fmt(s['mol_per_s'], '.0f')} |", "",
        f"Machine: {m['cpu']}, {m['cores']} cores, load average {m['load_start']} at the start and "
        f"{m.get('load_end', 'n/a')} at the end (other processes share the cores); {m['platform']}, "
        f"Python {m['python']}, torch {m['torch']}, RDKit {m['rdkit']}; {m['date']}.", "",
        f"Settings: precision {cfg['precision']}, n_jobs {cfg['n_jobs']}, seed {cfg['random_state']}, "
        f"time budget {_fmt(cfg['max_minutes'], 'g')} min. Command: `{command}`", "",
        "RSS is this process's resident set after each request; warm-up ends when the in-memory LRU "
        "holds 90 % of its bound (RSS grows until then by design). Hit rates count molecule lookups in "
        "memory; molecules missed there are read from the disk cache when it is on, else computed.", "",
    ]
    if counts:
        lines += ["Molecules (distinct canonical SMILES, first source that contributed each):", "",
                  ", ".join(f"{k} {v:,}" for k, v in counts.items()) + f"; total {sum(counts.values()):,}.", ""]
    lines += ["| molecules | RSS MB | workers MB | memory cache MB | hits | misses | disk MB | mol/s |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    step = max(1, (len(samples) - 1) // 25)
    for row in samples[1::step] + ([samples[-1]] if (len(samples) - 1) % step else []):
        rate = row["size"] / row["seconds"] if row["seconds"] else 0.0
        lines.append(f"| {row['distinct']:,} | {row['rss_mb']:.1f} | {row['children_rss_mb']:.1f} | "
                     f"{row['cache_mb']:.1f} | {row['hits']:,} | {row['misses']:,} | {row['disk_mb']:.1f} | {rate:.0f} |")
    return "\n".join(lines) + "\n"


def _pct(x):
    return None if x is None else 100 * x
