"""The ablation benchmark's variants (benchmarks/ablations.py --recipe)."""

import pytest

from chmr_sklearn.benchmark._ablations import ALL_VARIANTS
from chmr_sklearn.pretrain import RECIPES, PretrainConfig


@pytest.mark.parametrize("recipe", sorted(RECIPES))
@pytest.mark.parametrize("variant", sorted(ALL_VARIANTS))
def test_every_variant_is_a_valid_config_on_every_recipe(recipe, variant):
    # A variant switches off one part of whatever recipe the run starts from; e.g. a zero fill
    # has no propagated rows for the recipes' sca_propagated=True to align with.
    _, overrides, _ = ALL_VARIANTS[variant]
    config = PretrainConfig(**{**RECIPES[recipe], **overrides, "max_epochs": 1})
    assert all(getattr(config, name) == value for name, value in overrides.items())
