"""Scaffold splits that reproduce the benchmark protocols, scaffold groups, a K-fold for NaN
multi-task labels, NaN-aware metrics and scorers.

Examples
--------
>>> from chmr_sklearn.model_selection import scaffold_split, mean_roc_auc

Equal-size groups are taken last-first-index first (OGB's tie-break), so the cyclopropane
(row 3) reaches valid before the acyclic ethanol (row 1):

>>> train, valid, test = scaffold_split(["c1ccccc1O", "CCO", "c1ccccc1N", "C1CC1"],
...                                     sizes=(0.5, 0.25, 0.25))
>>> train.tolist(), valid.tolist(), test.tolist()
([0, 2], [3], [1])
>>> mean_roc_auc([0, 1, 1, float("nan")], [0.2, 0.9, 0.8, 0.5])
1.0
"""

from ._metrics import (
    get_scorer,
    mean_accuracy,
    mean_mae,
    mean_r2,
    mean_rmse,
    mean_roc_auc,
    neg_mae_scorer,
    neg_rmse_scorer,
    roc_auc_per_task,
    roc_auc_scorer,
)
from ._cv import MultiTaskStratifiedKFold
from ._split import SPLIT_METHODS, scaffold_groups, scaffold_split

__all__ = [
    "SPLIT_METHODS",
    "MultiTaskStratifiedKFold",
    "get_scorer",
    "mean_accuracy",
    "mean_mae",
    "mean_r2",
    "mean_rmse",
    "mean_roc_auc",
    "neg_mae_scorer",
    "neg_rmse_scorer",
    "roc_auc_per_task",
    "roc_auc_scorer",
    "scaffold_groups",
    "scaffold_split",
]
