"""scikit-learn's full estimator checks (``legacy=True``) for CHMRClassifier / CHMRRegressor.

On numeric embeddings (``"passthrough"``) every check passes. On SMILES (the default
transformer) the checks feed random numbers as ``X``; those are not molecules, so the checks
that fit or predict fail by design: each such failure is listed with its reason and expected
strictly (an unexpected pass fails the test too, so the lists cannot go stale).
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from chmr_sklearn import CHMRClassifier, CHMRRegressor

NOT_MOLECULES = "the check feeds random numbers as X; they are not molecules (InvalidMoleculeError)"
_COMMON = [
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object", "check_estimators_dtypes",
    "check_estimators_fit_returns_self", "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_predict1d", "check_fit_check_is_fitted",
    "check_fit_idempotent", "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_positive_only_tag_during_fit", "check_readonly_memmap_input",
    "check_supervised_y_2d",
]
_SPECIFIC = {
    "check_estimators_empty_data_messages": "an empty numeric X is refused as holding no valid molecule, "
                                            "not with the '0 feature(s)' message the check expects",
    "check_estimator_sparse_array": "a sparse numeric matrix holds no molecules: refused as invalid molecules, "
                                    "not with scikit-learn's sparse-input message",
    "check_estimator_sparse_matrix": "a sparse numeric matrix holds no molecules: refused as invalid molecules, "
                                     "not with scikit-learn's sparse-input message",
    "check_fit2d_1feature": "a single numeric column is not a SMILES column: refused as invalid molecules",
}
_CLASSIFIER_ONLY = [
    "check_classifier_multioutput", "check_classifiers_classes", "check_classifiers_train",
    "check_classifiers_multilabel_output_format_decision_function",
    "check_classifiers_multilabel_output_format_predict", "check_classifiers_multilabel_output_format_predict_proba",
    "check_classifiers_multilabel_representation_invariance", "check_decision_proba_consistency",
]
_REGRESSOR_ONLY = [
    "check_regressor_multioutput", "check_regressors_int", "check_regressors_no_decision_function",
    "check_regressors_train",
]
SMILES_XFAIL = {
    "CHMRClassifier": {
        **dict.fromkeys(_COMMON + _CLASSIFIER_ONLY, NOT_MOLECULES), **_SPECIFIC,
        "check_classifier_data_not_an_array": "_NotAnArray (a numeric array wrapper) is not a container of molecules",
    },
    "CHMRRegressor": {
        **dict.fromkeys(_COMMON + _REGRESSOR_ONLY, NOT_MOLECULES), **_SPECIFIC,
        "check_regressor_data_not_an_array": "_NotAnArray (a numeric array wrapper) is not a container of molecules",
        "check_complex_data": "complex numbers are refused as invalid molecules, not with 'Complex data not supported'",
        "check_fit2d_1sample": "the one row is a number, not a molecule: refused before the sample count is checked",
    },
}


# Small heads and forests keep the run short; the regressor needs enough training for
# check_regressors_train's R² > 0.5. The default two heads on numbers; one head on SMILES, where
# most checks are expected to fail before any head trains.
@parametrize_with_checks([CHMRClassifier("passthrough", max_epochs=3, hidden=16, rf_n_estimators=50, random_state=0),
                          CHMRRegressor("passthrough", max_epochs=8, hidden=16, lr=3e-2, rf_n_estimators=50,
                                        random_state=0)],
                         legacy=True)
def test_every_check_passes_on_numeric_embeddings(estimator, check):
    check(estimator)


@parametrize_with_checks([CHMRClassifier(max_epochs=2, hidden=16, rf_n_estimators=50, n_heads=1, random_state=0),
                          CHMRRegressor(max_epochs=2, hidden=16, rf_n_estimators=50, n_heads=1, random_state=0)],
                         legacy=True, expected_failed_checks=lambda est: SMILES_XFAIL[type(est).__name__])
def test_checks_on_smiles_fail_only_where_expected(estimator, check):
    check(estimator)
