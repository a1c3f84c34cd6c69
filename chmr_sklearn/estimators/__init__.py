"""scikit-learn estimators built on the CHMR encoder."""

__all__ = ["CHMRTransformer", "CHMRClassifier", "CHMRRegressor"]

_HOMES = {"CHMRTransformer": "transformer", "CHMRClassifier": "classifier", "CHMRRegressor": "regressor"}


def __getattr__(name: str):
    # Lazy (PEP 562): `from chmr_sklearn import CHMRTransformer` must not import skorch and
    # the heads (start-up time of `chmr embed` and of a fresh process that embeds).
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
