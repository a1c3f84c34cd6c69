"""Regenerate the golden embeddings and tree codes that ``tests/test_golden.py`` pins.

Run this only when a change to the numbers is *intended* (new shipped model, featurization
or encoder change), then review the diff it prints and commit ``tests/data/golden_embeddings.rdkit-<version>.npz``
with the change that explains it. The 3D block depends on RDKit's conformer generator, which
changes between RDKit releases, so the file is kept per RDKit version
(``golden_embeddings.rdkit-<version>.npz``); run this once under each RDKit version you support::

    python scripts/regenerate_golden.py            # writes the file, prints how far it moved

The molecules are 20 real, varied SMILES shipped with RDKit (every 500th of
``Pains/test_data/wehi_mols.csv``) plus paracetamol and a charged salt; the embeddings come
from the shipped model at ``precision="float64"`` (bit-exact, batch-independent).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import rdkit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chmr_sklearn import CHMRTransformer  # noqa: E402
from chmr_sklearn.datasets import load_wehi_molecules  # noqa: E402

DATA = ROOT / "tests" / "data"


def golden_path(version: str = rdkit.__version__) -> Path:
    """The golden file for one RDKit version."""
    return DATA / f"golden_embeddings.rdkit-{version}.npz"


def golden_smiles() -> list[str]:
    """The pinned molecules (real, varied: rings, charges, halogens, a salt)."""
    wehi = load_wehi_molecules().data.tolist()
    return wehi[::500][:20] + ["CC(=O)Nc1ccc(O)cc1", "C[N+](C)(C)CCO.[Cl-]"]


def compute(smiles: list[str]) -> dict[str, np.ndarray]:
    t = CHMRTransformer(precision="float64", n_jobs=1, cache=False).fit(smiles)
    return {"smiles": np.asarray(smiles), "embedding": t.transform(smiles), "tree_codes": t.tree_codes(smiles)}


def main() -> None:
    new = compute(golden_smiles())
    golden = golden_path()
    for old_path in sorted(DATA.glob("golden_embeddings.rdkit-*.npz")):
        old = np.load(old_path)
        if old["embedding"].shape == new["embedding"].shape:
            moved = np.abs(old["embedding"] - new["embedding"]).max(axis=0)
            blocks = ", ".join(f"{name} {moved[cols].max():.3g}" for name, cols in
                               (("fp", slice(0, 1191)), ("z1d", slice(1191, 1491)),
                                ("z2d", slice(1491, 1791)), ("z3d", slice(1791, 2091))))
            codes = (old["tree_codes"] != new["tree_codes"]).any(axis=1).sum()
            print(f"vs {old_path.name}: largest change {blocks}; {codes} molecule(s) changed tree codes")
    DATA.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(golden, **new)
    print(f"wrote {golden.relative_to(ROOT)} ({golden.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
