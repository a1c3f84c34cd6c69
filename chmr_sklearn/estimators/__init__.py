"""scikit-learn estimators built on the CHMR encoder."""

from .classifier import CHMRClassifier
from .regressor import CHMRRegressor
from .transformer import CHMRTransformer

__all__ = ["CHMRTransformer", "CHMRClassifier", "CHMRRegressor"]
