"""Interpret tree codes: which molecules share a path, and do they share anything else?
====================================================================================

:meth:`CHMRTransformer.tree_codes <chmr_sklearn.CHMRTransformer.tree_codes>` gives every molecule a path through a 6-level binary tree of
codes learnt in pretraining (column *h* is the code at level *h*; it determines the whole path
above it). A path is a cluster of molecules the encoder considers alike. This example asks what
such a cluster has in common, using only RDKit and the labels:

* **structure**: how many distinct Murcko scaffolds (RDKit ``MurckoScaffold``) a path holds, and
  how often two molecules of one path share a scaffold, against two random molecules;
* **property**: how often two molecules of one path have the same BBBP label, against random
  pairs (the encoder never saw the labels).

It prints a table of the largest paths and draws the molecules of the largest one with
``rdkit.Chem.Draw`` (legend: BBBP label and scaffold).

Run ``python examples/interpret_tree_codes.py`` (1,000 BBBP molecules) or with ``--quick`` (120
molecules: seconds; the documentation shows the quick run). Writes ``tree_paths.csv`` and ``tree_path_molecules.png``.
"""

# %%
# Settings
# --------
# The example is a plain script: its options come from the command line.
import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem, RDLogger
from rdkit.Chem import Draw
from rdkit.Chem.Scaffolds import MurckoScaffold

from chmr_sklearn import CHMRTransformer
from chmr_sklearn.datasets import load_bbbp

parser = argparse.ArgumentParser(description="Which molecules share a CHMR tree-code path, and what else they share.")
parser.add_argument("--quick", action="store_true", help="120 molecules (seconds)")
parser.add_argument("--out", type=Path, default=Path(sys.argv[0]).resolve().parent / "output",
                    help="folder for the table and the picture (default: examples/output)")
parser.add_argument("--level", type=int, default=3, help="tree level whose codes define the paths (0-5)")
parser.add_argument("--n-jobs", type=int, default=1, help="featurization worker processes")
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# Tree codes and scaffolds
# ------------------------
# The code at level ``--level`` fixes the whole path from the root, so it names the path.
X, y = load_bbbp(return_X_y=True, as_frame=False, drop_invalid=True)
keep = np.linspace(0, len(X) - 1, num=120 if args.quick else 1000).astype(int)
X, y = X[keep], y[keep].astype(int)
codes = CHMRTransformer(output="anchor", n_jobs=args.n_jobs).fit(X).tree_codes(X)
path = codes[:, args.level]
RDLogger.DisableLog("rdApp.warning")  # salts' lone H atoms make MurckoScaffold chatty
scaffolds = np.array([MurckoScaffold.MurckoScaffoldSmiles(smiles=s) or "(acyclic)" for s in X], dtype=object)

# %%
# The largest paths
# -----------------
frame = pd.DataFrame({"smiles": X, "label": y, "scaffold": scaffolds, "path": path,
                      "path_str": ["-".join(map(str, row[: args.level + 1])) for row in codes]})
summary = (frame.groupby("path_str")
           .agg(molecules=("smiles", "size"), scaffolds=("scaffold", "nunique"),
                top_scaffold=("scaffold", lambda s: s.value_counts().index[0]),
                top_scaffold_count=("scaffold", lambda s: s.value_counts().iloc[0]),
                positive_share=("label", "mean"))
           .sort_values("molecules", ascending=False))
print(f"{len(X)} BBBP molecules fall into {len(summary)} of the {2 ** (args.level + 1)} paths "
      f"of level {args.level}")
print(summary.head(8).to_string(float_format="{:.2f}".format))
summary.to_csv(args.out / "tree_paths.csv")


# %%
# Agreement within a path against random pairs
# --------------------------------------------
# A path groups molecules the encoder considers alike; if that likeness means anything, two
# molecules of one path share a scaffold (or a label) more often than two random molecules.
def pair_agreement(values: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Share of same-value pairs within groups, and among all pairs (the random baseline)."""
    same = np.equal.outer(values, values)
    upper = np.triu(np.ones_like(same, dtype=bool), k=1)
    within = upper & np.equal.outer(groups, groups)
    return float(same[within].mean()), float(same[upper].mean())


scaffold_within, scaffold_all = pair_agreement(scaffolds, path)
label_within, label_all = pair_agreement(y, path)
print(f"pairs sharing a Murcko scaffold: {scaffold_within:.3f} within a path vs {scaffold_all:.3f} overall")
print(f"pairs with the same BBBP label: {label_within:.3f} within a path vs {label_all:.3f} overall")

# %%
# The molecules of the largest path
# ---------------------------------
# Legend: BBBP label and Murcko scaffold.
top = frame[frame.path_str == summary.index[0]].head(12)
image = Draw.MolsToGridImage(
    [Chem.MolFromSmiles(s) for s in top.smiles], molsPerRow=4, subImgSize=(260, 220),
    legends=[f"BBBP={label}  {scaffold[:28]}" for label, scaffold in zip(top.label, top.scaffold)],
)
image.save(args.out / "tree_path_molecules.png")
print(f"wrote {args.out / 'tree_paths.csv'} and {args.out / 'tree_path_molecules.png'} "
      f"({len(top)} molecules of path {summary.index[0]})")
