"""Issue-12 recipe options of PretrainConfig, each on real molecules: batch top-up, kNN edges to
profiled molecules, confidence-weighted SCA on propagated rows, warm-up + cosine schedule."""

import json

import numpy as np
import pytest
import torch
from _tiny import tiny_config, tiny_corpus

from chmr_sklearn.featurize import FingerprintFeaturizer
from chmr_sklearn.pretrain import (
    RECIPES,
    PretrainConfig,
    Pretrainer,
    build_model,
    load_checkpoint,
)
from chmr_sklearn.pretrain.trainer import LAST, _batches, _lr_factor, _top_up
from chmr_sklearn.profiles import ContextGraph

NEW = {"profiled_per_batch": 6, "graph_mol_knn": 3, "sca_propagated": True, "lr_schedule": "warmup_cosine",
       "warmup_epochs": 1.0, "lr_floor": 0.1}


@pytest.fixture(scope="module")
def corpus():
    return tiny_corpus(tiny_config())


def test_top_up_puts_enough_profiled_molecules_in_every_batch(corpus):
    profiled = {n: b.rows_mol for n, b in corpus.bio.items()}
    rng = np.random.default_rng(0)
    plain = _batches(rng.permutation(len(corpus)), 8)
    assert min(np.isin(b, profiled["morphology"]).sum() for b in plain) < 6  # the problem: too few
    topped = _top_up(plain, profiled, 6, np.random.default_rng(1))
    for before, after in zip(plain, topped):
        assert np.isin(after, profiled["morphology"]).sum() >= 6
        assert len(set(after.tolist())) == len(after)  # no molecule twice (its own negative)
        np.testing.assert_array_equal(after[: len(before)], before)  # the epoch's pass is kept
    assert len(topped) == len(plain)


def test_profiled_knn_edges_let_walks_reach_profiles(data_home, wehi_smiles, cmea_profiles, pretrain_smiles):
    smiles = pretrain_smiles[:100] + wehi_smiles[:1500]
    fps = FingerprintFeaturizer(maccs=False).transform(smiles) > 0
    profile = {"morphology": (cmea_profiles["morphology"].drop(columns=["smiles"]).to_numpy(), np.arange(100))}

    def reach(graph):
        start = np.arange(100, len(smiles))  # molecules without a profile
        nodes, _ = graph.random_walks(start, length=4, rng=np.random.default_rng(0))
        return float((nodes >= graph.n_mol).any(axis=1).mean())

    floor_only = ContextGraph.build(fps, profile)
    knn = ContextGraph.build(fps, profile, profiled_knn=3)
    assert reach(floor_only) < 0.1
    assert reach(knn) > 0.5
    # Every unprofiled molecule sharing a bit with a profiled one gets 3 edges to profile nodes.
    to_profiles = [(knn.neighbors(u)[0] >= knn.n_mol).sum() for u in range(100, 200)]
    assert min(to_profiles) >= 3
    assert knn.edge_counts["molecule-morphology"] >= floor_only.edge_counts["molecule-morphology"] + 3 * 1000


def test_propagated_sca_weights_rows_by_confidence(corpus):
    bio = corpus.bio["morphology"]
    assert np.all(bio.confidence[bio.observed] == 1) and np.all((bio.confidence >= 0) & (bio.confidence <= 1))
    idx = np.arange(len(corpus))
    device = torch.device("cpu")
    off = Pretrainer(tiny_config(use_cpr=False, use_tree_vq=False), verbose=0)
    on = Pretrainer(tiny_config(use_cpr=False, use_tree_vq=False, sca_propagated=True), verbose=0)
    model = build_model(off._spec(corpus), generator=torch.Generator().manual_seed(0)).eval()

    def sca(trainer):
        return float(trainer.batch_losses(model, corpus, idx, np.random.default_rng(0), device)["sca"].detach())

    plain = sca(off)
    assert sca(on) != pytest.approx(plain)
    # With zero confidence off the measured rows, propagated SCA is plain SCA.
    saved = bio.confidence.copy()
    bio.confidence[~bio.observed] = 0.0
    try:
        assert sca(on) == pytest.approx(plain, rel=1e-6)
    finally:
        bio.confidence[:] = saved


def test_warmup_cosine_schedule():
    cfg = PretrainConfig(lr_schedule="warmup_cosine", warmup_epochs=2, lr_floor=0.1, max_epochs=10)
    f = _lr_factor(cfg, n_steps=100, steps_per_epoch=10)
    assert f(0) == pytest.approx(0.05) and f(19) == pytest.approx(1.0)
    assert f(20) == pytest.approx(1.0) and f(100) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(20, 100))
    official = _lr_factor(PretrainConfig(), n_steps=100, steps_per_epoch=10)
    assert official(0) == 1.0 and official(100) == pytest.approx(np.cos(np.pi * 7 / 16))
    with pytest.raises(ValueError, match="lr_schedule"):
        PretrainConfig(lr_schedule="step")
    with pytest.raises(ValueError, match="fill='propagate'"):
        PretrainConfig(sca_propagated=True, fill="mean")


def test_new_recipe_trains_and_old_checkpoints_still_resume(tmp_path):
    cfg = tiny_config(max_epochs=2, **NEW)
    corpus = tiny_corpus(cfg)
    trainer = Pretrainer(cfg, verbose=0).fit(corpus)
    assert np.isfinite([h["loss"] for h in trainer.history_]).all()
    assert trainer.history_[-1]["lr"] == pytest.approx(cfg.lr * cfg.lr_floor)
    # The shipped model's settings are the recipe its manifest names (a manifest written before
    # recipes had names is the old one, whose options read as their defaults).
    from chmr_sklearn.estimators.transformer import DEFAULT_MODEL

    shipped = load_checkpoint(DEFAULT_MODEL).config
    recipe = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text()).get("recipe", "old")
    for key, value in RECIPES[recipe].items():
        assert getattr(shipped, key) == value, key
    if recipe == "old":
        assert (shipped.profiled_per_batch, shipped.graph_mol_knn, shipped.sca_propagated,
                shipped.lr_schedule) == (0, 0, False, "official")
    # A checkpoint written before the options existed (no such keys) still resumes.
    old = tiny_config(max_epochs=1)
    old_corpus = tiny_corpus(old)
    Pretrainer(old, checkpoint_dir=tmp_path, verbose=0).fit(old_corpus)
    raw = torch.load(tmp_path / LAST, weights_only=True)
    config = json.loads(raw["config"])
    for key in NEW:
        del config[key]
    raw["config"] = json.dumps(config)
    torch.save(raw, tmp_path / LAST)
    resumed = Pretrainer(old, checkpoint_dir=tmp_path, verbose=0).fit(old_corpus)
    assert [h["epoch"] for h in resumed.history_] == [1]


def _distance_from_start(trainer: Pretrainer, config: PretrainConfig) -> float:
    start = dict(build_model(trainer.spec_, generator=torch.Generator().manual_seed(config.seed)).molecular_parameters())
    return sum(float((p.detach() - start[k].detach()).pow(2).sum()) for k, p in trainer.model_.molecular_parameters())


def test_l2_sp_keeps_the_molecular_encoder_near_its_start_and_logs_the_drift(tmp_path):
    free_cfg, held_cfg = tiny_config(max_epochs=3), tiny_config(max_epochs=3, l2_sp=1000.0)
    corpus = tiny_corpus(free_cfg)
    free = Pretrainer(free_cfg, verbose=0).fit(corpus)
    held = Pretrainer(held_cfg, verbose=0).fit(corpus)
    assert "drift" not in free.history_[0]  # off: the history reads as before the option existed
    assert _distance_from_start(held, held_cfg) < 0.5 * _distance_from_start(free, free_cfg)
    # The logged drift (squared distance, averaged over the epoch's steps) is part of the loss.
    assert held.history_[-1]["drift"] > 0
    last = held.history_[-1]
    assert last["loss"] == pytest.approx(last["cpr"] + held_cfg.lambda_sca * last["sca"]
                                         + held_cfg.lambda_tree * last["tree"] + held_cfg.l2_sp * last["drift"], rel=1e-5)
    # The anchor is the seeded start, not the resumed weights: a run interrupted after epoch 2
    # and resumed ends exactly where the uninterrupted one did.
    original = Pretrainer._epoch

    def crash_at_third(self, *args):
        if args[-2] == 2:
            raise KeyboardInterrupt
        return original(self, *args)

    resume_dir = tmp_path / "resume"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Pretrainer, "_epoch", crash_at_third)
        with pytest.raises(KeyboardInterrupt):
            Pretrainer(held_cfg, checkpoint_dir=resume_dir, verbose=0).fit(corpus)
    resumed = Pretrainer(held_cfg, checkpoint_dir=resume_dir, verbose=0).fit(corpus)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
    for (key, got), (_, ref) in zip(resumed.model_.molecular_parameters(), held.model_.molecular_parameters()):
        torch.testing.assert_close(got, ref, rtol=0, atol=0, msg=key)
    with pytest.raises(ValueError, match="l2_sp"):
        PretrainConfig(l2_sp=-1.0)


def _profile_fit_r2(trainer: Pretrainer, corpus) -> float:
    """R^2 of the trained linear predictor on the measured morphology rows it learnt from."""
    bio = corpus.bio["morphology"]
    rows = bio.rows_mol
    with torch.no_grad():
        z = trainer.model_.anchor(trainer.model_.encode(**corpus.mol.torch_batch(rows, torch.device("cpu"))))
        pred = trainer.model_.predict_profile("morphology", z).numpy()
    target = bio.inputs[rows]
    return 1.0 - float(((pred - target) ** 2).sum() / ((target - target.mean(0)) ** 2).sum())


def test_profile_prediction_trains_a_linear_predictor_from_the_anchor_that_is_never_exported(tmp_path):
    off_cfg = tiny_config(max_epochs=2)
    on_cfg = tiny_config(max_epochs=15, lr=1e-2, lambda_profile=10.0)
    corpus = tiny_corpus(on_cfg)
    off = Pretrainer(off_cfg, verbose=0).fit(corpus)
    on = Pretrainer(on_cfg, verbose=0).fit(corpus)
    assert "profile" not in off.history_[0] and not list(off.model_.predictors)  # off: as before the option
    assert off.spec_["predict_dims"] is None
    # Without the option the exported spec is exactly what encoders exported before it existed.
    assert set(load_checkpoint(off.export(tmp_path / "off.pt"))["spec"]) == set(off.spec_) - {"predict_dims"}
    assert on.spec_["predict_dims"] == {"morphology": corpus.bio["morphology"].dim}
    first, last = on.history_[0], on.history_[-1]
    assert last["loss"] == pytest.approx(last["cpr"] + on_cfg.lambda_sca * last["sca"] + on_cfg.lambda_tree
                                         * last["tree"] + on_cfg.lambda_profile * last["profile"], rel=1e-5)
    # The 16 measured profiles are learnt: the squared error falls and the predictor explains them.
    assert last["profile"] < 0.5 * first["profile"]
    assert _profile_fit_r2(on, corpus) > 0.3
    # The predictor is training-only: the exported encoder has neither its weights nor its shape.
    ckpt = load_checkpoint(on.export(tmp_path / "enc.pt"))
    assert "predict_dims" not in ckpt["spec"]
    assert not any(k.startswith("predictors.") for k in ckpt["model"])
    encoder = build_model(ckpt["spec"])
    encoder.load_encoder_state_dict(ckpt["model"])
    with pytest.raises(KeyError, match="no profile predictor"):
        encoder.predict_profile("morphology", torch.zeros(1, 16))
    with pytest.raises(ValueError, match="lambda_profile"):
        PretrainConfig(lambda_profile=-1.0)
