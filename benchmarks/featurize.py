"""Featurizer throughput on real molecules (RDKit's 10,000 ``wehi_mols.csv`` SMILES).

Not a test: a side-by-side measurement, written to ``benchmarks/results/featurize.md``.

1. ``FingerprintFeaturizer`` (n_jobs=1 and 2) against a plain RDKit loop computing the same
   1191 bits (Morgan r2 1024 + MACCS 167) into a float32 array, in the same process; the arrays
   must be identical. Targets: >= 0.9x the plain loop at n_jobs=1, faster than it at n_jobs=2.
2. ``GraphFeaturizer`` (n_jobs=1, 2) and ``GraphFeaturizer.collate``.
3. ``ConformerFeaturizer`` with its defaults (n_jobs=1, 2) on a 1,000-molecule subset.
4. The 3D settings on 300 molecules, one core: embedding and descriptor time separately,
   and how many molecules fail to embed, for ETKDGv3 with / without hydrogens and plain DG.
5. Where featurization spends its CPU: every step and each 3D descriptor family, CPU ms per
   molecule on the 3D subset (process CPU time, so it holds on a loaded machine).

Timings are wall-clock, best of ``--repeats`` interleaved runs (the machine is shared, so the
best run is the least disturbed one); CPU time is this process's (for n_jobs=2 the workers'
time is not in it).

Usage::

    python benchmarks/featurize.py            # full run (~1.5 min on 2 cores)
    python benchmarks/featurize.py --quick    # 2,000 / 100 / 100 molecules (~25 s), prints only
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import joblib  # noqa: E402
from rdkit import Chem, rdBase  # noqa: E402
from rdkit.Chem import rdDistGeom  # noqa: E402

from _reference import (  # noqa: E402  (benchmarks/_reference.py)
    describe_machine, describe_versions, load_smiles, machine_info, plain_fingerprints)
from chmr_sklearn.featurize import ConformerFeaturizer, FingerprintFeaturizer, GraphFeaturizer  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "featurize.md"


def timed(func):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def best_of(funcs: dict, repeats: int) -> tuple[dict, dict, dict]:
    """Run every function ``repeats`` times, interleaved; best wall / its cpu time, last result."""
    walls = {k: np.inf for k in funcs}
    cpus = {k: np.inf for k in funcs}
    results = {}
    for _ in range(repeats):
        for key, func in funcs.items():
            results[key], wall, cpu = timed(func)
            if wall < walls[key]:
                walls[key], cpus[key] = wall, cpu
    return results, walls, cpus


def warm_pool() -> None:
    # Starts loky's reusable 2-worker pool with chmr_sklearn / RDKit imported, so "warm"
    # timings exclude process start-up; "cold" is measured first, before this.
    FingerprintFeaturizer(n_jobs=2).fit_transform(["CCO"] * 256)


def bench_fingerprints(smiles, repeats, lines):
    n = len(smiles)
    # Cold: the first parallel call of the process pays worker start-up and imports.
    _, cold, _ = timed(lambda: FingerprintFeaturizer(n_jobs=2).fit_transform(smiles))
    warm_pool()
    funcs = {
        "plain RDKit loop": lambda: plain_fingerprints(smiles),
        "FingerprintFeaturizer n_jobs=1": lambda: FingerprintFeaturizer().fit_transform(smiles),
        "FingerprintFeaturizer n_jobs=2": lambda: FingerprintFeaturizer(n_jobs=2).fit_transform(smiles),
    }
    results, walls, cpus = best_of(funcs, repeats)
    ref = results["plain RDKit loop"]
    base = n / walls["plain RDKit loop"]
    lines += [
        f"## FingerprintFeaturizer vs a plain RDKit loop ({n:,} molecules, 1191 bits)", "",
        "| run | mol/s (wall) | × plain loop | CPU s (this process) | identical to plain loop |",
        "|---|---:|---:|---:|---|",
    ]
    for key in funcs:
        same = bool(np.array_equal(results[key], ref)) and results[key].dtype == ref.dtype
        lines.append(f"| {key} | {n / walls[key]:,.0f} | {n / walls[key] / base:.2f} | "
                     f"{cpus[key]:.2f} | {same} |")
        if not same:
            raise AssertionError(f"{key} differs from the plain loop")
    lines.append(f"| FingerprintFeaturizer n_jobs=2, cold (first call, starts workers) | "
                 f"{n / cold:,.0f} | {n / cold / base:.2f} | – | – |")
    r1 = n / walls["FingerprintFeaturizer n_jobs=1"] / base
    r2 = n / walls["FingerprintFeaturizer n_jobs=2"] / base
    lines += ["", f"Targets: n_jobs=1 ≥ 0.9× plain → **{r1:.2f}×** "
              f"({'met' if r1 >= 0.9 else 'MISSED'}); n_jobs=2 > 1× plain (warm) → **{r2:.2f}×** "
              f"({'met' if r2 > 1 else 'MISSED'}).", ""]
    return n / walls["FingerprintFeaturizer n_jobs=1"]


def bench_graphs(smiles, repeats, lines):
    n = len(smiles)
    funcs = {
        "GraphFeaturizer n_jobs=1": lambda: GraphFeaturizer().fit_transform(smiles),
        "GraphFeaturizer n_jobs=2": lambda: GraphFeaturizer(n_jobs=2).fit_transform(smiles),
    }
    results, walls, cpus = best_of(funcs, repeats)
    graphs = results["GraphFeaturizer n_jobs=1"]
    batch, t_collate, _ = timed(lambda: GraphFeaturizer.collate(graphs))
    same = all(
        all(np.array_equal(a, b) for a, b in zip(g1, g2))
        for g1, g2 in zip(graphs[:, 0], results["GraphFeaturizer n_jobs=2"][:, 0])
    )
    lines += [
        f"## GraphFeaturizer ({n:,} molecules, {batch.num_nodes:,} atoms, "
        f"{batch.edge_index.shape[1]:,} directed edges)", "",
        "| run | mol/s (wall) | CPU s (this process) |", "|---|---:|---:|",
    ]
    for key in funcs:
        lines.append(f"| {key} | {n / walls[key]:,.0f} | {cpus[key]:.2f} |")
    lines += [f"| collate all {n:,} graphs into one batch | {n / t_collate:,.0f} | – |", "",
              f"n_jobs=1 and n_jobs=2 graphs identical: {same}.", ""]
    return n / walls["GraphFeaturizer n_jobs=1"]


def bench_conformers(smiles, repeats, lines):
    n = len(smiles)
    funcs = {
        "ConformerFeaturizer() n_jobs=1": lambda: ConformerFeaturizer().fit_transform(smiles),
        "ConformerFeaturizer() n_jobs=2": lambda: ConformerFeaturizer(n_jobs=2).fit_transform(smiles),
    }
    results, walls, cpus = best_of(funcs, repeats)
    out1 = results["ConformerFeaturizer() n_jobs=1"]
    same = np.array_equal(out1, results["ConformerFeaturizer() n_jobs=2"], equal_nan=True)
    lines += [
        f"## ConformerFeaturizer, defaults (method='dg', add_hydrogens=False), "
        f"{n:,}-molecule subset", "",
        "| run | mol/s (wall) | CPU s (this process) |", "|---|---:|---:|",
    ]
    for key in funcs:
        lines.append(f"| {key} | {n / walls[key]:,.0f} | {cpus[key]:.2f} |")
    failed = int((out1[:, -1] == 0).sum())
    lines += ["", f"conformer_ok = 0 for {failed} of {n}; n_jobs=1 and 2 bit-identical: {same}.", ""]
    return n / walls["ConformerFeaturizer() n_jobs=1"]


def bench_3d_settings(smiles, repeats, lines):
    """Embedding and descriptor cost of each 3D setting, one core, molecule by molecule."""
    n = len(smiles)
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    settings = [
        ("ETKDGv3, with H", dict(method="etkdg", add_hydrogens=True)),
        ("ETKDGv3, heavy atoms", dict(method="etkdg", add_hydrogens=False)),
        ("plain DG, with H", dict(method="dg", add_hydrogens=True)),
        ("plain DG, heavy atoms", dict(method="dg", add_hydrogens=False)),
    ]
    lines += [
        f"## 3D settings ({n} molecules, one core, best of {repeats})", "",
        "Embedding (with the random-coordinates retry; `max_attempts=2`) and descriptors "
        "(AUTOCORR3D, RDF, MORSE, WHIM, USR, PMI/NPR/shape: 651 values) timed separately.", "",
        "| setting | embed mol/s | descriptors alone mol/s | end-to-end mol/s | "
        "embedding failures (s spent on them) | embedded only by the random-coords retry | "
        "descriptor failures |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, kwargs in settings:
        feat = ConformerFeaturizer(**kwargs)._descriptors()  # the per-molecule steps
        runs = [_time_3d_setting(feat, mols) for _ in range(repeats)]  # deterministic: only the times change
        t_embed, t_desc, t_failed = (min(r[k] for r in runs) for k in ("embed", "describe", "failed"))
        fail_embed, rescued, fail_desc = (runs[0][k] for k in ("embed_failures", "rescued", "describe_failures"))
        lines.append(
            f"| {label} | {n / t_embed:,.0f} | {(n - fail_embed) / t_desc:,.0f} | "
            f"{n / (t_embed + t_desc):,.0f} | {fail_embed} ({t_failed:.1f} s) | {rescued} | {fail_desc} |"
        )
        print(lines[-1], flush=True)
    lines.append("")


def _time_3d_setting(feat, mols) -> dict:
    """One pass of a 3D setting over ``mols``: seconds embedding, describing and spent on failed embeddings,
    and the counts of embedding failures, molecules only the random-coordinates retry embedded, and
    descriptor failures."""
    out = dict.fromkeys(("embed", "describe", "failed"), 0.0) | dict.fromkeys(
        ("embed_failures", "rescued", "describe_failures"), 0)
    row = np.empty(651)
    with rdBase.BlockLogs():
        for mol in mols:
            m = feat._prepare(mol)
            if m is None:  # over max_atoms
                out["embed_failures"] += 1
                continue
            t0 = time.perf_counter()
            # feat._embed unrolled (optimize=None) to see which attempt succeeded
            attempt = next(
                (k for k in range(feat.max_attempts) if rdDistGeom.EmbedMolecule(m, feat.embed_params(k)) >= 0), None
            )
            dt = time.perf_counter() - t0
            out["embed"] += dt
            if attempt is None:
                out["embed_failures"] += 1
                out["failed"] += dt
                continue
            out["rescued"] += attempt > 0
            t0 = time.perf_counter()
            out["describe_failures"] += not feat._describe(m, row)
            out["describe"] += time.perf_counter() - t0
    return out


def bench_step_costs(smiles, lines):
    """CPU ms per molecule of every featurization step at the default 3D setting, one core.

    Process CPU time (not wall): on a shared machine it is what the step costs, whatever the
    load. The 3D descriptor families are timed one by one, to show what each earns its cost
    against (a cheaper 3D featurization needs a retrained model: the shipped one was trained
    on all 651 values).
    """
    from rdkit.Chem import MACCSkeys

    from chmr_sklearn._inputs import to_smiles
    from chmr_sklearn.featurize._conformer_descriptors import _SCALARS, _VECTORS
    from chmr_sklearn.featurize.graphs import mol_to_graph
    from chmr_sklearn.featurize.molecular import featurize_molecular

    def cpu_ms(func) -> float:
        start = time.process_time()
        func()
        return (time.process_time() - start) / len(smiles) * 1e3

    mols = [Chem.MolFromSmiles(s) for s in smiles]
    conf = ConformerFeaturizer()._descriptors()  # the per-molecule steps
    prepared = [conf._prepare(m) for m in mols]
    generator = FingerprintFeaturizer()._bits().generator()
    with rdBase.BlockLogs():
        steps = {
            "parse SMILES": cpu_ms(lambda: [Chem.MolFromSmiles(s) for s in smiles]),
            "canonical SMILES (cache key: parse + write)": cpu_ms(lambda: [to_smiles(s) for s in smiles]),
            "Morgan r2 1024": cpu_ms(lambda: [generator.GetFingerprintAsNumPy(m) for m in mols]),
            "MACCS 167": cpu_ms(lambda: [MACCSkeys.GenMACCSKeys(m) for m in mols]),
            "2D graph (mol_to_graph)": cpu_ms(lambda: [mol_to_graph(m) for m in mols]),
            "3D embedding (plain DG, heavy atoms)": cpu_ms(lambda: [conf._embed(m) for m in prepared]),
        }
        for name, width, func in _VECTORS:
            steps[f"3D descriptors: {name} ({width})"] = cpu_ms(lambda f=func: [f(m) for m in prepared])
        steps["3D descriptors: 11 shape scalars"] = cpu_ms(lambda: [[f(m) for _, f in _SCALARS] for m in prepared])
        whole = cpu_ms(lambda: featurize_molecular(smiles, n_jobs=1))
    lines += [f"## Where featurization spends its CPU ({len(smiles)} molecules, one core, process CPU time)", "",
              "| step | CPU ms per molecule |", "|---|---:|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in steps.items()]
    lines += [f"| **featurize_molecular (one parse, all three modalities)** | **{whole:.3f}** |", ""]
    print("\n".join(lines[-len(steps) - 5:]), flush=True)


def _machine_lines() -> list[str]:
    """The report's header lines: date, machine and load (the shared record), library versions."""
    m = machine_info()
    return [
        f"- date: {m['date']}",
        f"- machine: {describe_machine(m)}; load average at start {m['load_start']} (shared machine)",
        f"- {describe_versions(m)}, numpy {np.__version__}, joblib {joblib.__version__}",
    ]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small subsets (smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (best kept)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"markdown file to write (default: {RESULTS.name} in results/, "
                             "not written by --quick unless given)")
    args = parser.parse_args(argv)

    smiles = load_smiles()
    rng = np.random.default_rng(0)
    n_fp, n_conf, n_3d = (2000, 100, 100) if args.quick else (len(smiles), 1000, 300)
    repeats = args.repeats or (2 if args.quick else 3)
    subset = [smiles[i] for i in np.sort(rng.choice(len(smiles), n_conf, replace=False))]
    subset_3d = [smiles[i] for i in np.sort(rng.choice(len(smiles), n_3d, replace=False))]

    lines = ["# Featurizer benchmark", "", *_machine_lines(),
             f"- data: RDKit's `Pains/test_data/wehi_mols.csv` (10,000 real SMILES); "
             f"random subsets drawn with seed 0; wall times are the best of {repeats} "
             f"interleaved runs{'; --quick run' if args.quick else ''}", ""]
    t_start = time.perf_counter()
    rates = {"fingerprint": bench_fingerprints(smiles[:n_fp], repeats, lines)}
    print("\n".join(lines), flush=True)
    mark = len(lines)
    rates["graph"] = bench_graphs(smiles[:n_fp], repeats, lines)
    rates["conformer"] = bench_conformers(subset, max(1, repeats - 1), lines)
    ms = {k: 1e3 / v for k, v in rates.items()}
    total = sum(ms.values())
    lines += [
        "## What this implies for CHMR's embedding", "",
        "Per molecule, one core: " + ", ".join(f"{k} {v:.2f} ms" for k, v in ms.items())
        + f" = **{total:.2f} ms** → ~{1e3 / total:,.0f} mol/s per core, at most "
        f"~{2e3 / total:,.0f} mol/s on 2 cores before the GNN and worker start-up "
        "(target: ≥ 300 mol/s cold on 2 cores for the whole embedding).", "",
    ]
    print("\n".join(lines[mark:]), flush=True)
    bench_3d_settings(subset_3d, max(1, repeats - 1), lines)
    bench_step_costs(subset_3d, lines)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    lines.append(f"Total benchmark time: {time.perf_counter() - t_start:.0f} s; load average at the end "
                 f"{load}.")
    output = args.output or (None if args.quick else RESULTS)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("\n".join(lines) + "\n")
        print(f"\nwrote {output}")


if __name__ == "__main__":
    main()
