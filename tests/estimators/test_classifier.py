"""CHMRClassifier on real data: multi-task NaN labels, early stopping, RF residual, sklearn tools."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, cross_validate
from sklearn.pipeline import make_pipeline

from chmr_sklearn import CHMRClassifier
from chmr_sklearn.model_selection import get_scorer, mean_roc_auc, scaffold_groups

# One head per fit; the default rf_residual="auto" (two heads) is exercised from SMILES in
# test_grid_search_cross_validate_and_joblib and in test_rf_residual_auto.py.
FAST = dict(max_epochs=8, patience=3, hidden=64, batch_size=64, rf_residual=False, random_state=0)


def test_multitask_with_missing_labels(chembl, embeddings):
    X, Y = chembl
    clf = CHMRClassifier("passthrough", **FAST).fit(embeddings["chembl"], Y)
    proba = clf.predict_proba(embeddings["chembl"])
    assert proba.shape == (400, 8) and ((proba >= 0) & (proba <= 1)).all()
    pred = clf.predict(embeddings["chembl"])
    assert pred.shape == (400, 8) and set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(clf.classes_, np.arange(8))  # MLPClassifier's multilabel convention
    # score = accuracy of each task over its labelled rows, averaged over tasks
    Yn = Y.to_numpy()
    per_task = [accuracy_score(Yn[~np.isnan(Yn[:, t]), t], pred[~np.isnan(Yn[:, t]), t]) for t in range(8)]
    assert clf.score(embeddings["chembl"], Y) == pytest.approx(np.mean(per_task))
    assert clf.score(embeddings["chembl"], Y) > 0.6  # training rows: the head must fit them
    assert get_scorer("mean_roc_auc")(clf, embeddings["chembl"], Y) == pytest.approx(mean_roc_auc(Yn, proba))


def test_masked_loss_ignores_unlabelled_entries(chembl, embeddings):
    X, Y = chembl
    E = embeddings["chembl"]
    a = CHMRClassifier("passthrough", validation_fraction=0, **FAST).fit(E, Y)
    # Changing only what sits under a NaN label cannot change the fit.
    Y2 = Y.copy()
    extra = pd.DataFrame(np.nan, index=range(20), columns=Y.columns)
    b = CHMRClassifier("passthrough", validation_fraction=0, **FAST).fit(
        np.vstack([E, np.random.default_rng(0).normal(size=(20, E.shape[1])).astype(np.float32)]),
        pd.concat([Y2, extra], ignore_index=True))
    np.testing.assert_allclose(a.predict_proba(E), b.predict_proba(E), rtol=1e-5, atol=1e-6)


def test_errors_for_bad_targets(embeddings):
    E = embeddings["bbbp"]
    with pytest.raises(ValueError, match="no label at all"):
        CHMRClassifier("passthrough", **FAST).fit(E, np.full(len(E), np.nan))
    Y = np.zeros((len(E), 2))
    Y[:, 1] = np.nan
    Y[::2, 0] = 1
    with pytest.raises(ValueError, match=r"Task\(s\) \[1\]"):
        CHMRClassifier("passthrough", **FAST).fit(E, Y)
    with pytest.raises(ValueError, match="only one class"):
        CHMRClassifier("passthrough", **FAST).fit(E, np.ones(len(E)))
    with pytest.raises(ValueError, match="Only binary classification is supported; y has 3 classes"):
        CHMRClassifier("passthrough", **FAST).fit(E, np.arange(len(E)) % 3)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        CHMRClassifier("passthrough", **FAST).fit(E, np.linspace(0, 1, len(E)))
    with pytest.raises(ValueError, match="requires y to be passed, but the target y is None"):
        CHMRClassifier("passthrough", **FAST).fit(E, None)


def test_single_task_from_smiles_pipeline_and_string_labels(bbbp):
    X, y = bbbp
    labels = np.where(y.to_numpy() == 1, "penetrant", "non-penetrant")
    clf = CHMRClassifier(**FAST).fit(X, labels)
    assert list(clf.classes_) == ["non-penetrant", "penetrant"]
    assert clf.predict_proba(X[:5]).shape == (5, 2)
    assert set(clf.predict(X[:20])) <= set(clf.classes_)
    assert clf.n_epochs_ <= FAST["max_epochs"] and clf.monitor_ == "valid_roc_auc"


def test_early_stopping_restores_best_epoch(embeddings, bbbp):
    clf = CHMRClassifier("passthrough", max_epochs=40, patience=3, hidden=64, lr=1e-2, random_state=0)
    clf.fit(embeddings["bbbp"], bbbp[1])
    history = clf.net_.history
    scores = history[:, "valid_roc_auc"]
    assert len(history) < 40, "early stopping never triggered"
    best = int(np.argmax(scores))
    assert history[best, "valid_roc_auc_best"]
    assert len(history) - 1 - best == 3  # stopped `patience` epochs after the best one


def test_rf_residual(embeddings, bbbp):
    E, y = embeddings["bbbp"], bbbp[1].to_numpy()
    clf = CHMRClassifier("passthrough", **dict(FAST, rf_residual=True, rf_n_estimators=50, gamma=0.0,
                                               validation_fraction=0)).fit(E, y)
    # gamma = 0: the output is exactly the mean of the heads' forests' probabilities
    assert len(clf.heads_) == 2 and clf.heads_[0].rf is not clf.heads_[1].rf
    p_rf = [np.clip(h.rf.forests_[0].predict_proba(E[:10])[:, 1], 1e-3, 1 - 1e-3) for h in clf.heads_]
    np.testing.assert_allclose(clf.predict_proba(E[:10])[:, 1], np.mean(p_rf, axis=0), rtol=1e-4)
    # training rows are offset with out-of-bag estimates, less confident than in-sample ones
    in_sample = clf.rf_.offset(E)[:, 0]
    assert np.abs(clf.rf_.oob_offset_[:, 0]).mean() < np.abs(in_sample).mean()
    # and with gamma > 0 the head moves the prediction away from the forest
    mixed = clone(clf).set_params(gamma=1.0).fit(E, y)
    assert not np.allclose(mixed.predict_proba(E[:10]), clf.predict_proba(E[:10]))


def test_random_state_reproduces_and_clone_refits(embeddings, bbbp):
    E, y = embeddings["bbbp"], bbbp[1]
    a = CHMRClassifier("passthrough", **FAST).fit(E, y)
    b = clone(a).fit(E, y)
    np.testing.assert_array_equal(a.predict_proba(E), b.predict_proba(E))
    c = CHMRClassifier("passthrough", **dict(FAST, random_state=1)).fit(E, y)
    assert not np.array_equal(a.predict_proba(E), c.predict_proba(E))


def test_grid_search_cross_validate_and_joblib(chembl, tmp_path):
    X, Y = chembl
    X, Y = X.iloc[:240], Y.iloc[:240]
    clf = CHMRClassifier(memory=str(tmp_path / "cache"), **dict(FAST, rf_residual="auto", rf_n_estimators=20))
    # sklearn's integer cv runs type_of_target, which rejects NaN labels: give a splitter,
    # or the labels as an object array (then cv=2 works too, see below).
    search = GridSearchCV(clf, {"dropout": [0.2, 0.5]}, scoring=get_scorer("mean_roc_auc"), cv=KFold(2)).fit(X, Y)
    GridSearchCV(clf, {"lr": [1e-3]}, cv=2).fit(X, Y.astype(object))
    assert set(search.cv_results_["param_dropout"]) == {0.2, 0.5}
    assert sorted(search.best_estimator_.rf_residual_scores_) == [False, True]  # "auto", on a scaffold split
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    groups = scaffold_groups(X)
    cv = cross_validate(clone(clf), X, Y, groups=groups, cv=GroupKFold(n_splits=2))
    assert ((cv["test_score"] > 0.5) & (cv["test_score"] <= 1)).all()  # default score: NaN-aware accuracy
    path = tmp_path / "model.joblib"
    joblib.dump(search.best_estimator_, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), search.best_estimator_.predict_proba(X[:20]))


def test_grid_search_with_sklearn_roc_auc_single_task(bbbp):
    X, y = bbbp
    search = GridSearchCV(CHMRClassifier(**FAST), {"lr": [1e-3, 3e-3]}, scoring="roc_auc", cv=2).fit(X, y)
    assert 0.5 < search.best_score_ <= 1.0


def test_invalid_molecules_nan_rows_and_validation_data(bbbp):
    X, y = bbbp
    clf = CHMRClassifier(on_invalid="nan", **FAST).fit(X[:200], y[:200], validation_data=(X[200:], y[200:]))
    proba = clf.predict_proba(["not a molecule", X[0]])
    assert np.isnan(proba[0]).all() and np.isfinite(proba[1]).all()
    assert np.isnan(clf.predict(["not a molecule"]).astype(float)).all()
    with pytest.raises(ValueError, match="invalid molecule"):
        CHMRClassifier(**FAST).fit(list(X[:50]) + ["xx"], list(y[:50]) + [1])


def test_warm_start_continues_training(embeddings, bbbp):
    E, y = embeddings["bbbp"], bbbp[1]
    clf = CHMRClassifier("passthrough", warm_start=True, **dict(FAST, patience=None, max_epochs=2)).fit(E, y)
    first = len(clf.net_.history)
    weights = clf.net_.module_.mlp[0].weight.detach().clone()
    clf.fit(E, y)
    assert len(clf.net_.history) == first + 2
    assert not np.allclose(weights.numpy(), clf.net_.module_.mlp[0].weight.detach().numpy())


def test_verbose_prints_epoch_table(embeddings, bbbp, capsys):
    CHMRClassifier("passthrough", verbose=1, **dict(FAST, max_epochs=2)).fit(embeddings["bbbp"], bbbp[1])
    out = capsys.readouterr().out
    assert "epoch" in out and "valid_roc_auc" in out


def test_pipeline_of_transformer_and_passthrough_head(bbbp):
    from chmr_sklearn import CHMRTransformer

    X, y = bbbp
    pipe = make_pipeline(CHMRTransformer(output="latents"), CHMRClassifier("passthrough", **FAST)).fit(X, y)
    proba = pipe.predict_proba(X[:10])
    assert proba.shape == (10, 2)
    assert pipe[-1].n_features_in_ == 900
    assert 0.5 < pipe.score(X, y) <= 1.0


def test_score_is_accuracy_and_predict_has_one_dtype(embeddings, bbbp):
    E, y = embeddings["bbbp"], bbbp[1].to_numpy()
    clf = CHMRClassifier("passthrough", **FAST).fit(E, y)
    assert clf.score(E, y) == accuracy_score(y, clf.predict(E))
    assert clf.predict(E).dtype == clf.classes_.dtype and clf.predict_proba(E).dtype == np.float64
    # on_invalid="nan": NaN rows are invalid molecules; the dtype is float64 whether or not X holds one
    lenient = CHMRClassifier("passthrough", on_invalid="nan", **FAST).fit(E, y)
    with_invalid = np.vstack([E[:3], np.full((1, E.shape[1]), np.nan, dtype=E.dtype)])
    assert lenient.predict(E[:3]).dtype == lenient.predict(with_invalid).dtype == np.float64
    assert np.isnan(lenient.predict(with_invalid)[-1])
    words = CHMRClassifier("passthrough", on_invalid="nan", **FAST).fit(E, np.where(y == 1, "yes", "no"))
    assert words.predict(E[:3]).dtype == words.predict(with_invalid).dtype == object


def test_forest_threads_leave_the_fit_unchanged(embeddings, bbbp):
    """n_jobs=None grows the residual forests on torch's cores; any n_jobs gives the same model."""
    E, y = embeddings["bbbp"], bbbp[1]
    fits = [CHMRClassifier("passthrough", **dict(FAST, rf_residual=True, rf_n_estimators=30, n_heads=1), n_jobs=n)
            .fit(E, y) for n in (1, 2, None)]
    assert all(head.rf is not None for head in fits[0].heads_)
    for other in fits[1:]:
        np.testing.assert_array_equal(fits[0].predict_proba(E), other.predict_proba(E))


def test_grid_search_in_threads_is_reproducible(embeddings, bbbp):
    """Fits in threads share no random state: n_jobs=2 under the threading backend gives the
    same results twice and the same as a sequential search (dropout is on, batches shuffled)."""
    import joblib

    E, y = embeddings["bbbp"], bbbp[1]
    grid = {"dropout": [0.3, 0.6], "lr": [1e-3, 3e-3]}
    clf = CHMRClassifier("passthrough", **dict(FAST, patience=None, max_epochs=6))

    def search(n_jobs):
        with joblib.parallel_backend("threading"):
            s = GridSearchCV(clf, grid, cv=KFold(2, shuffle=True, random_state=0), scoring=get_scorer("mean_roc_auc"),
                             n_jobs=n_jobs, error_score="raise").fit(E, y)
        return s.cv_results_["split0_test_score"], s.cv_results_["split1_test_score"], s.best_estimator_.predict_proba(E)

    sequential, first, second = search(1), search(2), search(2)
    assert (sequential[0] > 0.5).all() and len(set(sequential[0])) == 4  # four real, different fits
    for a, b, c in zip(sequential, first, second):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(b, c)
