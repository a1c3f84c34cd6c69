"""Benchmark step 5: the Markdown report, its JSON sibling (raw numbers) and a bar chart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._machine import describe_machine, describe_versions
from ._models import main_metric

__all__ = ["MOLECULENET5", "PAPER", "summarize", "write_report"]

# Reference §3.1, test ROC-AUC x100: (CHMR, InfoAlign). Per-OGB-dataset numbers are not recoverable.
PAPER = {"chembl2k": (84.7, 81.3), "broad6k": (71.4, 70.0), "toxcast": (69.3, 66.4)}
MOLECULENET5 = ("bbbp", "bace", "clintox", "sider", "hiv")
PAPER_MOLECULENET5 = (82.2, 79.1)
_LABELS = {"chmr": "CHMR head", "chmr_rf": "CHMR + RF res.", "chmr_default": "CHMR defaults", "fp_mlp": "FP-MLP",
           "rf": "RF (1191-bit fp)", "chemprop": "chemprop"}


def _chosen_runs(block: dict) -> list[dict]:
    if not block or block.get("status") != "ok":
        return []
    return block["runs"][block["chosen"]]


def summarize(result: dict) -> dict:
    """Per model: test mean, std (ddof=1) and n over seeds of the chosen point, in report units.

    Classification in ROC-AUC x100, regression in MAE. Models without results are absent.

    Examples
    --------
    >>> runs = [{"valid": {"mae": 1.0}, "test": {"mae": 1.0}}, {"valid": {"mae": 1.0}, "test": {"mae": 1.2}}]
    >>> res = {"kind": "regression", "models": {"rf": {"status": "ok", "chosen": "a", "runs": {"a": runs}},
    ...                                         "chemprop": {"status": "not installed", "runs": {}}}}
    >>> s = summarize(res)
    >>> list(s), round(s["rf"]["mean"], 2), s["rf"]["n"]
    (['rf'], 1.1, 2)
    """
    key, _ = main_metric(result["kind"])
    scale = 100.0 if result["kind"] == "classification" else 1.0
    out = {}
    for model, block in result["models"].items():
        runs = _chosen_runs(block)
        if runs:
            v = np.array([r["test"][key] for r in runs]) * scale
            out[model] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "n": len(v),
                              "valid": float(np.mean([r["valid"][key] for r in runs]) * scale)}
    return out


def _better(kind: str, a: float, b: float) -> bool:
    return a > b if main_metric(kind)[1] else a < b


def _cell(s: dict | None, kind: str, rf: dict | None, status: str) -> str:
    if s is None:
        return status.split(":")[0]  # the reason is in the per-dataset details
    digits = 1 if kind == "classification" else 3
    txt = f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"
    if rf is not None and s is not rf:
        txt += " ▲" if _better(kind, s["mean"], rf["mean"]) else " ▼"
    return txt


def _five_mean(results: list[dict]) -> dict:
    """Mean over BBBP, BACE, ClinTox, SIDER, HIV of each model's test mean (when all five ran)."""
    by_name = {r["name"]: summarize(r) for r in results}
    out = {}
    for model in _LABELS:
        vals = [by_name.get(n, {}).get(model) for n in MOLECULENET5]
        if all(v is not None for v in vals):
            out[model] = float(np.mean([v["mean"] for v in vals]))
    return out


def _top_table(results: list[dict], pending=()) -> list[str]:
    L = ["| dataset (metric) | " + " | ".join(_LABELS.values()) + " | paper CHMR | paper InfoAlign |",
         "|---|" + "---:|" * (len(_LABELS) + 2)]
    for r in results:
        s = summarize(r)
        rf = s.get("rf")
        metric = "AUC" if r["kind"] == "classification" else "MAE"
        cells = [_cell(s.get(m), r["kind"], rf, r["models"].get(m, {"status": "not run"})["status"]) for m in _LABELS]
        paper = PAPER.get(r["name"])
        pc, pi = (f"{paper[0]:.1f}", f"{paper[1]:.1f}") if paper else ("–", "–")
        L.append(f"| {r['name']} ({metric}) | " + " | ".join(cells) + f" | {pc} | {pi} |")
    for name in pending:
        L.append(f"| {name} | " + " | ".join(["not reached"] * len(_LABELS)) + " | "
                 + (" | ".join(f"{x:.1f}" for x in PAPER[name]) if name in PAPER else "– | –") + " |")
    five = _five_mean(results)
    if five:
        L.append("| **5-MoleculeNet mean** (BBBP, BACE, ClinTox, SIDER, HIV) | "
                 + " | ".join(f"{five[m]:.1f}" if m in five else "–" for m in _LABELS)
                 + f" | {PAPER_MOLECULENET5[0]:.1f} | {PAPER_MOLECULENET5[1]:.1f} |")
    return L


def _wins(results: list[dict]) -> list[str]:
    """Which datasets the CHMR head (and CHMR + RF residual) beat each baseline on, by test mean."""
    L = []
    for ours in ("chmr", "chmr_rf", "chmr_default"):
        parts = []
        for other in ("rf", "fp_mlp", "chemprop"):
            win, lose = [], []
            for r in results:
                s = summarize(r)
                if ours in s and other in s and not r.get("extra"):  # extra: a repeat shown for context
                    (win if _better(r["kind"], s[ours]["mean"], s[other]["mean"]) else lose).append(r["name"])
            if win or lose:
                parts.append(f"vs {_LABELS[other]}: wins {len(win)}/{len(win) + len(lose)} "
                             f"({', '.join(win) or 'none'}), loses on {', '.join(lose) or 'none'}")
        paper = []
        for r in results:
            s = summarize(r).get(ours)
            if s and r["name"] in PAPER:
                paper.append(f"{r['name']} {s['mean']:.1f} vs {PAPER[r['name']][0]:.1f}")
        five = _five_mean(results).get(ours)
        if five is not None:
            paper.append(f"5-MoleculeNet mean {five:.1f} vs {PAPER_MOLECULENET5[0]:.1f}")
        if paper:
            parts.append("vs the paper's CHMR: " + "; ".join(paper))
        if parts:
            L.append(f"- **{_LABELS[ours]}** " + "; ".join(parts) + ".")
    return L


def _when(meta: dict) -> str:
    """The report's first line: its run's date, wall time and load, or the span of the runs it merges."""
    if "runs" in meta:
        dates = sorted(run.get("date", "?") for run in meta["runs"])
        return (f"- merged from {len(meta['runs'])} runs made {dates[0]} to {dates[-1]}; each run's date, machine, "
                "load and wall time below")
    return (f"- date {meta['date']}; wall time so far {meta.get('wall_seconds', 0) / 60:.1f} min; load average "
            f"(1/5/15 min) {meta.get('load_start', 'not recorded')} at the start, "
            f"{meta.get('load_last', 'not recorded')} at the last write")


def _versions(meta: dict) -> str:
    """The run's library versions (each run's, for a merged report) and its chemprop CLI."""
    if "runs" in meta:
        versions = "library versions: each run's, below"
    else:
        versions = describe_versions(meta.get("machine", {}))
    exe = meta.get("chemprop_executable")
    exe = ", ".join(exe) if isinstance(exe, list) else exe  # a merged report: every run's
    return f"- {versions}; chemprop CLI: {exe or 'not installed'}"


def _seeds_text(meta: dict, results: list[dict]) -> str:
    """Which seeds the means are over: the run's, or each dataset's where a merged report's datasets differ."""
    per_dataset = {r["name"]: sorted({x["seed"] for b in r["models"].values() if b.get("status") == "ok"
                                      for runs in b["runs"].values() for x in runs}) for r in results}
    if all(seeds in ([], list(meta["seeds"])) for seeds in per_dataset.values()):
        return f"over seeds {meta['seeds']}"
    listed = "; ".join(f"{name} {seeds}" for name, seeds in per_dataset.items() if seeds)
    return f"over each dataset's seeds ({listed})"


def _provenance(meta: dict) -> list[str]:
    """Where and how a report's numbers were made: its machine and command, or, for a report merged
    from several runs, one line per run (date, machine, load at its start and last write, wall, command)."""
    if "runs" not in meta:
        return ([f"- machine: {describe_machine(meta['machine'])}"] if "machine" in meta else []) + [
            f"- command: `{meta.get('command', 'run_downstream(...)')}`"]
    lines = ["- runs:"]
    for run in meta["runs"]:
        where = (f"{describe_machine(run['machine'])} ({describe_versions(run['machine'])})" if "machine" in run
                 else "machine not recorded")
        lines.append(f"  - {run.get('date', '?')}, {where}, load {run.get('load_start', '?')} at the start, "
                     f"{run.get('load_last', '?')} at the last write, wall {run.get('wall_seconds', 0) / 60:.1f} "
                     f"min: `{run.get('command', '?')}`")
    return lines


def _details(r: dict) -> list[str]:
    key, _ = main_metric(r["kind"])
    scale = 100.0 if r["kind"] == "classification" else 1.0
    p = r["split_protocol"]
    split = f"{p['method']} {'/'.join(str(round(x * 100)) for x in p['sizes'])}" + (
        f", seed {p['random_state']}" if p.get("random_state") is not None else "")
    L = [f"### {r['name']}", "",
         f"- {r['n_molecules']:,} molecules ({r['n_invalid_dropped']} unparsable rows dropped), {r['n_tasks']} tasks "
         f"({len(r['tasks_dropped'])} without both classes / labels in train dropped for every model), "
         f"split {split} = {'/'.join(map(str, r['split_sizes']))}; status {r['status']}"
         + (f"; embedded once in {r['embed_seconds']:.0f} s" if "embed_seconds" in r else "")
         + (f"; wall {r['wall_seconds'] / 60:.1f} min (all but chemprop)" if "wall_seconds" in r else ""),
         "- budget reductions: " + ("; ".join(r["plan"]["reductions"]) or "none (full grids)")]
    for model, block in r["models"].items():
        if block.get("status") != "ok":
            L.append(f"- {_LABELS[model]}: {block.get('status')}")
            continue
        for pid, runs in block["runs"].items():
            v = np.array([x["valid"][key] for x in runs]) * scale
            t = np.array([x["test"][key] for x in runs]) * scale
            secs = np.mean([x["fit_seconds"] for x in runs])
            ep = f", {np.mean([x['epochs'] for x in runs]):.0f} ep" if runs and "epochs" in runs[0] else ""
            ep += ", GPU" if any(x.get("accelerator") == "gpu" for x in runs) else ""
            mark = " ← chosen" if pid == block["chosen"] and len(block["runs"]) > 1 else ""
            head = f" (head {block['head']})" if "head" in block else ""
            L.append(f"- {_LABELS[model]} {pid}{head}, seeds {[x['seed'] for x in runs]}: valid {v.mean():.3f}, "
                     f"test {t.mean():.3f} ± {t.std(ddof=1) if len(t) > 1 else 0:.3f} ({secs:.1f} s/fit{ep}){mark}")
    L.append("")
    return L


def _plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in ("classification", "regression") if any(r["kind"] == k for r in results)]
    fig, axes = plt.subplots(1, len(kinds), figsize=(max(6, 1.6 * len(results)) + 2, 4.2), squeeze=False,
                             gridspec_kw={"width_ratios": [sum(r["kind"] == k for r in results) for k in kinds]})
    models = list(_LABELS)
    width = 0.8 / len(models)
    for ax, kind in zip(axes[0], kinds):
        rs = [r for r in results if r["kind"] == kind]
        for j, m in enumerate(models):
            xs, ys, es = [], [], []
            for i, r in enumerate(rs):
                s = summarize(r).get(m)
                if s:
                    xs.append(i + (j - len(models) / 2 + 0.5) * width)
                    ys.append(s["mean"])
                    es.append(s["std"])
            ax.bar(xs, ys, width, yerr=es, label=_LABELS[m], capsize=2)
        with_paper = [i for i, r in enumerate(rs) if r["name"] in PAPER]
        for i in with_paper:
            ax.plot([i - 0.4, i + 0.4], [PAPER[rs[i]["name"]][0]] * 2, "k--", lw=1,
                    label="paper CHMR" if i == with_paper[0] else None)
        ax.set_xticks(range(len(rs)), [r["name"] for r in rs], rotation=30, ha="right")
        if kind == "classification":
            ax.set_ylabel("test ROC-AUC ×100 (higher is better)")
            lows = [s["mean"] - s["std"] for r in rs for s in summarize(r).values()]
            ax.set_ylim(max(0, min(lows, default=50) - 5), 100)
        else:
            ax.set_ylabel("test MAE (lower is better)")
    axes[0][0].legend(fontsize=7, ncol=2)
    fig.suptitle("Downstream benchmark: mean ± std over seeds, identical scaffold splits", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _defaults_text(results: list[dict]) -> str:
    """How the "CHMR defaults" column was configured: as shipped, or with a candidate default.

    Examples
    --------
    >>> _defaults_text([])
    '`CHMRClassifier()` / `CHMRRegressor()` exactly as shipped'
    >>> block = {"chosen": "d", "params": {"d": {"descriptors": True}}}
    >>> print(_defaults_text([{"models": {"chmr_default": block}}]).split(":")[0])
    `CHMRClassifier(descriptors=True)` / `CHMRRegressor(descriptors=True)`
    """
    changed = set()
    for r in results:
        block = r["models"].get("chmr_default", {})
        params = block.get("params", {}).get(block.get("chosen"), {})
        changed.add(", ".join(f"{k}={v!r}" for k, v in params.items()))
    if changed <= {""}:
        return "`CHMRClassifier()` / `CHMRRegressor()` exactly as shipped"
    named = " or ".join(sorted(changed - {""}))
    return f"`CHMRClassifier({named})` / `CHMRRegressor({named})`: the shipped defaults but for these parameters"


def write_report(report: dict, out) -> Path:
    """Write the Markdown report to ``out`` and its ``.json`` and ``.png`` siblings.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "downstream.md"
    >>> meta = {"date": "2026-01-01", "seeds": [0], "quick": True, "chemprop_executable": None}
    >>> write_report({"meta": meta, "results": []}, out).with_suffix(".json").exists()
    True
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta, results = report["meta"], report["results"]
    key_note = ("Metric: classification = mean test ROC-AUC ×100 over tasks with both classes in the split "
                "(higher is better); regression = mean test MAE (lower is better). Mean ± std (ddof=1) "
                f"{_seeds_text(meta, results)}; each model's grid point is chosen on the first seed's **validation** "
                "score and the test split is only scored. ▲/▼: better/worse test mean than RF on the same 1191-bit "
                "fingerprints.")
    L = ["# Downstream benchmark: CHMR vs RF, fingerprint MLP and chemprop on identical splits", "",
         _when(meta) + ("; **QUICK mode (not a result)**" if meta["quick"] else ""),
         _versions(meta),
         *_provenance(meta), "", key_note, "", *_top_table(results, meta.get("pending", ())), "",
         ("Paper columns: CHMR's and InfoAlign's reported test ROC-AUC (reference §3.1), with their own encoders "
         "and pretraining; context, not like for like. Per-dataset paper numbers for the five MoleculeNet sets "
         "are not recoverable, only their mean. ESOL / FreeSolv / Lipophilicity are not in the paper."), "",
         "## Where we win and lose", "", *([meta["notes"], ""] if meta.get("notes") else []), *_wins(results), "",
         "## Protocol", "",
         ("- splits: ChEMBL2K / Broad6K InfoAlign's Murcko groups shuffled with seed 3, filled 60/15/25; ToxCast and "
         "the MoleculeNet sets the deterministic OGB scaffold split 80/10/10 (CHMR's code; `toxcast_6015` is "
         "ToxCast on the 60/15/25 group split of InfoAlign's current code). One split per dataset, the same "
         "index arrays for every model and seed (stored in the JSON)."),
         ("- features: each dataset embedded once with the shipped `CHMRTransformer()` (float64, concat: 1191 "
         "fingerprint bits + learned latents = 2091 columns). CHMR head = `CHMRClassifier/CHMRRegressor` on the "
         "embedding; FP-MLP = the same head and grid on the 1191 fingerprint columns only (CHMR without the "
         "learned latents); RF = one forest per task on the same 1191 columns; CHMR + RF residual = the chosen "
         "head with `rf_residual=True`, its forest on the fingerprint columns; CHMR defaults = "
         + _defaults_text(results) + " (float32 embedding), `fit` on the training SMILES alone with its own "
         "internal validation split, no grid: the benchmark's validation rows are only scored, like the test rows."),
         ("- full grids (`_FULL`): head lr ∈ {1e-3, 1e-4} × (dropout, hidden) ∈ {(0.2, 1200), (0.5, 512)}, "
          "max 100 epochs, early stopping on validation (patience 15); residual gamma ∈ {0.1, 1}; RF 500 trees, "
          "min_samples_leaf ∈ {1, 2}; chemprop (v2 CLI) at its defaults: 50 epochs, no early stopping (the epoch "
          "with the best validation loss is kept), one thread, on the CPU unless its line below says GPU. Where a "
          "dataset ran less than this (CPU budget), its \"budget reductions\" below list exactly what differs."), "",
         "## Per dataset", ""]
    for r in results:
        L += _details(r)
    L += ["Raw per-seed numbers and the split indices: the JSON file next to this one.", ""]
    out.write_text("\n".join(L))
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=float))
    if any(summarize(r) for r in results):
        _plot(results, out.with_suffix(".png"))
    return out
