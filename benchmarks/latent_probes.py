"""What does pretraining do to each latent block? Linear probes, pretrained vs untrained twin.

Not a test: writes ``benchmarks/results/latent_probes.md`` (+ ``.json``).

For each candidate checkpoint and its untrained twin (same architecture, settings and conformer
scaler, weights freshly initialised: ``random_init_like``), embed the training and validation
rows of each regression benchmark (``output="latents"``) and fit a ridge regression (alpha by
efficient leave-one-out on the training rows, ``RidgeCV``) on each latent block (``z1d``, ``z2d``,
``z3d``) and on all of them; report validation MAE. The test rows are never embedded. A block
whose MAE rises after pretraining has lost linearly decodable information about the property.

Usage::

    CHMR_DATA_HOME=../shared/data python benchmarks/latent_probes.py \\
        --candidate shipped=chmr_sklearn/pretrained/default.pt --candidate lean=runs/lean_default/default.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from sklearn.linear_model import RidgeCV  # noqa: E402
from sklearn.metrics import mean_absolute_error  # noqa: E402

from chmr_sklearn import CHMRTransformer  # noqa: E402
from chmr_sklearn.benchmark._data import load_split  # noqa: E402
from chmr_sklearn.benchmark._machine import load_average, machine_info  # noqa: E402
from chmr_sklearn.benchmark._selection import parse_candidates, random_init_like  # noqa: E402
from chmr_sklearn.estimators.transformer import DEFAULT_MODEL  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ALPHAS = np.logspace(-3, 3, 13)


def block_maes(path: Path, smiles: np.ndarray, y: np.ndarray, split) -> dict[str, float]:
    """Validation MAE of ridge on each latent block of ``path``'s encoder, and on all of them."""
    tr, va, _ = split
    t = CHMRTransformer(pretrained=str(path), output="latents", n_jobs=1).fit(smiles[:1])
    Z = t.transform(list(smiles[np.r_[tr, va]]))
    Ztr, Zva = Z[: len(tr)], Z[len(tr):]
    modalities = t.model_.molecular_modalities
    width = Z.shape[1] // len(modalities)
    blocks = {f"z{m}": slice(width * b, width * (b + 1)) for b, m in enumerate(modalities)}
    blocks["all"] = slice(None)
    out = {}
    for name, cols in blocks.items():
        ridge = RidgeCV(alphas=ALPHAS).fit(Ztr[:, cols], y[tr])
        out[name] = float(mean_absolute_error(y[va], ridge.predict(Zva[:, cols])))
    return out


def render(res: dict, meta: dict) -> str:
    """The markdown report: one table per dataset, a row per encoder."""
    lines = ["# Linear probes of each latent block: pretrained vs untrained", "",
             f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores; load average at start "
             f"{meta['load_start']}, at end {meta['load_end']}. Command: `{meta['command']}`", "",
             "Ridge (alpha by leave-one-out on the training rows) on the frozen latents, validation MAE "
             "(lower is better); benchmark scaffold splits, test rows never embedded. `untrained` = the "
             "candidate's architecture, settings and conformer scaler with freshly initialised weights.", ""]
    for ds, rows in res.items():
        blocks = list(next(iter(rows.values())))
        lines += [f"## {ds}", "", "| encoder | " + " | ".join(blocks) + " |", "|---|" + "---:|" * len(blocks)]
        lines += [f"| {enc} | " + " | ".join(f"{row.get(b, float('nan')):.3f}" for b in blocks) + " |"
                  for enc, row in rows.items()]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", action="append", metavar="NAME=PATH",
                        help="a checkpoint (repeat; default: the shipped model)")
    parser.add_argument("--datasets", nargs="+", default=["esol", "lipophilicity", "freesolv"])
    parser.add_argument("--out", default=str(RESULTS / "latent_probes.md"))
    args = parser.parse_args()
    candidates = parse_candidates(args.candidate or [f"shipped={DEFAULT_MODEL}"])
    meta = {"machine": machine_info(), "load_start": load_average(),
            "command": "python benchmarks/latent_probes.py " + " ".join(sys.argv[1:])}
    res: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        encoders = {}
        for name, path in candidates.items():
            encoders[name] = path
            encoders[f"{name} untrained"] = random_init_like(path, Path(tmp) / f"{name}_untrained.pt")
        for ds in args.datasets:
            data = load_split(ds)
            res[ds] = {}
            for name, path in encoders.items():
                res[ds][name] = block_maes(path, data.smiles, data.Y[:, 0], data.split)
                print(ds, name, {k: round(v, 3) for k, v in res[ds][name].items()}, flush=True)
    meta["load_end"] = load_average()
    text = render(res, meta)
    print(text)
    Path(args.out).write_text(text + "\n")
    Path(args.out).with_suffix(".json").write_text(json.dumps({"meta": meta, "results": res}, indent=1) + "\n")


if __name__ == "__main__":
    main()
