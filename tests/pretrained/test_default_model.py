"""The shipped default model: intact, documented, label-free, and its curve went down."""

import hashlib
import json

from chmr_sklearn.estimators.transformer import DEFAULT_MODEL
from chmr_sklearn.pretrain import load_checkpoint

MANIFEST = DEFAULT_MODEL.with_suffix(".json")


def test_manifest_matches_the_weights():
    manifest = json.loads(MANIFEST.read_text())
    assert manifest["sha256"] == hashlib.sha256(DEFAULT_MODEL.read_bytes()).hexdigest()
    assert manifest["labels_used"] is False
    assert manifest["n_molecules"] > 50_000 and manifest["epochs"] == len(manifest["history"])
    assert set(manifest["data"]["profiles"]) == {"expression", "morphology", "expression_cmea"}


def test_pretraining_curve_decreased_and_checkpoint_is_encoder_only():
    history = json.loads(MANIFEST.read_text())["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    for component in ("cpr", "sca", "tree"):
        assert history[-1][component] < history[0][component], component
    ckpt = load_checkpoint(DEFAULT_MODEL)
    assert DEFAULT_MODEL.stat().st_size < 20e6
    assert not any(k.startswith("decoders.") for k in ckpt["model"])
    assert ckpt["spec"]["tree_depth"] == 6 and ckpt["spec"]["latent_dim"] == 300
