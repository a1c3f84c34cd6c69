"""Does ``CHMRClassifier()``'s ``rf_residual="auto"`` drop the forest when it should? Validation first.

"auto" trains each of the ``n_heads`` heads with and without the random-forest offset and scores
both on that head's internal validation split. Until this evidence changed it, each head kept the
variant its own split preferred; since, the classifier keeps the forest in every head unless every
head prefers the plain one, so a rerun compares that rule with ``True``. With the same seed,
``rf_residual=True`` gives the identical fit wherever "auto" kept the forest in every head, so
``True`` is refitted only on the seeds where some head dropped it. Each fit is the downstream
benchmark's ``fit_default`` (``fit`` on the training SMILES with the estimator's own internal
split; the protocol's validation and test rows are only scored). The question is answered on the
**validation** rows; test scores are reported beside them, never used.

Writes ``benchmarks/results/auto_vs_forest.md`` (+ ``.json``) after every seed.

Usage::

    CHMR_DATA_HOME=../shared/data python benchmarks/auto_vs_forest.py --datasets bace clintox bbbp sider --seeds 0 1 2
    python benchmarks/auto_vs_forest.py --from-json benchmarks/results/auto_vs_forest.json   # re-render
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np

from chmr_sklearn.benchmark._machine import describe_machine, describe_versions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "auto_vs_forest.md"


def run(datasets: list[str], seeds: list[int], out: Path, log=print) -> dict:
    """Fit "auto" on every seed, and ``rf_residual=True`` where a head dropped the forest."""
    import torch

    from chmr_sklearn import CHMRTransformer
    from chmr_sklearn.benchmark import load_split
    from chmr_sklearn.benchmark._machine import machine_info
    from chmr_sklearn.benchmark._models import fit_default

    torch.set_num_threads(1)  # as the downstream benchmark fits
    path = out.with_suffix(".json")
    report = json.loads(path.read_text()) if path.is_file() else {"meta": {"runs": []}, "fits": {}}
    report["meta"]["runs"].append({**machine_info(), "command": " ".join(sys.argv)})
    for name in datasets:
        data = load_split(name)
        with tempfile.TemporaryDirectory() as cache:  # each molecule embedded once, read by every fit
            transformer = CHMRTransformer(cache_dir=cache, n_jobs=2)
            transformer.fit_transform(data.smiles)
            for seed in seeds:
                key = f"{name}:{seed}"
                if key in report["fits"]:
                    continue
                fits = {"auto": fit_default(data, transformer, seed)}
                if not all(h["rf_residual"] for h in fits["auto"]["heads"]):
                    fits["true"] = fit_default(data, transformer, seed, {"rf_residual": True})
                report["fits"][key] = {**fits, "load": list(os.getloadavg())}
                log(f"{key}: " + "; ".join(f"{k} valid {v['valid']['roc_auc']:.4f} test {v['test']['roc_auc']:.4f} "
                                          f"heads {[h['rf_residual'] for h in v['heads']]}" for k, v in fits.items()))
                write(report, out)
    return report


def summarize(report: dict) -> dict:
    """Per dataset: the seeds, where the two differ, and the differences (ROC-AUC x100)."""
    sets: dict = {}
    for key, fits in report["fits"].items():
        name, seed = key.rsplit(":", 1)
        sets.setdefault(name, []).append((int(seed), fits))
    out = {}
    for name, rows in sets.items():
        rows.sort()
        auto = {s: f["auto"] for s, f in rows}
        true = {s: f.get("true", f["auto"]) for s, f in rows}
        split = [s for s, f in rows if "true" in f]
        out[name] = {
            "seeds": [s for s, _ in rows], "differ": split,
            **{f"{part}_{v}": [100 * fits[s][part]["roc_auc"] for s, _ in rows]
               for part in ("valid", "test") for v, fits in (("auto", auto), ("true", true))},
            "d_valid": [100 * (true[s]["valid"]["roc_auc"] - auto[s]["valid"]["roc_auc"]) for s in split],
            "d_test": [100 * (true[s]["test"]["roc_auc"] - auto[s]["test"]["roc_auc"]) for s in split],
        }
    return out


def _signed(xs: list[float]) -> str:
    return ", ".join(f"{x:+.2f}" for x in xs) or "–"


def _mean(xs: list[float]) -> str:
    return f"{np.mean(xs):.2f}" + (f" ± {np.std(xs, ddof=1):.2f}" if len(xs) > 1 else "")


def write(report: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    summary = summarize(report)
    runs = report["meta"]["runs"]
    loads = [f["load"][0] for f in report["fits"].values()]
    lines = ["# CHMRClassifier(): rf_residual auto vs True, on the seeds where they differ", "",
             *(f"- run {r['date']}: {describe_machine(r)}; {describe_versions(r)}; `{r['command']}`" for r in runs),
             f"- load average (1 min) after each seed: {min(loads):.2f}–{max(loads):.2f} (scores, not timings)", "",
             __doc__.split("\n\n")[1].replace("\n", " ").replace("``", "`"), "",
             "ROC-AUC ×100. \"differ\": seeds where some head of \"auto\" dropped the forest (elsewhere the fits "
             "are identical). Means over all seeds of the set.", "",
             "| dataset | seeds | differ | valid True − auto | test True − auto | valid auto → True | "
             "test auto → True |", "|---|---|---|---|---|---:|---:|"]
    for name, s in summary.items():
        lines.append(f"| {name} | {len(s['seeds'])} | {s['differ'] or '–'} | {_signed(s['d_valid'])} | "
                     f"{_signed(s['d_test'])} | {_mean(s['valid_auto'])} → {_mean(s['valid_true'])} | "
                     f"{_mean(s['test_auto'])} → {_mean(s['test_true'])} |")
    dv = [x for s in summary.values() for x in s["d_valid"]]
    dt = [x for s in summary.values() for x in s["d_test"]]
    if report["meta"].get("notes"):
        lines += ["", report["meta"]["notes"]]
    if dv:
        lines += ["", f"Over the {len(dv)} seeds where they differ, forcing the forest scored higher on validation "
                  f"in {sum(x > 0 for x in dv)} (mean {np.mean(dv):+.2f}) and on test in {sum(x > 0 for x in dt)} "
                  f"(mean {np.mean(dt):+.2f})."]
    out.write_text("\n".join(lines) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["bace", "clintox", "bbbp", "sider"])
    ap.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--from-json", type=Path, metavar="RUN.json", help="only re-render a run's report")
    args = ap.parse_args(argv)
    if args.from_json:
        return write(json.loads(args.from_json.read_text()), args.out)
    run(args.datasets, args.seeds, args.out)


if __name__ == "__main__":
    main()
