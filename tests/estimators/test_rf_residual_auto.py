"""rf_residual="auto", "blend" and the scaffold-grouped internal validation split, on real molecules.

The heads see the 167 MACCS keys of RDKit's WEHI molecules plus three RDKit descriptors; the
forest of the residual sees the MACCS keys only, as with a CHMR embedding it sees the
fingerprint block and not the learned latents. So a target built from substructures is the
forest's (it fits a conjunction of keys far better than a small head), and a descriptor the
head sees as a column, but the forest can only approximate from keys, is the plain head's.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors, rdMolDescriptors
from rdkit.Chem.Scaffolds import MurckoScaffold
from sklearn.base import clone

from chmr_sklearn import CHMRClassifier, CHMRRegressor
from chmr_sklearn.featurize import FingerprintFeaturizer

N_MACCS = 167
# One head: these tests compare its choice and validation score with its own predictions.
HEAD = {"hidden": 32, "dropout": 0.0, "lr": 1e-2, "batch_size": 64, "max_epochs": 40, "patience": 5,
        "rf_n_estimators": 50, "n_heads": 1, "random_state": 0, "rf_residual": "auto"}
HEAD_VALID = 0.1  # the estimators' default validation_fraction


class _MaccsForest(CHMRRegressor):
    """The residual forest sees the MACCS block only (the head sees every column)."""

    def _forest_columns(self) -> slice:
        return slice(0, N_MACCS)


def _has(mols, smarts: str) -> np.ndarray:
    pattern = Chem.MolFromSmarts(smarts)
    return np.array([m.HasSubstructMatch(pattern) for m in mols], dtype=float)


@pytest.fixture(scope="module")
def molecules(wehi_smiles):
    """400 real molecules, their features and two targets: one for the forest, one for the head."""
    smiles = wehi_smiles[::20][:400]
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    maccs = FingerprintFeaturizer().fit_transform(smiles)[:, -N_MACCS:]
    desc = np.array([[Descriptors.TPSA(m), Descriptors.MolLogP(m), rdMolDescriptors.CalcFractionCSP3(m)]
                     for m in mols])
    X = np.hstack([maccs, (desc - desc.mean(0)) / desc.std(0)]).astype(np.float32)
    halogen, carbonyl, amine = _has(mols, "[Cl,Br,F,I]"), _has(mols, "C=O"), _has(mols, "[NX3;H2]")
    targets = {"substructures": 3 * (halogen * carbonyl + amine * (1 - carbonyl)), "logp": desc[:, 1]}
    return smiles, X, targets


@pytest.fixture(scope="module")
def auto_fits(molecules):
    _, X, targets = molecules
    return {name: _MaccsForest("passthrough", **HEAD).fit(X, y) for name, y in targets.items()}


def test_auto_keeps_the_forest_where_it_wins(auto_fits):
    reg = auto_fits["substructures"]
    scores = reg.rf_residual_scores_
    assert reg.rf_residual_ is True and reg.rf_ is not None and reg.monitor_ == "valid_mae"
    assert scores[True] < 0.5 * scores[False]  # validation MAE: the forest fits the conjunction of keys


def test_auto_keeps_the_plain_head_where_the_forest_loses(auto_fits):
    reg = auto_fits["logp"]
    scores = reg.rf_residual_scores_
    assert reg.rf_residual_ is False and reg.rf_ is None  # the forest is not kept
    assert scores[False] < 0.7 * scores[True]


@pytest.mark.parametrize("target", ["substructures", "logp"])
def test_the_kept_head_is_the_fixed_variant_fitted_alone(molecules, auto_fits, target):
    """Same rows, seed and validation split: "auto" keeps exactly what rf_residual=<its choice> gives."""
    _, X, targets = molecules
    auto = auto_fits[target]
    alone = _MaccsForest("passthrough", **dict(HEAD, rf_residual=auto.rf_residual_)).fit(X, targets[target])
    assert alone.rf_residual_ is auto.rf_residual_
    assert alone.rf_residual_scores_ == {auto.rf_residual_: auto.rf_residual_scores_[auto.rf_residual_]}
    np.testing.assert_array_equal(alone.predict(X), auto.predict(X))
    assert alone.n_epochs_ == auto.n_epochs_


def test_validation_score_is_the_kept_heads_mae(molecules, auto_fits):
    from chmr_sklearn.model_selection import mean_mae

    _, X, targets = molecules
    reg = auto_fits["substructures"]
    _, rows = _split(reg, X, seed=0)
    valid = reg.net_.train_split.keywords["valid_ds"]  # skorch's predefined split
    np.testing.assert_array_equal(valid.X["x"], X[rows])
    mae = mean_mae(targets["substructures"][rows], reg.predict(X[rows]))
    assert reg.rf_residual_scores_[True] == pytest.approx(mae, rel=1e-5)


def test_without_a_validation_split_auto_means_no_forest(molecules):
    _, X, targets = molecules
    reg = _MaccsForest("passthrough", **dict(HEAD, validation_fraction=0, max_epochs=2))
    reg.fit(X, targets["substructures"])
    assert reg.rf_residual_ is False and reg.rf_ is None
    assert reg.rf_residual_scores_ == {} and reg.monitor_ is None


def test_fixed_values_are_kept_as_given(molecules):
    _, X, targets = molecules
    fast = dict(HEAD, max_epochs=2)
    on = _MaccsForest("passthrough", **dict(fast, rf_residual=True)).fit(X, targets["logp"])
    off = _MaccsForest("passthrough", **dict(fast, rf_residual=False)).fit(X, targets["logp"])
    assert on.rf_residual_ is True and on.rf_ is not None and list(on.rf_residual_scores_) == [True]
    assert off.rf_residual_ is False and off.rf_ is None and list(off.rf_residual_scores_) == [False]


def test_pickle_round_trip_keeps_the_choice_and_predictions(molecules, auto_fits):
    _, X, _ = molecules
    for reg in auto_fits.values():
        loaded = pickle.loads(pickle.dumps(reg))
        assert loaded.rf_residual_ is reg.rf_residual_ and loaded.rf_residual_scores_ == reg.rf_residual_scores_
        np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_random_state_reproduces_the_choice_and_scores(molecules):
    _, X, targets = molecules
    fast = dict(HEAD, max_epochs=3, rf_n_estimators=20)
    a = _MaccsForest("passthrough", **fast).fit(X, targets["substructures"])
    b = clone(a).fit(X, targets["substructures"])
    assert a.rf_residual_scores_ == b.rf_residual_scores_ and a.rf_residual_ is b.rf_residual_
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    c = _MaccsForest("passthrough", **dict(fast, random_state=1)).fit(X, targets["substructures"])
    assert c.rf_residual_scores_ != a.rf_residual_scores_


def test_auto_on_more_tasks_than_rf_max_tasks_trains_the_plain_head_only(molecules):
    _, X, targets = molecules
    Y = np.column_stack([targets["substructures"], targets["logp"]])
    fast = dict(HEAD, max_epochs=3)
    within = _MaccsForest("passthrough", **fast, rf_max_tasks=2).fit(X, Y)
    beyond = _MaccsForest("passthrough", **fast, rf_max_tasks=1).fit(X, Y)
    plain = _MaccsForest("passthrough", **dict(fast, rf_residual=False)).fit(X, Y)
    assert sorted(within.rf_residual_scores_) == [False, True]
    assert beyond.rf_residual_ is False and beyond.rf_ is None
    assert beyond.rf_residual_scores_ == plain.rf_residual_scores_ == {False: within.rf_residual_scores_[False]}
    np.testing.assert_array_equal(beyond.predict(X), plain.predict(X))
    # an explicit rf_residual=True is not the "auto" choice: the forest stays
    forced = _MaccsForest("passthrough", **dict(fast, rf_residual=True), rf_max_tasks=1).fit(X, Y)
    assert forced.rf_residual_ is True and forced.rf_ is not None
    with pytest.raises(ValueError, match="The 'rf_max_tasks' parameter of .* must be"):
        _MaccsForest("passthrough", rf_max_tasks=0).fit(X, Y)


@pytest.mark.parametrize("cls", [CHMRClassifier, CHMRRegressor])
def test_params_defaults_clone_and_validation(cls):
    est = cls()
    params = est.get_params()
    assert params["rf_residual"] == ("blend" if cls is CHMRRegressor else "auto") and params["rf_max_tasks"] == 64
    assert params["validation_split"] == ("random" if cls is CHMRRegressor else "scaffold")  # head_defaults.md
    assert params["lr"] == (1e-4 if cls is CHMRRegressor else 1e-3)
    copy = clone(est.set_params(rf_residual=True, validation_split="random"))
    assert copy.get_params()["rf_residual"] is True and copy.get_params()["validation_split"] == "random"
    X = np.random.default_rng(0).normal(size=(12, 4))
    y = np.arange(12) % 2
    with pytest.raises(ValueError, match="The 'rf_residual' parameter of .* must be .*'(auto|blend)'"):
        cls("passthrough", rf_residual="sometimes").fit(X, y)
    with pytest.raises(ValueError, match="The 'validation_split' parameter of .* must be a str among"):
        cls("passthrough", validation_split="kfold").fit(X, y)


# ---- rf_residual="blend" ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def blend_fits(molecules):
    _, X, targets = molecules
    return {name: _MaccsForest("passthrough", **dict(HEAD, rf_residual="blend")).fit(X, y)
            for name, y in targets.items()}


@pytest.mark.parametrize("target", ["substructures", "logp"])
def test_blend_trains_autos_variants_and_weighs_them_by_validation_mae(auto_fits, blend_fits, target):
    auto, blend = auto_fits[target], blend_fits[target]
    scores, weights = blend.rf_residual_scores_, blend.rf_residual_weights_
    assert scores == auto.rf_residual_scores_  # the same two nets, trained alike
    assert sum(weights.values()) == pytest.approx(1.0)
    # weight ~ MAE ** -8: the ratio of the weights is the inverse ratio of the MAEs, to the 8th
    assert weights[True] / weights[False] == pytest.approx((scores[False] / scores[True]) ** 8, rel=1e-6)
    # the heavier variant is auto's choice, and names the head (net_, rf_residual_)
    assert blend.rf_residual_ is auto.rf_residual_ and weights[auto.rf_residual_] > 0.5
    assert blend.rf_ is not None  # the net on the forest's offsets needs it, whichever is heavier
    assert auto.rf_residual_weights_ == {auto.rf_residual_: 1.0}


def test_blend_predicts_the_weighted_mean_of_the_variants(molecules, blend_fits):
    _, X, targets = molecules
    # a target both variants get partly right, so that neither weight is ~1
    y = targets["substructures"] + targets["logp"]
    blend = _MaccsForest("passthrough", **dict(HEAD, rf_residual="blend")).fit(X, y)
    weights = blend.rf_residual_weights_
    assert min(weights.values()) > 0.01
    alone = {v: _MaccsForest("passthrough", **dict(HEAD, rf_residual=v)).fit(X, y).predict(X) for v in (False, True)}
    expected = weights[False] * alone[False] + weights[True] * alone[True]
    np.testing.assert_allclose(blend.predict(X), expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(blend.predict(X), alone[blend.rf_residual_], atol=1e-3)


def test_blend_pickles_and_warm_starts_both_nets(molecules):
    _, X, targets = molecules
    y = targets["substructures"] + targets["logp"]
    est = _MaccsForest("passthrough", **dict(HEAD, rf_residual="blend", patience=None, max_epochs=2, warm_start=True))
    est.fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.rf_residual_weights_ == est.rf_residual_weights_
    nets = est.heads_[0].nets
    est.fit(X, y)
    assert est.heads_[0].nets == nets  # the same two nets, trained further
    assert {v: len(net.history) for v, net in nets.items()} == {False: 4, True: 4}


def test_blend_without_validation_rows_is_the_plain_head(molecules):
    _, X, targets = molecules
    est = _MaccsForest("passthrough", **dict(HEAD, rf_residual="blend", validation_fraction=0, max_epochs=2))
    est.fit(X, targets["logp"])
    assert est.heads_[0].weights is None and est.rf_ is None
    assert est.rf_residual_weights_ == {False: 1.0}


def test_blended_classifier_weighs_by_one_minus_roc_auc(molecules):
    from chmr_sklearn.estimators._head import _blend_weights

    _, X, targets = molecules
    y = (targets["substructures"] > 0).astype(int)
    clf = CHMRClassifier("passthrough", **dict(HEAD, rf_residual="blend")).fit(X, y)
    scores, weights = clf.rf_residual_scores_, clf.rf_residual_weights_
    assert clf.monitor_ == "valid_roc_auc" and sorted(scores) == [False, True]
    assert weights == _blend_weights(scores, lower_is_better=False)
    offset = clf.rf_.offset(X).astype(np.float32)  # passthrough: the classifier's forest sees every column
    logits = {v: clf._net_output(clf.heads_[0].nets[v], X, offset if v else None)[:, 0] for v in (False, True)}
    np.testing.assert_allclose(clf.decision_function(X), weights[False] * logits[False] + weights[True] * logits[True],
                               rtol=1e-5, atol=1e-5)


def test_estimator_hash_covers_the_lighter_net(molecules, blend_fits):
    from chmr_sklearn.streaming._jobs import estimator_sha256

    est = pickle.loads(pickle.dumps(blend_fits["logp"]))
    before = estimator_sha256(est)
    lighter = est.heads_[0].nets[not est.rf_residual_]
    with torch.no_grad():
        next(lighter.module_.parameters()).add_(1.0)
    assert estimator_sha256(est) != before


# ---- the internal validation split ------------------------------------------------------------
def _scaffold(smiles: str) -> str:
    """A molecule's scaffold group, computed independently of the estimator's code."""
    mol = Chem.MolFromSmiles(smiles)
    scaffold = MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=True)
    return scaffold or "acyclic:" + Chem.MolToSmiles(mol)


def _split(est, X, seed):
    rows = np.arange(len(X))
    return est._internal_split(X, rows, seed)


def test_scaffold_split_puts_no_scaffold_on_both_sides(molecules):
    smiles, _, _ = molecules
    est = CHMRRegressor(transformer=FingerprintFeaturizer(), validation_split="scaffold")
    train, valid = _split(est, smiles, seed=0)
    train_scaffolds = {_scaffold(smiles[i]) for i in train}
    valid_scaffolds = {_scaffold(smiles[i]) for i in valid}
    assert not train_scaffolds & valid_scaffolds
    assert sorted([*train, *valid]) == list(range(len(smiles)))
    assert 0.9 * 40 <= len(valid) <= 40  # about validation_fraction=0.1 of the 400 rows
    # seeded and deterministic; another seed holds out other scaffolds
    np.testing.assert_array_equal(_split(est, smiles, seed=0)[1], valid)
    assert not np.array_equal(_split(est, smiles, seed=1)[1], valid)
    # a random split of these molecules does put scaffolds on both sides (the check can fail)
    train_r, valid_r = _split(clone(est).set_params(validation_split="random"), smiles, seed=0)
    assert {_scaffold(smiles[i]) for i in train_r} & {_scaffold(smiles[i]) for i in valid_r}


def test_fit_validates_on_the_scaffold_split(molecules):
    smiles, _, targets = molecules
    est = CHMRRegressor(transformer=FingerprintFeaturizer(), validation_split="scaffold",
                        **dict(HEAD, max_epochs=2, rf_residual=False))
    est.fit(smiles, targets["logp"])
    _, valid = _split(est, smiles, seed=0)
    valid_ds = est.net_.train_split.keywords["valid_ds"]
    # (the regressor's 79 descriptor columns come first)
    np.testing.assert_array_equal(valid_ds.X[:, 79:], FingerprintFeaturizer().fit_transform([smiles[i] for i in valid]))


def test_passthrough_falls_back_to_a_random_split(molecules):
    smiles, X, _ = molecules
    scaffold = _split(CHMRRegressor("passthrough", validation_split="scaffold"), X, seed=0)
    random = _split(CHMRRegressor("passthrough", validation_split="random"), X, seed=0)
    from_smiles = _split(CHMRRegressor(transformer=FingerprintFeaturizer(), validation_split="random"), smiles, seed=0)
    for a, b, c in zip(scaffold, random, from_smiles):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_one_scaffold_series_falls_back_to_random_rows_with_a_warning(wehi_smiles):
    benzenes = [s for s in wehi_smiles[:3000] if _scaffold(s) == "c1ccccc1"][:30]
    assert len(benzenes) == 30
    est = CHMRRegressor(transformer=FingerprintFeaturizer(), validation_split="scaffold")
    with pytest.warns(UserWarning, match="No scaffold group fits in the validation split"):
        train, valid = _split(est, benzenes, seed=0)
    assert len(valid) == 3 and len(train) == 27
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # many scaffolds: no warning
        _split(est, wehi_smiles[:100], seed=0)


def test_rf_refit_gives_the_final_forest_every_labelled_row(molecules, auto_fits):
    # The head and the "auto" choice are those of the plain fit (same seed, same rows); only
    # the forest behind the prediction offsets is refitted, on the validation rows too.
    _, X, targets = molecules
    y = targets["substructures"]
    plain = auto_fits["substructures"]
    refit = _MaccsForest("passthrough", **HEAD, rf_refit=True).fit(X, y)
    assert plain.rf_residual_ and refit.rf_residual_
    assert refit.rf_residual_scores_ == plain.rf_residual_scores_
    n_valid = round(HEAD_VALID * len(y))
    assert len(plain.rf_.oob_offset_) == len(y) - n_valid and len(refit.rf_.oob_offset_) == len(y)
    assert not np.allclose(refit.predict(X), plain.predict(X))
    # with validation_data the forest already had every training row: nothing to refit
    half = len(y) // 2
    given = [_MaccsForest("passthrough", **dict(HEAD, rf_residual=True), rf_refit=r)
             .fit(X[:half], y[:half], validation_data=(X[half:], y[half:])) for r in (False, True)]
    np.testing.assert_array_equal(given[0].predict(X), given[1].predict(X))
