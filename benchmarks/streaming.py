"""Streaming a molecule library through ``chmr_sklearn.streaming.embed_file``: rows/s and memory vs rows.

Not a test: one measurement in one process, written to ``benchmarks/results/streaming.md``
(+ ``.json``) and printed.

Input: the union of the SMILES of every benchmark file of ``CHMR_DATA_HOME`` (through the
``chmr_sklearn.datasets`` loaders) and RDKit's 10,000 WEHI molecules, deduplicated by
canonical SMILES, shuffled with seed 0 (so every chunk is a similar mix), written as one
``.csv.gz`` (columns ``id``, ``source``, ``smiles``; unparsable SMILES kept, embedded as NaN).

1. Stream: ``embed_file(CHMRTransformer(cache=False, n_jobs=2, on_invalid="nan"), in.csv.gz,
   out.parquet, chunk_size=10_000)``, disk cache off. A monitor thread samples every 0.5 s:
   this process's RSS and peak RSS (``ru_maxrss``), the summed RSS of its child processes
   (the loky featurization workers), and the number of finished part files, so the table
   has one line per 10,000 rows. A time budget (``--budget-s``) stops the stream (like a
   Ctrl-C; the finished parts stay resumable) when the shared 2 cores are too slow for the
   whole library; the report then says how many rows were measured and extrapolates.
2. Reference on the same rows: the plain RDKit 1191-bit fingerprint loop
   (``benchmarks/_reference.py``).
3. Disk cache: the first ``--cache-rows`` rows streamed with ``cache_dir`` set (cold: fills
   the cache), then again (warm: every row read from the SQLite file); the warm output must
   equal the cache-off output bit for bit.
4. Cluster: the first ``--cluster-rows`` rows embedded twice, disk cache off, same chunk size:
   in this process (``n_jobs=2`` featurization workers) and on a Dask ``LocalCluster`` of 2
   worker processes x 1 thread (``scheduler=client``), the same 2 cores either way. Reported:
   wall time of each and their ratio, the cluster's start-up apart, the peak RSS of each worker
   (sampled every 0.5 s, and its ``ru_maxrss``) beside this process's sampled peak, and whether
   the two outputs are identical.

Usage::

    nice -n 5 python benchmarks/streaming.py              # ~15 min on 2 shared cores
    python benchmarks/streaming.py --quick                # 1,000 rows, chunks of 250; prints only
    python benchmarks/streaming.py --cluster-only         # only step 4, added to the existing results
"""

from __future__ import annotations

import _thread
import argparse
import itertools
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
# The benchmark files: $CHMR_DATA_HOME, else the checkout's sibling shared/data (as the tests).
os.environ.setdefault("CHMR_DATA_HOME", str(Path(__file__).resolve().parents[2] / "shared" / "data"))

import psutil
import torch
from _reference import load_smiles, machine_info, plain_fingerprints

from chmr_sklearn import CHMRTransformer, datasets
from chmr_sklearn._inputs import to_smiles
from chmr_sklearn.streaming import embed_file

RESULTS = Path(__file__).resolve().parent / "results" / "streaming.md"
LOADERS = ("bace", "bbbp", "broad6k", "chembl2k", "clintox", "esol", "freesolv", "hiv", "lipophilicity",
           "sider", "tox21", "toxcast")
MiB = 2**20


def library() -> pd.DataFrame:
    """Every benchmark SMILES + WEHI, one row per canonical molecule (first spelling kept)."""
    frames = []
    for name in LOADERS:
        X, _ = getattr(datasets, f"load_{name}")(return_X_y=True)
        smiles = X["smiles"] if isinstance(X, pd.DataFrame) else X
        frames.append(pd.DataFrame({"source": name, "smiles": smiles.astype(str).to_numpy()}))
    frames.append(pd.DataFrame({"source": "wehi", "smiles": load_smiles()}))
    frame = pd.concat(frames, ignore_index=True)
    canon = [to_smiles(s) for s in frame["smiles"]]
    frame["key"] = [c if c is not None else f"invalid:{s}" for c, s in zip(canon, frame["smiles"])]
    frame = frame.drop_duplicates("key").drop(columns="key")
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    frame.insert(0, "id", [f"mol{i:06d}" for i in range(len(frame))])
    return frame


class Monitor(threading.Thread):
    """Samples memory and finished chunks; interrupts the main thread past the time budget."""

    def __init__(self, parts: Path, chunk_size: int, budget_s: float):
        super().__init__(daemon=True)
        self.parts, self.chunk_size, self.budget_s = parts, chunk_size, budget_s
        self.proc = psutil.Process()
        self.rows: list[dict] = []
        self.stop = threading.Event()
        self.interrupted = False
        self.max_rss = self.max_children = 0

    def run(self) -> None:
        start = time.perf_counter()
        seen = self.resumed = len(list(self.parts.glob("part-*.parquet"))) if self.parts.is_dir() else 0
        while not self.stop.wait(0.5):
            elapsed = time.perf_counter() - start
            rss = self.proc.memory_info().rss
            kids = [c for c in self.proc.children(recursive=True) if c.is_running()]
            children = sum(c.memory_info().rss for c in kids)
            self.max_rss, self.max_children = max(self.max_rss, rss), max(self.max_children, children)
            done = len(list(self.parts.glob("part-*.parquet"))) if self.parts.is_dir() else seen
            if done > seen:
                seen = done
                self.rows.append({
                    "rows": done * self.chunk_size, "seconds": round(elapsed, 1),
                    "rss_mib": round(rss / MiB), "peak_rss_mib": round(_peak_rss() / MiB),
                    "children_rss_mib": round(children / MiB), "max_children_rss_mib": round(self.max_children / MiB),
                    "load1": round(os.getloadavg()[0], 2), "cpu_s": round(_cpu_seconds(self.proc, kids), 1),
                })
                print(f"  {self.rows[-1]}", flush=True)
            if elapsed > self.budget_s and not self.interrupted:
                self.interrupted = True
                _thread.interrupt_main()  # as a Ctrl-C would: the finished parts stay on disk


def _cpu_seconds(proc: psutil.Process, kids: list) -> float:
    """CPU time (user + system) of this process and its live children (the loky workers)."""
    total = sum(proc.cpu_times()[:2])
    for kid in kids:
        try:
            total += sum(kid.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def stream(frame: pd.DataFrame, work: Path, chunk_size: int, budget_s: float) -> dict:
    src, out = work / "library.csv.gz", work / "library.parquet"
    if not src.is_file():  # kept by --work-dir: rewriting it would change its bytes (gzip time stamp)
        frame.to_csv(src, index=False)
    t = CHMRTransformer(cache=False, n_jobs=2, on_invalid="nan").fit(["CCO"])
    monitor = Monitor(out.with_name(out.name + ".parts"), chunk_size, budget_s)
    monitor.start()
    started = time.perf_counter()
    summary = None
    try:
        summary = embed_file(t, src, out, chunk_size=chunk_size)
    except KeyboardInterrupt:
        if not monitor.interrupted:
            raise
    seconds = time.perf_counter() - started
    time.sleep(0.6)  # let the monitor record the last part
    monitor.stop.set()
    monitor.join()
    rows = monitor.rows
    if summary is not None and (not rows or rows[-1]["rows"] < summary.n_rows):
        rows.append({"rows": summary.n_rows, "seconds": round(seconds, 1), "rss_mib": None,
                     "peak_rss_mib": round(_peak_rss() / MiB), "children_rss_mib": None,
                     "max_children_rss_mib": round(monitor.max_children / MiB), "load1": round(os.getloadavg()[0], 2)})
    if summary is not None:
        rows[-1]["rows"] = summary.n_rows
    return {
        "completed": summary is not None, "seconds": seconds, "progress": rows,
        "resumed_rows": monitor.resumed * chunk_size,
        "n_rows_done": rows[-1]["rows"] if rows else 0, "summary": None if summary is None else {
            "n_rows": summary.n_rows, "n_invalid": summary.n_invalid, "n_chunks": summary.n_chunks,
            "seconds": summary.seconds},
        "output_bytes": out.stat().st_size if out.exists() else None,
        "part_bytes": sum(p.stat().st_size for p in monitor.parts.glob("part-*.parquet")) if monitor.parts.is_dir()
        else None,
        "max_rss_mib": round(monitor.max_rss / MiB), "max_children_rss_mib": round(monitor.max_children / MiB),
        "output_path": out, "parts": monitor.parts,
    }


def reference(smiles: list[str]) -> dict:
    started = time.perf_counter()
    plain_fingerprints(smiles)
    seconds = time.perf_counter() - started
    return {"rows": len(smiles), "seconds": seconds, "rows_per_s": len(smiles) / seconds}


def disk_cache(frame: pd.DataFrame, work: Path, chunk_size: int, baseline: pd.DataFrame | None) -> dict:
    src = work / "subset.csv"
    frame.to_csv(src, index=False)
    cache_dir = work / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)  # the cold run must start from an empty cache
    runs = {}
    for label in ("cold (fills the cache)", "warm (all rows from the cache)"):
        t = CHMRTransformer(cache=False, cache_dir=cache_dir, n_jobs=2, on_invalid="nan").fit(["CCO"])
        out = work / f"subset_{len(runs)}.parquet"
        started = time.perf_counter()
        embed_file(t, src, out, chunk_size=chunk_size)
        seconds = time.perf_counter() - started
        runs[label] = {"rows": len(frame), "seconds": seconds, "rows_per_s": len(frame) / seconds}
    cold, warm = (pd.read_parquet(work / f"subset_{i}.parquet") for i in range(2))
    emb_cols = [c for c in cold.columns if c not in ("id", "source", "smiles")]
    same = cold[emb_cols].to_numpy().tobytes() == warm[emb_cols].to_numpy().tobytes()
    same_base = None
    if baseline is not None:
        same_base = baseline[emb_cols].to_numpy().tobytes() == warm[emb_cols].to_numpy().tobytes()
    return {"runs": runs, "warm_equals_cold": same, "warm_equals_cache_off_stream": same_base,
            "cache_bytes": (cache_dir / "chmr_embeddings.sqlite").stat().st_size}


def _worker_rss() -> dict:
    """Run inside a Dask worker: its RSS now and its peak (bytes)."""
    import resource as _resource

    import psutil as _psutil

    return {"rss": _psutil.Process().memory_info().rss,
            "maxrss": _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss * 1024}


class PeakSampler(threading.Thread):
    """Max RSS of a set of processes (a callable returning {name: bytes}), sampled every 0.5 s."""

    def __init__(self, sample):
        super().__init__(daemon=True)
        self.sample, self.peak, self.stop = sample, {}, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            try:
                for name, rss in self.sample().items():
                    self.peak[name] = max(self.peak.get(name, 0), rss)
            except Exception:  # noqa: BLE001 - a worker between tasks or shutting down: next sample
                pass


def _this_process_rss() -> dict:
    proc = psutil.Process()
    kids = [c for c in proc.children(recursive=True) if c.is_running()]
    total = proc.memory_info().rss
    for kid in kids:
        try:
            total += kid.memory_info().rss
        except psutil.Error:
            pass
    return {"this process": proc.memory_info().rss, "this process + featurization workers": total}


def cluster_comparison(frame: pd.DataFrame, work: Path, chunk_size: int) -> dict:
    """The same rows in this process (n_jobs=2) and on a 2-worker LocalCluster (1 thread each)."""
    from distributed import Client, LocalCluster

    src = work / "cluster_rows.csv"
    frame.to_csv(src, index=False)
    t = CHMRTransformer(cache=False, n_jobs=2, on_invalid="nan").fit(["CCO"])
    sampler = PeakSampler(_this_process_rss)
    sampler.start()
    started = time.perf_counter()
    embed_file(t, src, work / "single.parquet", chunk_size=chunk_size)
    single_s = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    single_peak = sampler.peak
    print(f"cluster comparison: single process {len(frame) / single_s:,.1f} rows/s", flush=True)

    started = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster) as client:
        startup_s = time.perf_counter() - started
        sampler = PeakSampler(lambda: {w: v["rss"] for w, v in client.run(_worker_rss).items()})
        sampler.start()
        started = time.perf_counter()
        embed_file(t, src, work / "cluster.parquet", chunk_size=chunk_size, scheduler=client)
        cluster_s = time.perf_counter() - started
        sampler.stop.set()
        sampler.join()
        maxrss = {w: v["maxrss"] for w, v in client.run(_worker_rss).items()}
    print(f"cluster comparison: 2-worker LocalCluster {len(frame) / cluster_s:,.1f} rows/s", flush=True)
    a, b = (pd.read_parquet(work / f"{name}.parquet") for name in ("single", "cluster"))
    emb = [c for c in a.columns if c not in ("id", "source", "smiles")]
    x, y = a[emb].to_numpy(np.float64), b[emb].to_numpy(np.float64)
    same_rows = bool((a[["id", "smiles"]].to_numpy() == b[["id", "smiles"]].to_numpy()).all())
    both = ~(np.isnan(x) & np.isnan(y))
    scale = np.nanmax(np.abs(x), axis=1, keepdims=True)
    rel = np.where(both, np.abs(x - y) / np.where(scale > 0, scale, 1), 0.0)
    return {
        "rows": len(frame), "chunk_size": chunk_size, "single_s": single_s, "cluster_s": cluster_s,
        "startup_s": startup_s, "ratio": single_s / cluster_s,
        "single_peak_mib": {k: round(v / MiB) for k, v in single_peak.items()},
        "worker_peak_mib": sorted(round(v / MiB) for v in sampler.peak.values()),
        "worker_maxrss_mib": sorted(round(v / MiB) for v in maxrss.values()),
        "same_ids_and_order": same_rows, "bit_identical": x.tobytes() == y.tobytes() and same_rows,
        "rows_bit_identical": int(((x == y) | ~both).all(axis=1).sum()),
        "max_relative_difference": float(np.nanmax(rel)) if rel.size else 0.0,
        "precision": t.precision, "load": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
    }


def cluster_section(c: dict) -> list[str]:
    """Report lines for the cluster comparison."""
    return [
        "",
        "## Dask: 2-worker LocalCluster vs one process, same rows",
        "",
        (f"The first {c['rows']:,} rows, chunks of {c['chunk_size']:,}, disk cache off, `precision="
         f"'{c['precision']}'`: `embed_file(t, ...)` in one process with `n_jobs=2` featurization workers, then "
         "`embed_file(t, ..., scheduler=client)` on `LocalCluster(n_workers=2, threads_per_worker=1, "
         f"processes=True)`: the same 2 cores. Load average after the runs: {c['load']}"
         + (f"; run {c['date']} on {c.get('cores', c.get('cpus'))} logical cores (separately from the stream above)."
            if c.get("date")
            else ".")),
        "",
        "| run | s | rows/s | peak RSS MiB |",
        "|---|---:|---:|---|",
        (f"| one process, n_jobs=2 | {c['single_s']:.1f} | {c['rows'] / c['single_s']:,.1f} | "
         + "; ".join(f"{k}: {v:,}" for k, v in c["single_peak_mib"].items()) + " |"),
        (f"| LocalCluster, 2 workers x 1 thread | {c['cluster_s']:.1f} | {c['rows'] / c['cluster_s']:,.1f} | "
         f"per worker: {', '.join(f'{v:,}' for v in c['worker_peak_mib'])} sampled, "
         f"{', '.join(f'{v:,}' for v in c['worker_maxrss_mib'])} ru_maxrss |"),
        "",
        (f"- ratio (one process / cluster wall time): **{c['ratio']:.2f}x**; the cluster's start-up "
         f"({c['startup_s']:.1f} s, not counted) is paid once per session, the model's unpickling once per worker "
         "(counted)."),
        (f"- same rows in the same order: {c['same_ids_and_order']}; bit-identical: {c['bit_identical']} "
         f"({c['rows_bit_identical']:,} of {c['rows']:,} rows); largest difference {c['max_relative_difference']:.1e} "
         "relative to the row's largest value (float32 encoder: the workers run 1 torch thread, this process 2; "
         "`precision='float64'` is bit-identical, tests/streaming/test_dask.py)."),
    ]


def slope(progress: list[dict], key: str) -> float | None:
    """Least-squares MiB per 10,000 rows of ``key``, from the second chunk on (after warm-up)."""
    pts = [(p["rows"], p[key]) for p in progress[1:] if p.get(key) is not None]
    if len(pts) < 2:
        return None
    x, y = np.array(pts, dtype=float).T
    return float(np.polyfit(x, y, 1)[0] * 10_000)


def _flatness(prog: list[dict], rss_slope: float | None, n: int) -> str:
    """Judge the working set on the sampled RSS; report the high-water mark (ru_maxrss) beside it."""
    after = [p for p in prog[1:] if p.get("rss_mib") is not None]
    if len(after) < 2 or rss_slope is None:
        return "too few chunks to judge."
    rises = [f"{b['peak_rss_mib']:,} at {b['rows']:,}" for a, b in itertools.pairwise(prog)
             if b["peak_rss_mib"] > a["peak_rss_mib"]]
    flat = abs(rss_slope) < 5
    text = (f"RSS sampled after each chunk stays between {min(p['rss_mib'] for p in after)} and "
            f"{max(p['rss_mib'] for p in after)} MiB (least-squares slope {rss_slope:+.1f} MiB per 10,000 rows) "
            f"→ **{'flat' if flat else 'growing'}**")
    if flat:
        text += f": at 1M rows the same ~{max(p['rss_mib'] for p in after):,} MiB working set is expected"
    text += (f". The high-water mark (ru_maxrss) was {prog[0]['peak_rss_mib']:,} MiB after the first chunk"
             + (f" and rose in steps ({'; '.join(rises)} rows)" if rises else " and never rose")
             + f", {prog[-1]['peak_rss_mib']:,} MiB after {n:,} rows: the encoder's transient activations of "
             "one batch of 512 molecules, which grow with the largest molecules met so far, not with the "
             "number of rows.")
    return text


def _header(result: dict, quick: bool) -> list[str]:
    m = result["machine"]
    return [
        "# Streaming embedding benchmark (`chmr_sklearn.streaming.embed_file`)",
        "",
        # results saved before the shared machine record name the cores "cpus"
        (f"- date: {m['date']}; machine: {m.get('cores', m.get('cpus'))} logical cores, {m['cpu']}; "
         f"other processes running (load average at start {m['load_start']}, at end {m['load_end']})"),
        (f"- python {m['python']}, torch {m['torch']} ({m['torch_threads']} threads), rdkit {m['rdkit']}, "
        f"chmr_sklearn {m['chmr_sklearn']}; process niceness {m['nice']}"),
        f"- input: {result['n_library']:,} distinct molecules (canonical SMILES) = the union of the SMILES of "
        f"{', '.join(LOADERS)} (chmr_sklearn.datasets) and RDKit's 10,000 WEHI molecules, shuffled (seed 0), "
        f"one `.csv.gz` (id, source, smiles); {result['n_unparsable']} unparsable SMILES kept as NaN rows"
        + (f"; --quick: first {result['n_input']:,} rows" if quick else ""),
        (f"- transformer: shipped model, `output='concat'` (2091 float32 columns), float64 encoder, n_jobs=2, "
        f"`on_invalid='nan'`, in-memory and disk cache off; `chunk_size={result['chunk_size']:,}`; output Parquet"),
    ]


def _rates(s: dict) -> tuple[float, float, float]:
    """Rows/s over the rows this run computed, rows/s after the first chunk, CPU-s per row after it."""
    prog, resumed = s["progress"], s.get("resumed_rows", 0)
    rate = (s["n_rows_done"] - resumed) / prog[-1]["seconds"] if prog else float("nan")
    # steady state: from the end of the first chunk (loky start, model load) to the last
    steady = ((prog[-1]["rows"] - prog[0]["rows"]) / (prog[-1]["seconds"] - prog[0]["seconds"])
              if len(prog) > 1 else rate)
    cpu = [p for p in prog if p.get("cpu_s") is not None]
    cpu_per_row = ((cpu[-1]["cpu_s"] - cpu[0]["cpu_s"]) / (cpu[-1]["rows"] - cpu[0]["rows"]) if len(cpu) > 1
                   else cpu[0]["cpu_s"] / cpu[0]["rows"] if cpu else float("nan"))
    return rate, steady, cpu_per_row


def _progress_line(result: dict, rate: float, steady: float) -> list[str]:
    s = result["stream"]
    n, resumed = s["n_rows_done"], s.get("resumed_rows", 0)
    lines = []
    if resumed:
        lines.append(f"- resumed: an earlier invocation, stopped by its time budget, had finished the first "
                     f"{resumed:,} rows ({resumed // result['chunk_size']} chunks); this run skipped them "
                     "(`embed_file(resume=True)`) and computed the following rows. Rates below count only "
                     "the rows computed by this run.")
    if s["completed"]:
        lines.append(f"- streamed all **{n:,} rows** in {s['seconds']:.0f} s: **{rate:,.0f} rows/s** overall, "
                     f"{steady:,.0f} rows/s after the first chunk.")
    else:
        lines.append(f"- the time budget ({result['budget_s']:.0f} s) stopped the stream after **{n:,} of "
                     f"{result['n_input']:,} rows** (measured, not estimated): **{rate:,.0f} rows/s** overall, "
                     f"{steady:,.0f} rows/s after the first chunk. The shared 2 cores were too slow for the "
                     "whole library in budget; the rest is extrapolated below from these rows.")
    return lines


def _summary(result: dict) -> list[str]:
    s, ref, cache = result["stream"], result["reference"], result["cache"]
    prog, n = s["progress"], s["n_rows_done"]
    rate, steady, cpu_per_row = _rates(s)
    bytes_per_row = (s["output_bytes"] or s["part_bytes"]) / n if n else float("nan")
    per_m = 1e6 / steady if steady else float("nan")
    cold, warm = cache["runs"].values()
    return _progress_line(result, rate, steady) + [
        (f"- CPU time (this process + its featurization workers): **{cpu_per_row * 1000:.1f} CPU-s per 1,000 rows** "
         f"after the first chunk, i.e. {1 / cpu_per_row:,.0f} rows per CPU-second. Contention inflates it too "
         "(shared caches, threads waiting for a core): benchmarks/results/embed.md measured 6.4 CPU-s per 1,000 "
         "molecules and `transform` at 269 mol/s on 2 idle cores (n_jobs=2); at that rate 1M rows take "
         f"{1e6 / 269 / 3600:.1f} h. Writing a 10,000-row part and copying it into the output took 3 s on this "
         "loaded machine (a separate timing, not part of this run), against 37 s of computing at 269 rows/s."),
        (f"- extrapolation to **1,000,000 rows** at the measured steady rate: **{per_m / 3600:.1f} h** on this "
        f"machine ({per_m / 60:,.0f} min); linear in rows since every chunk is independent."),
        f"- memory: peak RSS {prog[-1]['peak_rss_mib'] if prog else '?'} MiB in this process (largest sample "
        f"{s['max_rss_mib']} MiB) + {s['max_children_rss_mib']} MiB in the 2 featurization workers; "
        + _flatness(prog, slope(prog, "rss_mib"), n),
        (f"- disk: {bytes_per_row:,.0f} bytes per row of Parquet (snappy) → {bytes_per_row * 1e6 / 2**30:.1f} GiB "
        "per 1M rows; while the run is in progress the parts take the same space again until they are "
        "assembled into the output and removed."),
        (f"- reference, same {ref['rows']:,} rows: the plain RDKit 1191-bit fingerprint loop runs at "
        f"**{ref['rows_per_s']:,.0f} rows/s**, {ref['rows_per_s'] / steady:.1f}x the CHMR stream (which also "
        "computes the 2D graph and the 3D conformer and runs the encoder)."),
        (f"- disk cache (first {cold['rows']:,} rows, `cache_dir` set): cold {cold['rows_per_s']:,.0f} rows/s "
        f"(computes and fills the cache), warm re-run **{warm['rows_per_s']:,.0f} rows/s** "
        f"({warm['rows_per_s'] / cold['rows_per_s']:.0f}x); warm output identical to the cold one: "
        f"{cache['warm_equals_cold']}, and to the cache-off stream's rows: {cache['warm_equals_cache_off_stream']}; "
        f"cache file {cache['cache_bytes'] / cold['rows']:,.0f} bytes per molecule."),
    ]


def _progress_tables(result: dict) -> list[str]:
    """This run's chunks, then those of any earlier invocation it resumed."""
    prog, resumed = result["stream"]["progress"], result["stream"].get("resumed_rows", 0)
    lines = [
        ("RSS: this process, sampled every 0.5 s; peak: `ru_maxrss` so far; workers: summed RSS of the loky "
        "featurization processes. load1: the machine's 1-minute load average (2 cores, shared)."),
        "",
        ("| rows | s | rows/s (cumulative) | rows/s (this chunk) | CPU s | RSS MiB | peak RSS MiB | workers RSS MiB "
        "| load1 |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    prev_rows, prev_s = resumed, 0
    for p in prog:
        chunk_rate = (p["rows"] - prev_rows) / (p["seconds"] - prev_s) if p["seconds"] > prev_s else float("nan")
        lines.append(f"| {p['rows']:,} | {p['seconds']:.0f} | {(p['rows'] - resumed) / p['seconds']:,.0f} | "
                     f"{chunk_rate:,.0f} | {p.get('cpu_s', '–')} | "
                     f"{p['rss_mib'] if p['rss_mib'] is not None else '–'} | {p['peak_rss_mib']} | "
                     f"{p['children_rss_mib'] if p['children_rss_mib'] is not None else '–'} | {p['load1']} |")
        prev_rows, prev_s = p["rows"], p["seconds"]
    for i, inv in enumerate(result.get("earlier_invocations", [])):
        lines += ["", (f"Earlier invocation {i + 1} of this stream ({inv['date']}), stopped before the end; its "
                  "finished chunks were reused by the run above:"), "",
                  "| rows | s | CPU s | RSS MiB | peak RSS MiB | workers RSS MiB | load1 |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {p['rows']:,} | {p['seconds']:.0f} | {p.get('cpu_s', '–')} | {p['rss_mib']} | "
                  f"{p['peak_rss_mib']} | {p['children_rss_mib']} | {p['load1']} |" for p in inv["progress"]]
    return lines


def report(result: dict, quick: bool) -> str:
    runs = result["cache"]["runs"]
    lines = [*_header(result, quick), "", "## Summary", "", *_summary(result), "",
             "## Rows done vs time and memory (one line per finished chunk)", "", *_progress_tables(result), "",
             "## Disk cache", "", "| run | rows | s | rows/s |", "|---|---:|---:|---:|",
             *(f"| {k} | {v['rows']:,} | {v['seconds']:.1f} | {v['rows_per_s']:,.0f} |" for k, v in runs.items()),
             "",
             ("A warm run still parses and canonicalizes every SMILES (the cache key) and writes the output; it "
              "computes nothing."),
             "",
             f"Total benchmark time {result['total_s']:.0f} s."]
    if result.get("cluster"):
        lines += cluster_section(result["cluster"])
    return "\n".join(lines) + "\n"


def _parse_args() -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 rows in chunks of 250; prints only")
    parser.add_argument("--n", type=int, default=None, help="stream only the first N rows of the library")
    parser.add_argument("--budget-s", type=float, default=600.0, help="stop the stream after this many seconds")
    parser.add_argument("--cache-rows", type=int, default=5_000, help="rows of the disk-cache cold/warm runs")
    parser.add_argument("--chunk-size", type=int, default=10_000, help="embed_file chunk_size (rows)")
    parser.add_argument("--work-dir", default=None, help="keep the input and finished chunks here (resumable)")
    parser.add_argument("--from-json", default=None, help="only re-render the report from a saved .json")
    parser.add_argument("--cluster-rows", type=int, default=5_000, help="rows of the one-process vs cluster runs")
    parser.add_argument("--no-cluster", action="store_true", help="skip the one-process vs LocalCluster runs")
    parser.add_argument("--cluster-only", action="store_true",
                        help="only the one-process vs LocalCluster runs, added to the saved results (.json + .md); "
                             "with --quick: 200 rows, printed only")
    return parser.parse_args()


def _machine() -> dict:
    """The shared machine record at the start of the run, plus torch's threads and the niceness."""
    return {**machine_info(), "torch_threads": torch.get_num_threads(), "nice": os.nice(0)}


def _invocations(work: Path, s: dict, date: str, keep: bool) -> list[dict]:
    """The earlier invocations logged in ``work``; with ``keep`` (``--work-dir``) this one is appended to the log."""
    # Each invocation on a kept --work-dir appends its progress, so a resumed stream reports all of them.
    log = work / "invocations.json"
    earlier = json.loads(log.read_text()) if log.is_file() else []
    if keep:
        log.write_text(json.dumps(earlier + [{"date": date, "progress": s["progress"],
                                               "resumed_rows": s["resumed_rows"], "completed": s["completed"]}]))
    return earlier


def _baseline(s: dict, rows: int) -> pd.DataFrame | None:
    """The cache-off stream's first ``rows`` rows, for the warm disk-cache run to equal; None if not written."""
    if s["completed"]:
        return pq.read_table(s["output_path"]).slice(0, rows).to_pandas()
    # an interrupted stream: the first finished part holds the first rows
    first = pq.read_table(s["parts"] / "part-00000-000000.parquet").to_pandas()
    return first.iloc[:rows] if len(first) >= rows else None


def _measure(frame: pd.DataFrame, work: Path, chunk: int, args: argparse.Namespace, date: str) -> dict:
    """Steps 1-4 on ``frame`` in ``work``: the result's entries from ``earlier_invocations`` to ``cluster``."""
    s = stream(frame, work, chunk, args.budget_s)
    earlier = _invocations(work, s, date, keep=bool(args.work_dir))
    done = s["n_rows_done"]
    print(f"stream: {done:,} rows in {s['seconds']:.0f} s (completed: {s['completed']})", flush=True)
    ref = reference(frame["smiles"].iloc[:done].tolist())
    print(f"reference: {ref['rows_per_s']:,.0f} rows/s", flush=True)
    cache_rows = min(250 if args.quick else args.cache_rows, done)
    cache = disk_cache(frame.iloc[:cache_rows], work, chunk, _baseline(s, cache_rows))
    print(f"disk cache: {cache}", flush=True)
    cluster = None
    if not args.no_cluster:
        rows = 200 if args.quick else args.cluster_rows
        cluster = cluster_comparison(frame.iloc[:rows], work, min(chunk, max(1, rows // 4)))
    return {"earlier_invocations": earlier, "stream": {k: v for k, v in s.items() if k not in ("output_path", "parts")},
            "reference": ref, "cache": cache, "cluster": cluster}


def main() -> None:
    """Steps 1-4 and the report; or only step 4 (``--cluster-only``), or only the report (``--from-json``)."""
    args = _parse_args()
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
        RESULTS.write_text(report(result, quick=False))
        return
    if args.cluster_only:
        _cluster_only(args)
        return
    # A background job started by a non-interactive shell ignores SIGINT, and then
    # _thread.interrupt_main() (the time budget) does nothing: restore Ctrl-C semantics.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    started = time.perf_counter()
    machine = _machine()
    frame = library()
    n_library, n_unparsable = len(frame), int(sum(to_smiles(s) is None for s in frame["smiles"]))
    n = 1_000 if args.quick else (args.n or len(frame))
    chunk = 250 if args.quick else args.chunk_size
    frame = frame.iloc[:n]
    print(f"library: {n_library:,} molecules; streaming {n:,} rows in chunks of {chunk:,}", flush=True)
    with tempfile.TemporaryDirectory(prefix="chmr_stream_") as tmp:
        work = Path(args.work_dir or tmp)  # --work-dir: kept, so a later invocation resumes the stream
        work.mkdir(parents=True, exist_ok=True)
        measured = _measure(frame, work, chunk, args, machine["date"])
    result = {
        "machine": dict(machine, load_end=", ".join(f"{x:.2f}" for x in os.getloadavg())),
        "n_library": n_library, "n_unparsable": n_unparsable, "n_input": n, "chunk_size": chunk,
        "budget_s": args.budget_s, **measured, "total_s": time.perf_counter() - started,
    }
    text = report(result, args.quick)
    print(text)
    if not args.quick:
        RESULTS.write_text(text)
        RESULTS.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))


def _cluster_only(args) -> None:
    """Step 4 alone; its section is added to the saved results unless --quick."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    rows = 200 if args.quick else args.cluster_rows
    frame = library().iloc[:rows]
    with tempfile.TemporaryDirectory(prefix="chmr_cluster_") as tmp:
        cluster = cluster_comparison(frame, Path(tmp), min(args.chunk_size, max(1, rows // 4)))
    print("\n".join(cluster_section(cluster)))
    if not args.quick:
        saved = RESULTS.with_suffix(".json")
        result = json.loads(saved.read_text())
        machine = machine_info()  # the shared record's cores and date (load: the section's own, after the runs)
        result["cluster"] = dict(cluster, cores=machine["cores"], date=machine["date"])
        saved.write_text(json.dumps(result, indent=1, default=str))
        RESULTS.write_text(report(result, quick=False))


if __name__ == "__main__":
    main()
