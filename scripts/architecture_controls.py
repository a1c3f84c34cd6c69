"""Untrained encoders of four architectures (3D modality or not x GIN width 300 or 128).

They feed ``benchmarks/results/model_selection_architectures.md``: held against each other on the
validation splits, untrained, they show what each architecture choice costs before pretraining::

    python scripts/architecture_controls.py            # writes runs/arch/init_*.pt
    CHMR_DATA_HOME=../shared/data python benchmarks/model_selection.py \\
        --candidate init_gin300_3d=runs/arch/init_gin300_3d.pt --candidate init_gin300_no3d=runs/arch/init_gin300_no3d.pt \\
        --candidate init_gin128_3d=runs/arch/init_gin128_3d.pt --candidate init_gin128_no3d=runs/arch/init_gin128_no3d.pt \\
        --cache-dir runs/arch/cache --out benchmarks/results/model_selection_architectures.md

Each is the shipped model's settings and conformer scaler with the GIN width (and, without 3D,
``conformer_method="none"``, no 3D projector and an empty scaler) changed; weights from a local
generator seeded 0, as :func:`chmr_sklearn.benchmark._selection.random_init_like` draws them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chmr_sklearn.estimators.transformer import DEFAULT_MODEL  # noqa: E402
from chmr_sklearn.featurize.molecular import ConformerScaler  # noqa: E402
from chmr_sklearn.pretrain.checkpoint import build_model, encoder_spec, load_checkpoint, save_checkpoint  # noqa: E402

OUT = ROOT / "runs" / "arch"


def control(name: str, gin_dim: int, with_3d: bool) -> Path:
    """The shipped architecture with GIN width ``gin_dim`` (and the 3D modality or not), untrained."""
    shipped = load_checkpoint(DEFAULT_MODEL)
    spec = encoder_spec(shipped["spec"])
    spec["gin"] = dict(spec["gin"], emb_dim=gin_dim)
    config, scaler = shipped.config, shipped["scaler"]
    config.gin_dim = gin_dim
    if not with_3d:
        spec["conf_dim"] = 0
        config.conformer_method = "none"
        scaler = ConformerScaler(np.zeros(0, np.float32), np.ones(0, np.float32))
    model = build_model(spec, generator=torch.Generator().manual_seed(0))
    return save_checkpoint(OUT / f"{name}.pt", config=config, spec=spec, model_state=model.encoder_state_dict(),
                           scaler=scaler, meta={"note": "untrained architecture control", "seed": 0})


def main() -> None:
    for gin_dim in (300, 128):
        for with_3d in (True, False):
            path = control(f"init_gin{gin_dim}_{'3d' if with_3d else 'no3d'}", gin_dim, with_3d)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
