"""Speed and memory of every CHMR step against its plain reference, measured in the same run.

The library side of ``benchmarks/speed.py`` (see its docstring for the steps and their
references): :func:`run_speed` measures, :func:`render_speed` writes the report and plot,
:func:`parse_log` rebuilds the results of a run stopped before its end from its log.
Peak RSS is sampled every 20 ms by a thread while each step runs (psutil); "Δ" is the peak
minus the RSS when the step started.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import re
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psutil
import torch
from sklearn.ensemble import RandomForestClassifier

from .. import datasets as D
from .._runtime import deterministic
from ..estimators import CHMRClassifier, CHMRTransformer
from ..featurize import FingerprintFeaturizer
from ..featurize.molecular import featurize_molecular
from ..model_selection import scaffold_split
from ..pretrain import PretrainConfig, PretrainCorpus, Pretrainer
from ..pretrain.checkpoint import build_model
from ..profiles import ContextGraph, propagation_weights, tanimoto_knn
from ._machine import describe_versions, load_smiles, machine_info, plain_fingerprints

__all__ = ["PeakRSS", "Recorder", "measure", "parse_log", "power_law", "render_speed", "run_speed"]

MIB = 2**20


class PeakRSS:
    """Context manager: peak resident memory of this process while the block runs."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.proc = psutil.Process()

    def __enter__(self):
        self.start = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def measure(fn):
    """(result, seconds, peak RSS MiB, peak - start MiB) of ``fn()``."""
    with PeakRSS() as mem:
        tic = time.perf_counter()
        out = fn()
        sec = time.perf_counter() - tic
    return out, sec, mem.peak / MIB, (mem.peak - mem.start) / MIB


def power_law(ns, ts) -> tuple[float, float]:
    """Least-squares fit of log t = log a + b log n: returns (a, b)."""
    b, loga = np.polyfit(np.log(np.asarray(ns, float)), np.log(np.asarray(ts, float)), 1)
    return float(np.exp(loga)), float(b)


def time_batches(corpus: PretrainCorpus, config: PretrainConfig, k: int) -> tuple[float, int]:
    """Seconds for the first ``k`` optimisation steps of epoch 1, as ``Pretrainer._epoch`` runs them."""
    trainer = Pretrainer(config, device="cpu", verbose=0)
    trainer.spec_ = trainer._spec(corpus)
    model = build_model(trainer.spec_, generator=torch.Generator().manual_seed(config.seed)).train()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng([config.seed, 0])
    order = rng.permutation(len(corpus))
    device = torch.device("cpu")
    tic = time.perf_counter()
    with deterministic():
        for b in range(k):
            idx = order[b * config.batch_size: (b + 1) * config.batch_size]
            parts = trainer.batch_losses(model, corpus, idx, rng, device)
            loss = parts["cpr"] + config.lambda_sca * parts["sca"] + config.lambda_tree * parts["tree"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return time.perf_counter() - tic, k



class Recorder:
    """Every measurement of a run (step, n, seconds, mol/s, peak, delta, reference ratio), logged as it comes."""

    def __init__(self, log: Callable[[str], None]):
        self.rows: list[dict] = []
        self.log = log

    def __call__(self, step, n, sec, peak, delta, ref_sec=None, ref_name=None, **extra) -> dict:
        r = {"step": step, "n": n, "seconds": sec, "mol_per_s": n / sec if sec > 0 else float("inf"),
             "peak_rss_mib": peak, "delta_rss_mib": delta, "reference": ref_name,
             "reference_seconds": ref_sec, "ratio": (sec / ref_sec) if ref_sec else None, **extra}
        self.rows.append(r)
        ratio = f", {r['ratio']:.2f}x the time of {ref_name}" if ref_sec else ""
        self.log(f"{step} n={n}: {sec:.2f} s ({r['mol_per_s']:,.0f} mol/s), peak RSS {peak:,.0f} MiB "
                 f"(+{delta:,.0f}){ratio}")
        return r


def speed_featurization(wehi: list[str], sizes, record: Recorder):
    """Featurization and embedding (cold, cached) vs the plain loop at each size; the last embeddings."""
    E_last = None
    for n in sizes:
        X = wehi[:n]
        _, ref, p, d = measure(lambda X=X: plain_fingerprints(X))
        record("plain RDKit fingerprint loop (reference)", n, ref, p, d)
        _, s, p, d = measure(lambda X=X: FingerprintFeaturizer(n_jobs=1).fit_transform(X))
        record("FingerprintFeaturizer (1D only)", n, s, p, d, ref, "plain loop")
        _, s, p, d = measure(lambda X=X: featurize_molecular(X, n_jobs=1))
        record("featurize_molecular (1D + 2D graph + 3D conformer)", n, s, p, d, ref, "plain loop")
        tr = CHMRTransformer(n_jobs=1)
        E_last, s, p, d = measure(lambda X=X, tr=tr: tr.fit(X).transform(X))
        record("CHMRTransformer cold (fit + transform)", n, s, p, d, ref, "plain loop")
        _, s, p, d = measure(lambda X=X, tr=tr: tr.transform(X))
        record("CHMRTransformer cached (same X again)", n, s, p, d, ref, "plain loop")
    return E_last


def speed_heads(E_last: np.ndarray, record: Recorder, *, quick: bool, threads: int) -> int:
    """Head fit / predict vs one random forest per task (ChEMBL2K), and end to end; the task count."""
    bunch = D.load_chembl2k()
    Xc = bunch.data.to_numpy(dtype=object)
    Y = np.asarray(bunch.target, dtype=np.float64)
    tr_idx, va_idx, _te_idx = scaffold_split(Xc, **bunch.split_protocol)
    keep = [len(np.unique(Y[tr_idx, t][~np.isnan(Y[tr_idx, t])])) >= 2 for t in range(Y.shape[1])]
    Y = Y[:, np.asarray(keep)]
    n_tasks = 5 if quick else Y.shape[1]
    Y = Y[:, :n_tasks]
    Ec, s, p, d = measure(lambda: CHMRTransformer(n_jobs=1).fit(Xc).transform(Xc))
    record("CHMRTransformer cold on ChEMBL2K (for the fits below)", len(Xc), s, p, d)
    Fc = Ec[:, :1191]
    head = CHMRClassifier("passthrough", hidden=1200, dropout=0.2, lr=1e-3, max_epochs=5 if quick else 100,
                          patience=20, rf_residual=False, device="cpu", random_state=0)
    torch.set_num_threads(1)  # small heads: one thread was 2-4x faster than two (downstream.md)
    n_tr = len(tr_idx)
    forests, s_rf, p, d = measure(lambda: [
        RandomForestClassifier(n_estimators=50 if quick else 500, min_samples_leaf=2, n_jobs=1, random_state=0).fit(
            Fc[tr_idx][~np.isnan(Y[tr_idx, t])], Y[tr_idx, t][~np.isnan(Y[tr_idx, t])].astype(int))
        for t in range(n_tasks)])
    record(f"RandomForest fit, {n_tasks} tasks x {forests[0].n_estimators} trees (reference)", n_tr, s_rf, p, d)
    _, s, p, d = measure(lambda: head.fit(Ec[tr_idx], Y[tr_idx], validation_data=(Ec[va_idx], Y[va_idx])))
    record(f"CHMR head fit ({head.n_epochs_} epochs, early stopping)", n_tr, s, p, d, s_rf, "RF fit")

    n_pred = len(E_last)
    _, s_rfp, p, d = measure(lambda: np.stack([f.predict_proba(E_last[:, :1191])[:, 1] for f in forests], 1))
    record(f"RandomForest predict_proba, {n_tasks} forests, on fingerprints (reference)", n_pred, s_rfp, p, d)
    _, s, p, d = measure(lambda: head.predict_proba(E_last))
    record("CHMR head predict_proba on embeddings", n_pred, s, p, d, s_rfp, "RF predict")
    torch.set_num_threads(threads)
    # end to end from SMILES = the steps measured above on these molecules, added up (re-running the
    # cold embedding would only repeat that measurement)
    rows = record.rows
    s_fp = next(r["seconds"] for r in rows if r["n"] == n_pred and r["step"].startswith("plain RDKit"))
    s_cold = next(r["seconds"] for r in rows if r["n"] == n_pred and r["step"].startswith("CHMRTransformer cold"))
    s_e2e_rf = s_fp + s_rfp
    record("fingerprints + RF predict from SMILES (reference; sum of the rows above)", n_pred, s_e2e_rf,
           float("nan"), float("nan"))
    record("cold embedding + CHMR head predict from SMILES (sum of the rows above)", n_pred, s_cold + s,
           float("nan"), float("nan"), s_e2e_rf, "fp + RF predict")
    return n_tasks


def speed_pretraining(pool: list[str], profiles: dict, sizes, record: Recorder, *, max_full_batches: int) -> list[dict]:
    """Corpus build and one epoch at each size (epochs of many batches timed on their first batches, scaled)."""
    pre = []
    for n in sizes:
        smiles = pool[:n]
        _, ref, p, d = measure(lambda smiles=smiles: plain_fingerprints(smiles))
        record("plain RDKit fingerprint loop (reference)", n, ref, p, d, pretrain=True)
        config = PretrainConfig(max_epochs=1, batch_size=512, lr=1e-3, seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # profile rows outside the subset are expected
            corpus, s_build, p, d = measure(lambda smiles=smiles, config=config: PretrainCorpus.build(
                smiles, profiles, config, n_jobs=1))
        rb = record("PretrainCorpus.build (featurize + propagation + context graph)", n, s_build, p, d, ref,
                    "plain loop", pretrain=True)
        n_batches = math.ceil(n / config.batch_size)
        if n_batches <= max_full_batches:
            trainer, _s_fit, p, d = measure(lambda corpus=corpus, config=config: Pretrainer(
                config, device="cpu", verbose=0).fit(corpus))
            s_epoch, how = trainer.history_[0]["seconds"], "full epoch"
        else:  # time the first k batches of the epoch and scale by the batch count (cost is per batch)
            (sec_k, k), _s_fit, p, d = measure(lambda corpus=corpus, config=config: time_batches(
                corpus, config, max_full_batches // 2))
            s_epoch, how = sec_k / k * n_batches, f"{k} of {n_batches} batches timed, scaled"
        re_ = record("Pretrainer: one epoch (all losses)", n, s_epoch, p, d, ref, "plain loop", pretrain=True,
                     how=how)
        pre.append({"n": n, "build": s_build, "epoch": s_epoch, "epoch_how": how, "build_peak": rb["peak_rss_mib"],
                    "epoch_peak": re_["peak_rss_mib"],
                    "observed": {k: int(b.observed.sum()) for k, b in corpus.bio.items()}})
        del corpus
    return pre


def speed_allpairs(pool: list[str], sizes, record: Recorder) -> list[dict]:
    """The all-pairs steps of the corpus build alone, on fingerprints (cheap to make for large n)."""
    knn = []
    for n in sizes:
        fp = FingerprintFeaturizer(n_jobs=1).fit_transform(pool[:n])[:, :1024] > 0

        def allpairs(fp=fp):
            idx, sims = tanimoto_knn(fp, k=10)
            propagation_weights(idx, sims)
            ContextGraph.build(fp, {})

        _, s, p, d = measure(allpairs)
        record("all-pairs steps alone: Tanimoto kNN + propagation weights + context graph (fp given)", n, s, p, d,
               pretrain=True)
        knn.append({"n": n, "seconds": s})
    return knn


def run_speed(*, pool: Callable[[int], list[str]], profiles: Callable[[], dict], feat_sizes, pre_sizes, knn_sizes,
              quick: bool, threads: int, command: str, log: Callable[[str], None]) -> dict:
    """Every measurement of the speed benchmark; the dict :func:`render_speed` writes (and ``speed.json`` holds).

    Parameters
    ----------
    pool : callable
        ``pool(n)``: ``n`` pretraining molecules, in the order the sizes take them (called after
        the featurization and head steps, so its cost is in the wall time but in no step).
    profiles : callable
        ``profiles()``: the profile tables for :meth:`PretrainCorpus.build`.
    feat_sizes, pre_sizes, knn_sizes : list of int
        Molecule counts of the featurization / pretraining / all-pairs steps.
    quick : bool
        Smaller head fits (5 tasks, 5 epochs, 50 trees) and 2-batch epoch timing.
    threads : int
        torch threads for the encoder and pretraining (the head uses 1).
    command, log
        The command line for the report; progress lines.
    """
    t0 = time.perf_counter()
    load_start = os.getloadavg()
    torch.set_num_threads(threads)
    record = Recorder(log)
    E_last = speed_featurization(load_smiles(), feat_sizes, record)
    n_tasks = speed_heads(E_last, record, quick=quick, threads=threads)
    # epochs of more batches are timed on their first max_full_batches // 2 batches and scaled
    molecules = pool(max(pre_sizes))
    pre = speed_pretraining(molecules, profiles(), pre_sizes, record, max_full_batches=2 if quick else 10)
    knn = speed_allpairs(molecules, knn_sizes, record)
    knn_fit = power_law([r["n"] for r in knn], [r["seconds"] for r in knn]) if len(knn) >= 2 else None
    log(f"all-pairs power law: {knn_fit}")
    fits = {k: power_law([r["n"] for r in pre], [r[k] for r in pre]) for k in ("build", "epoch")}
    # the large-n exponent (last two sizes) shows whether a quadratic term takes over
    tail = {k: float(np.log(pre[-1][k] / pre[-2][k]) / np.log(pre[-1]["n"] / pre[-2]["n"])) for k in ("build", "epoch")}
    log(f"power laws: {fits}; last-two-sizes exponents {tail}")
    meta = {"date": _dt.datetime.now().isoformat(timespec="seconds"), "mode": "quick" if quick else "full",
            "wall_minutes": (time.perf_counter() - t0) / 60,
            "machine": f"{os.cpu_count()} logical cores, {platform.processor() or platform.machine()}",
            "load_start": [round(x, 2) for x in load_start], "load_end": [round(x, 2) for x in os.getloadavg()],
            "versions": describe_versions(machine_info()),
            "threads": threads, "n_tasks": n_tasks, "command": command}
    return {"meta": meta, "rows": record.rows, "pretraining": pre, "power_law": fits, "tail_exponent": tail,
            "allpairs": knn, "allpairs_power_law": knn_fit}


def render_speed(data: dict, out: Path) -> None:
    """``out`` (Markdown) and its ``.png`` plot from the results of :func:`run_speed` or :func:`parse_log`."""
    plot(data["rows"], out.with_suffix(".png"))
    write_report(out, data["meta"], data["rows"], data["pretraining"], data["power_law"], data["tail_exponent"],
                 data["meta"]["n_tasks"], data["allpairs_power_law"])


_LINE = re.compile(r"^\[\s*([\d.]+)s\] (.+?) n=(\d+): ([\d.]+) s \(([\d,]+|inf) mol/s\), peak RSS ([\d,.na]+) MiB "
                   r"\(\+([\d,.na-]+)\)(?:, ([\d.]+)x the time of (.+))?$")


def parse_log(path: Path) -> dict:
    """The rows a run logged (it writes speed.json only at its end): for a run cut short by the deadline."""
    rows, pre, pending, knn = [], [], {}, []
    in_pre = False
    text = path.read_text(errors="replace").splitlines()
    for line in text:
        if "structure rows ->" in line:
            in_pre = True
        m = _LINE.match(line.strip())
        if not m:
            continue
        _t, step, n, sec, _, peak, delta, ratio, ref = m.groups()
        n, sec = int(n), float(sec)
        peak = float(peak.replace(",", "")) if peak != "nan" else float("nan")
        delta = float(delta.replace(",", "")) if delta != "nan" else float("nan")
        ref_sec = sec / float(ratio) if ratio and float(ratio) > 0 else None
        r = {"step": step, "n": n, "seconds": sec, "mol_per_s": n / sec if sec else float("inf"),
             "peak_rss_mib": peak, "delta_rss_mib": delta, "reference": ref, "reference_seconds": ref_sec,
             "ratio": float(ratio) if ratio else None, "pretrain": in_pre}
        rows.append(r)
        if step.startswith("PretrainCorpus.build"):
            pending = {"n": n, "build": sec, "build_peak": peak, "observed": "see log"}
        elif step.startswith("Pretrainer: one epoch") and pending.get("n") == n:
            pre.append({**pending, "epoch": sec, "epoch_peak": peak, "epoch_how": "see log"})
        elif step.startswith("all-pairs"):
            knn.append({"n": n, "seconds": sec})
    fits = {k: power_law([r["n"] for r in pre], [r[k] for r in pre]) for k in ("build", "epoch")} if len(pre) > 1 \
        else {"build": (float("nan"), float("nan")), "epoch": (float("nan"), float("nan"))}
    tail = {k: float(np.log(pre[-1][k] / pre[-2][k]) / np.log(pre[-1]["n"] / pre[-2]["n"])) for k in ("build", "epoch")} \
        if len(pre) > 1 else {"build": float("nan"), "epoch": float("nan")}
    first = next(x for x in text if x.startswith("["))
    meta = {"date": _dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat(timespec="seconds"),
            "mode": "full, stopped before its end (rebuilt from the log)",
            "wall_minutes": float(_LINE.match(text[[i for i, x in enumerate(text) if _LINE.match(x.strip())][-1]].strip())
                                  .group(1)) / 60,
            "machine": f"{os.cpu_count()} logical cores", "load_start": "see log", "load_end": list(os.getloadavg()),
            "versions": f"python {platform.python_version()}, torch {torch.__version__}", "threads": 1,
            "n_tasks": 41, "command": f"(log {path.name}; first line: {first[:60]})"}
    return {"meta": meta, "rows": rows, "pretraining": pre, "power_law": fits, "tail_exponent": tail,
            "allpairs": knn, "allpairs_power_law": power_law([r["n"] for r in knn], [r["seconds"] for r in knn])
            if len(knn) > 1 else None}


def plot(rows: list[dict], path: Path) -> None:
    """Log-log wall time vs molecules of every step measured at two sizes or more (dashed: references)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    steps = list(dict.fromkeys((r["step"], bool(r.get("pretrain"))) for r in rows))
    for step, pre in steps:
        pts = sorted((r["n"], r["seconds"]) for r in rows if r["step"] == step and bool(r.get("pretrain")) == pre)
        if len(pts) < 2:
            continue
        ns, ts = zip(*pts)
        style = "--" if "reference" in step else "-"
        ax.loglog(ns, ts, style, marker="o", label=step + (" [pretraining molecules]" if pre else ""))
    ax.set_xlabel("molecules")
    ax.set_ylabel("wall time (s)")
    ax.set_title("CHMR steps vs their references (log-log; dashed = reference)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


QUIET_PLAIN_LOOP = 1740  # mol/s of the plain loop on a quiet machine (benchmarks/results/featurize.md)


def contention_note(rows: list[dict]) -> str:
    """How much slower than a quiet machine this run was, from its own reference rows."""
    rates = [r["mol_per_s"] for r in rows if r["step"].startswith("plain RDKit")]
    if not rates:
        return ""
    return (f"**Contention**: the plain fingerprint loop ran at {min(rates):,.0f}–{max(rates):,.0f} mol/s in this run vs "
            f"{QUIET_PLAIN_LOOP:,} mol/s on a quiet machine (`featurize.md`): the job got roughly 1/"
            f"{QUIET_PLAIN_LOOP / np.median(rates):.0f} of a core, and that share changed during the run. Absolute "
            "times are therefore far slower than the machine can do; compare each step with its reference measured "
            "right next to it (the ratios), and read exponents from sizes measured close in time.")


def write_report(out: Path, meta: dict, rows: list[dict], pre: list[dict], fits: dict, tail: dict,
                 n_tasks: int, knn_fit) -> None:
    """The Markdown report: run and machine, every step with its reference ratio, pretraining scaling."""
    L = ["# Speed and memory: CHMR steps vs their plain references (same run)", "",
         f"- date: {meta['date']}; mode: {meta['mode']}; total wall time **{meta['wall_minutes']:.1f} min**",
         (f"- machine: {meta['machine']}; load average at start {meta['load_start']}, at end {meta['load_end']} "
         "(run under `nice -n 5`; other processes were running)"),
         (f"- {meta['versions']}; torch threads {meta['threads']} for the encoder and pretraining, 1 for the head; "
         "featurization `n_jobs=1` everywhere (one process, so its peak RSS is the whole cost)"),
         f"- command: `{meta['command']}`",
         ("- molecules: RDKit's WEHI set (first n of 10,000) for featurization / embedding / predict; ChEMBL2K "
         "(InfoAlign split, train 1413) for the fits; the pretraining corpus of `scripts/pretrain_default.py` "
         "(profiled molecules first, then a seeded shuffle of the rest) for pretraining"), "",
         contention_note(rows),
         "",
         "ratio = this step's time ÷ its reference's time on the same molecules (> 1: slower than the reference).",
         "", "| step | molecules | s | mol/s | ratio vs reference | peak RSS MiB (Δ during step) |",
         "|---|---:|---:|---:|---|---:|"]
    for r in rows:
        ratio = f"{r['ratio']:.2f}× {r['reference']}" if r["ratio"] is not None else "—"
        L.append(f"| {r['step']} | {r['n']:,} | {r['seconds']:.2f} | {r['mol_per_s']:,.0f} | {ratio} | "
                 f"{r['peak_rss_mib']:,.0f} (+{r['delta_rss_mib']:,.0f}) |")
    L += ["", "![speed](speed.png)", "", "## Pretraining cost vs corpus size", "",
          ("| molecules | observed profile rows | corpus build s | s per 1k | one epoch s | s per 1k | epoch timing | "
          "peak RSS build / epoch MiB |"), "|---:|---|---:|---:|---:|---:|---|---:|"]
    for r in pre:
        L.append(f"| {r['n']:,} | {r['observed']} | {r['build']:.1f} | {1000 * r['build'] / r['n']:.2f} | "
                 f"{r['epoch']:.1f} | {1000 * r['epoch'] / r['n']:.2f} | {r['epoch_how']} | {r['build_peak']:,.0f} / "
                 f"{r['epoch_peak']:,.0f} |")
    L += ["", (f"Power law t = a·n^b fitted over all sizes: corpus build **b = {fits['build'][1]:.2f}** "
          f"(a = {fits['build'][0]:.2e} s), one epoch **b = {fits['epoch'][1]:.2f}** (a = {fits['epoch'][0]:.2e} s). "
          f"Local exponent between the two largest sizes: build {tail['build']:.2f}, epoch {tail['epoch']:.2f} "
          "(1 = linear; the Tanimoto kNN and the context graph's similarity edges are all-pairs, so build "
          "tends to 2 for large n while featurization keeps it near 1 at these sizes)."), "",
          (f"All-pairs steps alone (Tanimoto kNN + context graph on given fingerprints): **b = {knn_fit[1]:.2f}** "
           f"(a = {knn_fit[0]:.2e} s) → {knn_fit[0] * 83909 ** knn_fit[1] / 60:.1f} min at 83,909 molecules."
           if knn_fit else "All-pairs steps alone: not measured in this run."), "",
          (f"Extrapolation with these fits (at this run's CPU share) to the shipped corpus (83,909 molecules): build "
          f"{fits['build'][0] * 83909 ** fits['build'][1] / 60:.0f} min, one epoch "
          f"{fits['epoch'][0] * 83909 ** fits['epoch'][1] / 60:.1f} min (the shipped run logged 13.7 min "
          "featurization and 4.6–5.4 min per epoch after the first, with other jobs on the machine)."), "",
          (f"Head vs forest: the head is one multi-task network over all {n_tasks} tasks; the forest baseline is one "
          "500-tree forest per task, as in `benchmarks/downstream.py`. Raw numbers: `speed.json`.")]
    out.write_text("\n".join(L) + "\n")

