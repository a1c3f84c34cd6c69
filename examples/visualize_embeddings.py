"""Visualize CHMR embeddings: a 2-D map coloured by tree code and by label
=======================================================================

Pretraining organises molecules twice: the *anchor* (the sum of the 1D, 2D and 3D latents, 300
numbers) is a continuous space aligned with cell profiles, and the Tree-VQ codebook routes every
anchor down a binary tree of codes (2 codes at level 0, 4 at level 1, ... 64 at level 5).
:meth:`CHMRTransformer.tree_codes <chmr_sklearn.CHMRTransformer.tree_codes>` returns that path.

This example embeds BBBP molecules with the shipped encoder, projects the anchors to 2-D with
PCA (or t-SNE with ``--method tsne``), and draws the map twice: coloured by the level-1 tree code
(which of the 4 top branches a molecule took) and by the BBBP label (penetrates the
blood-brain barrier or not).

Run ``python examples/visualize_embeddings.py`` (1,000 molecules) or with ``--quick`` (120
molecules: seconds; the documentation shows the quick run). Writes ``embedding_map.png`` into
``--out`` (default ``examples/output``).
"""

# %%
# Settings
# --------
# The example is a plain script: its options come from the command line.
import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import silhouette_score

from chmr_sklearn import CHMRTransformer
from chmr_sklearn.datasets import load_bbbp

parser = argparse.ArgumentParser(description="A 2-D map of CHMR embeddings coloured by tree code and label.")
parser.add_argument("--quick", action="store_true", help="120 molecules (seconds)")
parser.add_argument("--out", type=Path, default=Path(sys.argv[0]).resolve().parent / "output",
                    help="folder for the figure (default: examples/output)")
parser.add_argument("--method", choices=["pca", "tsne"], default="pca", help="2-D projection")
parser.add_argument("--n-jobs", type=int, default=1, help="featurization worker processes")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
args.out.mkdir(parents=True, exist_ok=True)

# %%
# Embed the molecules and read their tree codes
# ---------------------------------------------
# ``output="anchor"`` gives the 300-d anchor. Embeddings and tree codes come from one
# computation: the transformer caches each molecule's embedding, so ``tree_codes`` after
# ``transform`` costs nothing extra. BBBP's file is grouped by compound series, so the subset
# is evenly spaced through it.
X, y = load_bbbp(return_X_y=True, as_frame=False, drop_invalid=True)
keep = np.linspace(0, len(X) - 1, num=120 if args.quick else 1000).astype(int)
X, y = X[keep], y[keep]

encoder = CHMRTransformer(output="anchor", n_jobs=args.n_jobs).fit(X)
anchor = encoder.transform(X)  # (n, 300)
codes = encoder.tree_codes(X)  # (n, 6), served from the embedding cache
level1 = codes[:, 1]
print(f"{len(X)} BBBP molecules -> anchors {anchor.shape}, tree codes {codes.shape}")
print("level-1 tree code sizes: " + ", ".join(f"{c}: {(level1 == c).sum()}" for c in np.unique(level1)))

# %%
# Project to two dimensions
# -------------------------
# The codes quantize the anchor space, so an informative tree puts them in regions of the map.
# The silhouette score measures that in the full 300-d space (1: tight separate groups, about
# 0: the codes cut across each other).
if args.method == "pca":
    pca = PCA(n_components=2, random_state=args.seed).fit(anchor)
    xy = pca.transform(anchor)
    axis = "PC"
    print(f"PCA: the 2 components explain {pca.explained_variance_ratio_.sum():.1%} of the anchor variance")
else:
    xy = TSNE(n_components=2, perplexity=min(30, len(X) // 4), random_state=args.seed).fit_transform(anchor)
    axis = "t-SNE "
if len(np.unique(level1)) > 1:
    # > 0: molecules are closer to others of their own code than to the other codes.
    print(f"silhouette of the level-1 codes in anchor space: {silhouette_score(anchor, level1):.3f}")

# %%
# The map
# -------
# Left: the level-1 tree code. Right: the BBBP label, a downstream property the encoder never
# saw.
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8))
for c in np.unique(level1):
    sel = level1 == c
    left.scatter(xy[sel, 0], xy[sel, 1], s=14, alpha=0.8, label=f"code {c} (n={sel.sum()})")
left.set_title("coloured by Tree-VQ code (level 1 of 6)")
left.legend(fontsize=8, markerscale=1.5)
for label, colour, name in [(0, "tab:red", "does not cross BBB"), (1, "tab:blue", "crosses BBB")]:
    sel = y == label
    right.scatter(xy[sel, 0], xy[sel, 1], s=14, alpha=0.6, c=colour, label=f"{name} (n={sel.sum()})")
right.set_title("coloured by BBBP label (never seen by the encoder)")
right.legend(fontsize=8, markerscale=1.5)
for ax in (left, right):
    ax.set_xlabel(f"{axis}1")
    ax.set_ylabel(f"{axis}2")
fig.suptitle(f"CHMR anchor embeddings of {len(X)} BBBP molecules ({args.method.upper()})")
fig.tight_layout()
fig.savefig(args.out / "embedding_map.png", dpi=110)
print(f"wrote {args.out / 'embedding_map.png'}")
