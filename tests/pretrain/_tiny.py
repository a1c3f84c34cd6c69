"""A tiny real pretraining corpus (36 molecules, 16 with Cell Painting rows) for quick robustness tests."""

import os
from pathlib import Path

import pandas as pd

from chmr_sklearn.datasets import load_wehi_molecules
from chmr_sklearn.pretrain import PretrainConfig, PretrainCorpus

META = ["broad_id", "pert_iname", "inchikey"]


def tiny_config(**overrides) -> PretrainConfig:
    base = {"latent_dim": 16, "gin_layers": 2, "batch_size": 12, "max_epochs": 1, "fp_bits": 256, "tree_depth": 3,
            "lr": 1e-3}
    return PretrainConfig(**{**base, **overrides})


def tiny_corpus(config: PretrainConfig, *, offset: int = 0) -> PretrainCorpus:
    """CMEA compounds ``offset .. offset + 24`` (the first 16 with morphology) and 12 WEHI molecules."""
    home = Path(os.environ["CHMR_DATA_HOME"])
    morph = pd.read_csv(home / "cell" / "derived_cmea_cellpainting_162.csv.gz")
    rows = morph.iloc[offset : offset + 24]
    smiles = list(rows["smiles"]) + list(load_wehi_molecules().frame["smiles"][offset + 7 :: 700][:12])
    return PretrainCorpus.build(smiles, {"morphology": rows.drop(columns=META).iloc[:16, :40]}, config)
