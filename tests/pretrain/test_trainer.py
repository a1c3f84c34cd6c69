"""Pretraining: loss goes down, switches switch, seeds reproduce, resume equals uninterrupted."""

import numpy as np
import pytest
import torch

from chmr_sklearn.pretrain import (
    PretrainConfig,
    PretrainCorpus,
    Pretrainer,
    load_checkpoint,
)
from chmr_sklearn.pretrain.trainer import LAST

# A narrower, shallower network than the default (300 wide, 5 GIN layers) keeps these tests quick.
FAST = {"batch_size": 64, "lr": 1e-3, "graph_min_threshold": 0.8, "latent_dim": 64, "gin_layers": 3}


@pytest.fixture(scope="module")
def corpus(pretrain_smiles, cmea_profiles):
    return PretrainCorpus.build(pretrain_smiles, cmea_profiles, PretrainConfig(**FAST))


def _weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_corpus_aligns_profiles_and_molecules(corpus, pretrain_smiles):
    assert len(corpus) == len(pretrain_smiles)
    for name, bio in corpus.bio.items():
        assert bio.observed.sum() == 100, name  # the first 100 CMEA compounds
        assert not bio.observed[162:].any()
        assert np.isfinite(bio.inputs).all() and np.isfinite(bio.augmented).all()
        assert bio.targets.min() >= 0 and bio.targets.max() <= 1
    assert corpus.graph is not None and corpus.graph.n_nodes == len(corpus) + 200


def test_short_pretraining_lowers_every_active_loss(corpus):
    trainer = Pretrainer(PretrainConfig(max_epochs=6, **FAST), verbose=0).fit(corpus)
    first, last = trainer.history_[0], trainer.history_[-1]
    assert last["loss"] < first["loss"]
    for key in ("cpr", "sca", "tree"):
        assert first[key] > 0, key
    assert not trainer.model_.training


def test_same_seed_same_model_other_seed_differs(corpus):
    a = Pretrainer(PretrainConfig(max_epochs=1, **FAST), verbose=0).fit(corpus)
    b = Pretrainer(PretrainConfig(max_epochs=1, **FAST), verbose=0).fit(corpus)
    c = Pretrainer(PretrainConfig(max_epochs=1, seed=1, **FAST), verbose=0).fit(corpus)
    wa, wb, wc = _weights(a.model_), _weights(b.model_), _weights(c.model_)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


@pytest.mark.parametrize("switch, zero", [
    ({"use_sca": False}, "sca"), ({"use_tree_vq": False}, "tree"), ({"use_cpr": False}, "cpr"),
])
def test_off_switches_zero_their_component(corpus, switch, zero):
    trainer = Pretrainer(PretrainConfig(max_epochs=1, **FAST, **switch), verbose=0).fit(corpus)
    record = trainer.history_[0]
    assert record[zero] == 0.0
    assert record["loss"] > 0
    if zero == "tree":
        assert trainer.model_.tree_vq is None
    if zero == "cpr":
        assert len(trainer.model_.decoders) == 0


def test_flat_tree_and_molecules_only(pretrain_smiles, corpus):
    flat = Pretrainer(PretrainConfig(max_epochs=1, tree="flat", **FAST), verbose=0).fit(corpus)
    assert flat.model_.tree_vq.n_levels == 1
    mol_only = PretrainCorpus.build(pretrain_smiles[:80], None, PretrainConfig(**FAST))
    assert mol_only.bio == {}
    trainer = Pretrainer(PretrainConfig(max_epochs=2, **FAST), verbose=0).fit(mol_only)
    assert trainer.history_[0]["sca"] == 0.0 and trainer.history_[0]["cpr"] > 0


@pytest.mark.parametrize("fill", ["zero", "mean"])
def test_fill_policies_change_missing_rows_only(pretrain_smiles, cmea_profiles, corpus, fill):
    other = PretrainCorpus.build(pretrain_smiles, cmea_profiles, PretrainConfig(fill=fill, **FAST))
    for name, bio in other.bio.items():
        ref = corpus.bio[name]
        np.testing.assert_array_equal(bio.inputs[bio.observed], ref.inputs[ref.observed])
        assert not np.allclose(bio.inputs[~bio.observed], ref.inputs[~ref.observed])
        if fill == "mean":  # standardized observed mean is 0
            np.testing.assert_allclose(bio.inputs[~bio.observed], 0.0, atol=1e-5)


def test_resume_after_interruption_equals_uninterrupted(corpus, tmp_path, monkeypatch):
    cfg = PretrainConfig(max_epochs=3, **FAST)
    reference = Pretrainer(cfg, verbose=0).fit(corpus)

    original = Pretrainer._epoch

    def crash_at_third(self, model, optimizer, scheduler, corpus_, epoch, device):
        if epoch == 2:
            raise KeyboardInterrupt
        return original(self, model, optimizer, scheduler, corpus_, epoch, device)

    monkeypatch.setattr(Pretrainer, "_epoch", crash_at_third)
    with pytest.raises(KeyboardInterrupt):
        Pretrainer(cfg, checkpoint_dir=tmp_path, verbose=0).fit(corpus)
    assert load_checkpoint(tmp_path / LAST)["train"]["epoch"] == 2
    monkeypatch.setattr(Pretrainer, "_epoch", original)
    resumed = Pretrainer(cfg, checkpoint_dir=tmp_path, verbose=0).fit(corpus)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
    ref, got = _weights(reference.model_), _weights(resumed.model_)
    for key in ref:
        torch.testing.assert_close(got[key], ref[key], rtol=0, atol=0, msg=key)


def test_resume_refuses_other_settings(corpus, tmp_path):
    Pretrainer(PretrainConfig(max_epochs=1, **FAST), checkpoint_dir=tmp_path, verbose=0).fit(corpus)
    with pytest.raises(ValueError, match="other settings"):
        Pretrainer(PretrainConfig(max_epochs=1, lambda_sca=1.0, **FAST), checkpoint_dir=tmp_path, verbose=0).fit(corpus)


def test_bad_profiles_give_clear_errors(pretrain_smiles, cmea_profiles):
    with pytest.raises(ValueError, match="dict"):
        PretrainCorpus.build(pretrain_smiles, [cmea_profiles["morphology"]], PretrainConfig())
    unrelated = cmea_profiles["morphology"].copy()
    unrelated["smiles"] = "CCCCCCCCCCCCCCCCCC(=O)O"
    with pytest.raises(ValueError, match="matches none"):
        PretrainCorpus.build(pretrain_smiles[170:], {"m": unrelated.iloc[:3]}, PretrainConfig())
    with pytest.raises(ValueError, match="molecule"):
        corpus = PretrainCorpus.build(pretrain_smiles, {"molecule": cmea_profiles["morphology"]}, PretrainConfig(**FAST))
        Pretrainer(PretrainConfig(max_epochs=1, **FAST), verbose=0).fit(corpus)
