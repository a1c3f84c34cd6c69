"""n_heads: a seed ensemble of heads on one embedding, on real BBBP molecules.

Each head must be trained as a single-head fit with its own seed is; with rf_residual="auto" the
regressor's heads keep what their own validation split prefers, the classifier's keep the forest
unless every head prefers the plain one. The estimator averages them (probabilities for the
classifier, predictions in the target's units for the regressor).
Fingerprints instead of CHMR embeddings keep the fits fast; the heads see numbers either way.
"""

import pickle

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors

from chmr_sklearn import CHMRClassifier, CHMRRegressor
from chmr_sklearn.estimators._head import _head_seed
from chmr_sklearn.featurize import FingerprintFeaturizer

HEAD = {"hidden": 32, "batch_size": 64, "max_epochs": 6, "rf_n_estimators": 20, "random_state": 0}


@pytest.fixture(scope="module")
def data(bbbp):
    """Fingerprints of 300 BBBP molecules, their SMILES, penetration labels and RDKit logP."""
    X, y = bbbp
    logp = np.array([Descriptors.MolLogP(Chem.MolFromSmiles(s)) for s in X])
    return FingerprintFeaturizer().fit_transform(list(X)), list(X), y.to_numpy(), logp


def _weights(net) -> dict:
    return {k: v.clone() for k, v in net.module_.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_first_head_is_the_single_head_fit(data):
    """Trained alike; only which variant it keeps is the ensemble's (classifier: a joint choice)."""
    F, _, y, _ = data
    three = CHMRClassifier("passthrough", n_heads=3, **HEAD).fit(F, y)
    one = CHMRClassifier("passthrough", n_heads=1, **dict(HEAD, rf_residual=three.rf_residual_)).fit(F, y)
    assert len(one.heads_) == 1 and len(three.heads_) == 3
    assert _same(_weights(three.heads_[0].net), _weights(one.net_))
    assert one.rf_residual_scores_ == {three.rf_residual_: three.rf_residual_scores_[three.rf_residual_]}
    assert not _same(_weights(three.heads_[1].net), _weights(three.heads_[2].net))


def test_classifier_averages_the_probabilities_of_single_head_fits(data):
    """Head i of a fit with random_state=0 is the single-head fit with head i's seed and variant."""
    F, _, y, _ = data
    ensemble = CHMRClassifier("passthrough", n_heads=3, **HEAD).fit(F, y)
    singles = [CHMRClassifier("passthrough", n_heads=1, **dict(HEAD, random_state=_head_seed(0, i),
                                                                rf_residual=head.rf_residual)).fit(F, y)
               for i, head in enumerate(ensemble.heads_)]
    probas = np.stack([s.predict_proba(F) for s in singles])
    assert np.abs(probas[0] - probas[1]).max() > 0.01  # the heads differ, so the mean is a real average
    np.testing.assert_allclose(ensemble.predict_proba(F), probas.mean(axis=0), atol=1e-6)
    logits = ensemble.decision_function(F)
    np.testing.assert_array_equal(ensemble.predict(F), ensemble.classes_[(logits >= 0).astype(int)])


def _preferences(est, lower: bool) -> list[bool]:
    """Whether each head's own validation score favoured the forest."""
    return [bool(h.scores[True] < h.scores[False] if lower else h.scores[True] > h.scores[False])
            for h in est.heads_]


@pytest.mark.parametrize("seed, preferred, kept", [(0, [True, False], True), (1, [False, False], False)])
def test_classifier_drops_the_forest_only_when_every_head_prefers_the_plain_one(data, seed, preferred, kept):
    F, _, y, _ = data
    clf = CHMRClassifier("passthrough", n_heads=2, **dict(HEAD, random_state=seed)).fit(F, y)
    assert _preferences(clf, lower=False) == preferred  # the heads' own splits (what "auto" weighs)
    assert [h.rf_residual for h in clf.heads_] == [kept, kept]
    assert all((h.rf is not None) is kept for h in clf.heads_)
    forced = CHMRClassifier("passthrough", n_heads=2, **dict(HEAD, random_state=seed, rf_residual=kept)).fit(F, y)
    np.testing.assert_array_equal(clf.predict_proba(F), forced.predict_proba(F))


def test_regressor_heads_choose_on_their_own_splits(data):
    """A regression target where the forest hurts keeps the plain head there, so no joint choice."""
    F, _, y, _ = data
    reg = CHMRRegressor("passthrough", n_heads=2, rf_residual="auto", **dict(HEAD, random_state=0))
    reg.fit(F, y.astype(float))
    assert _preferences(reg, lower=True) == [False, True]
    assert [h.rf_residual for h in reg.heads_] == [False, True]
    assert reg.heads_[0].rf is None and reg.heads_[1].rf is not None


def test_regressor_averages_the_heads_predictions(data):
    F, _, _, logp = data
    reg = CHMRRegressor("passthrough", n_heads=2, rf_residual="auto", **HEAD).fit(F, logp)
    one = CHMRRegressor("passthrough", n_heads=1, rf_residual="auto", **HEAD).fit(F, logp)
    per_head = []
    for head in reg.heads_:
        inputs = F if head.rf is None else {"x": F, "offset": (head.rf.offset(F) - reg.y_mean_) / reg.y_scale_}
        scaled = head.net.forward(inputs, training=False).detach().numpy()[:, 0]
        per_head.append(scaled * reg.y_scale_[0] + reg.y_mean_[0])
    np.testing.assert_allclose(reg.predict(F), np.mean(per_head, axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(per_head[0], one.predict(F), rtol=1e-5, atol=1e-5)  # same first head
    assert np.abs(per_head[0] - per_head[1]).max() > 0.01


def test_each_head_holds_out_its_own_rows(data):
    """From SMILES each head draws its own scaffold-grouped internal validation split."""
    _, smiles, y, _ = data
    clf = CHMRClassifier(FingerprintFeaturizer(), n_heads=2, **HEAD).fit(smiles, y)
    held = [head.net.train_split.keywords["valid_ds"].X for head in clf.heads_]
    held = [X["x"] if isinstance(X, dict) else X for X in held]  # {"x", "offset"} for a head on the forest
    assert held[0].shape[1] == held[1].shape[1]
    assert {r.tobytes() for r in held[0]} != {r.tobytes() for r in held[1]}


def test_warm_start_continues_every_head(data):
    F, _, y, _ = data
    clf = CHMRClassifier("passthrough", n_heads=2, warm_start=True, **dict(HEAD, patience=None, max_epochs=2)).fit(F, y)
    nets = [h.net for h in clf.heads_]
    clf.fit(F, y)
    assert [h.net for h in clf.heads_] == nets  # the same nets, trained further
    assert [len(h.net.history) for h in clf.heads_] == [4, 4]
    clf.set_params(n_heads=3).fit(F, y)  # another ensemble size starts afresh
    assert [len(h.net.history) for h in clf.heads_] == [2, 2, 2]


def test_pickled_ensemble_predicts_the_same(data):
    F, _, y, _ = data
    clf = CHMRClassifier("passthrough", n_heads=2, **HEAD).fit(F, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(F), clf.predict_proba(F))


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_n_heads_must_be_a_positive_int(data, bad):
    F, _, y, _ = data
    with pytest.raises(ValueError, match="n_heads"):
        CHMRClassifier("passthrough", n_heads=bad, **HEAD).fit(F, y)
