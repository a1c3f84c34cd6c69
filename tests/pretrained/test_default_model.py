"""The shipped default model: intact, documented, label-free, and its curve went down."""

import hashlib
import json
import warnings

import torch

from chmr_sklearn.estimators.transformer import DEFAULT_MODEL
from chmr_sklearn.pretrain import load_checkpoint

MANIFEST = DEFAULT_MODEL.with_suffix(".json")


def test_manifest_matches_the_weights():
    manifest = json.loads(MANIFEST.read_text())
    assert manifest["sha256"] == hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()
    assert manifest["labels_used"] is False
    assert manifest["epochs"] == len(manifest["history"])
    # A seeded subsample of the ~84k structures that keeps every profiled molecule.
    assert manifest["n_molecules"] == manifest["limit"] >= 10_000
    assert set(manifest["data"]["profiles"]) == {"expression", "morphology", "expression_cmea"}
    observed = manifest["data"]["observed"]
    assert observed["expression"] > 1_000 and observed["morphology"] >= 162 and observed["expression_cmea"] >= 162


def test_pretraining_curve_decreased_and_checkpoint_is_encoder_only():
    history = json.loads(MANIFEST.read_text())["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    for component in ("cpr", "sca", "tree"):
        assert history[-1][component] < history[0][component], component
    ckpt = load_checkpoint(DEFAULT_MODEL)
    assert DEFAULT_MODEL.stat().st_size < 20e6
    assert not any(k.startswith("decoders.") for k in ckpt["model"])
    assert ckpt["spec"]["tree_depth"] == 6 and ckpt["spec"]["latent_dim"] == 300


def test_every_weight_and_batchnorm_statistic_is_finite():
    # The first shipped model's float16 export stored BatchNorm variances beyond 65504 as inf.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # load_checkpoint warns about non-finite tensors
        ckpt = load_checkpoint(DEFAULT_MODEL)
    for key, value in ckpt["model"].items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), key
