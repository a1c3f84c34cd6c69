"""Every pretraining hyperparameter in one JSON-serialisable place (saved in each checkpoint)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RECIPES", "PretrainConfig"]

#: PretrainConfig overrides of each named recipe (``"fast"`` is defined below). ``"old"``: the settings the first shipped
#: model used (the official schedule, every batch drawn uniformly). ``"new"``: the options that
#: let the scarce profiles drive learning (issue 12): >= 32 profiled molecules per batch, every
#: molecule linked to the profiles of its 5 most similar profiled molecules, SCA on propagated
#: rows, warm-up + cosine schedule. Evidence: ``benchmarks/results/cell_awareness.md``.
RECIPES: dict[str, dict[str, Any]] = {
    "old": {"lr": 1e-3, "batch_size": 512},
    "new": {"lr": 1e-3, "batch_size": 512, "profiled_per_batch": 32, "graph_mol_knn": 5,
            "sca_propagated": True, "lr_schedule": "warmup_cosine", "warmup_epochs": 1.0, "lr_floor": 0.05},
}
#: ``"fast"``: the ``"new"`` recipe on an encoder that embeds ~2.6x faster (issue 14): no 3D modality
#: (conformer generation was over half of the per-molecule cost) and a 128-wide GIN (5x cheaper
#: than the 300-wide one). Pretrained on the full corpus it lost to the shipped model on the
#: validation splits (``benchmarks/results/model_selection_fast.md``: ESOL MAE 1.009 vs 0.764),
#: so it is an option for throughput, not the default.
RECIPES["fast"] = {**RECIPES["new"], "conformer_method": "none", "gin_dim": 128}
#: ``"lean"``: the ``"new"`` recipe on a 128-wide GIN that keeps a cheaper 3D block (issue 14): the
#: 3D descriptors carried ESOL's signal in the untrained-architecture controls
#: (``model_selection_architectures.md``), while RDF and MORSE, ~75 % of the descriptor time, did
#: not earn it: a random forest on [fingerprint ; 3D] scores as well or better without them on the
#: validation splits (DG tolerance 1e-3: ESOL MAE 0.973 vs 1.042 with all 651 values, Lipophilicity 0.771 vs 0.808,
#: BACE ROC-AUC 0.735 vs 0.726, BBBP 0.960 vs 0.958; ``benchmarks/results/conformer_descriptors.md``),
#: and a distance-geometry tolerance of 1e-2 embeds ~30 % faster at equal validation scores.
#: Pretrained on the full corpus it lost to the shipped model on validation
#: (``model_selection_lean.md``), so it is an option, not the default.
RECIPES["lean"] = {**RECIPES["new"], "gin_dim": 128, "conformer_descriptors": ["autocorr3d", "whim", "usr", "shape"],
                   "conformer_force_tol": 1e-2}
#: ``"gentle"``: the ``"lean"`` recipe at lr 3e-4, the shipped default's (``scripts/pretrain_default.py``
#: defaults: 8 epochs on 12,000 molecules). At lr 1e-3 pretraining eroded what the untrained
#: encoder's latents carry about solubility, more with every step (``latent_probes_steps.md``);
#: at 3e-4 ridge on the latents predicts ESOL better than on the untrained twin's (validation MAE
#: 0.781 vs 0.826; lr 1e-3: 0.945, L2-SP toward the start 0.873-0.919; ``latent_probes_sp.md``),
#: and over 3 pretraining seeds it ties the first shipped model on the 6 classification sets and
#: beats it on ESOL and Lipophilicity (``model_selection_lean12k_lr3e4.md``).
RECIPES["gentle"] = {**RECIPES["lean"], "lr": 3e-4}

FILLS = ("propagate", "mean", "zero")
TREES = ("tree", "flat")
CPR_SOURCES = ("modality", "anchor")
LR_SCHEDULES = ("official", "warmup_cosine")
CONFORMER_METHODS = ("etkdg", "dg", "none")


@dataclass
class PretrainConfig:
    """CHMR pretraining settings; defaults follow DESIGN.md §3.

    Every component has an off switch so the paper's ablations are one field away:
    ``use_sca``, ``use_tree_vq``, ``tree="flat"``, ``use_cpr``, ``fill`` and passing no profiles.

    Recipe options that let scarce profiles drive learning (issue 12; all off by default, so
    older configurations, the shipped model's among them, mean what they meant):

    - ``profiled_per_batch``: top every batch up to at least this many molecules with an observed
      profile, per modality (drawn without repeats within a batch, cycling through a shuffled list
      of that modality's profiled molecules), so InfoNCE has negatives in every batch. Batches
      grow by at most this many molecules per modality; 0 = plain shuffled batches.
    - ``graph_mol_knn``: in the context graph, link every molecule without a profile to the
      profile nodes of its ``graph_mol_knn`` most Tanimoto-similar profiled molecules (weight =
      similarity), whatever ``graph_min_threshold`` says, so CPR walks from unprofiled
      molecules reach profiles.
    - ``sca_propagated``: SCA's InfoNCE also aligns molecules whose profile was filled by
      propagation, each row weighted by its propagation confidence (the share of its filled
      value that came from measured rows; 1 for measured rows, 0 for rows propagation never
      reached, which stay out). VICReg stays on measured rows.
    - ``l2_sp``: add ``l2_sp * ||theta - theta_0||^2`` over the molecular encoder's weights (GIN and
      the 1D/2D/3D projectors; ``theta_0`` = their seeded initialisation) to the loss: "L2-SP"
      (Li et al., 2018) toward the starting point, so the scarce profiles steer the encoder
      without erasing what its random features already carry (``latent_probes_steps.md``: more
      steps cost ESOL information). 0 = off.
    - ``lambda_profile``: add ``lambda_profile`` times a profile-prediction loss: for every
      modality, a linear map from the molecular anchor predicts each measured molecule's
      standardized profile (mean squared error over its features, measured rows of the batch
      only). SCA's InfoNCE only ranks a batch's profiles against each other; this asks the
      anchor to carry the profile itself, the quantity a frozen-embedding probe reads
      (``benchmarks/cell_awareness.py``). 0 = off (no predictors are built). Measured on the
      ``"lean"`` recipe, 50 epochs, 3 seeds (``cell_awareness_lean50_profile10.md``, ``..._profile100.md``):
      the training profiles are learnt (squared error 1.1 -> 0.16 at 10, 0.09 at 100) but held-out
      expression is not predicted better: anchor centred r / MRR 0.142 / 0.097 at 10, 0.133 / 0.103
      at 100, against 0.148 / 0.100 without (Tanimoto kNN 0.148 / 0.107). Off in every recipe.
    - ``lr_schedule="warmup_cosine"``: linear warm-up over ``warmup_epochs`` epochs, then a
      cosine from ``lr`` down to ``lr_floor * lr`` at the last step. ``"official"`` (default) is
      the official code's cosine over 7/16 of a half period (ends at ~0.2 lr).

    Examples
    --------
    >>> cfg = PretrainConfig(max_epochs=2, use_cpr=False)
    >>> PretrainConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    # encoders
    latent_dim: int = 300
    gin_layers: int = 5
    gin_dim: int | None = None  # GIN hidden width; None = latent_dim (the paper's 300)
    gin_dropout: float = 0.5
    # fingerprint (1D) and conformer (3D) featurization
    fp_radius: int = 2
    fp_bits: int = 1024
    # plain distance geometry: ~5x faster than ETKDGv3 (benchmarks/results/featurize.md);
    # "none": no 3D modality (no conformers; the encoder has 1D and 2D latents only)
    conformer_method: str = "dg"
    conformer_hydrogens: bool = False
    # 3D descriptor families (None: all 651 values) and DG's force tolerance (RDKit's default
    # 1e-3); see ConformerFeaturizer(descriptors=, force_tol=)
    conformer_descriptors: list[str] | None = None
    conformer_force_tol: float = 1e-3
    # losses: total = CPR + lambda_sca * SCA + lambda_tree * TreeVQ (+ lambda_profile * profile)
    lambda_sca: float = 10.0
    lambda_tree: float = 1.0
    lambda_profile: float = 0.0
    use_sca: bool = True
    use_tree_vq: bool = True
    use_cpr: bool = True
    tree: str = "tree"
    tree_depth: int = 6
    eta: float = 1.0
    tau: float = 0.2
    cpr_source: str = "modality"
    # modality augmentation and the context graph
    fill: str = "propagate"
    knn_k: int = 10
    propagate_steps: int = 5
    walk_length: int = 4
    graph_density: float = 0.005
    graph_min_threshold: float = 0.8
    # optimisation
    lr: float = 1e-4
    weight_decay: float = 1e-8
    batch_size: int = 512
    max_epochs: int = 20
    seed: int = 0
    # recipe options (issue 12), off by default
    profiled_per_batch: int = 0
    graph_mol_knn: int = 0
    sca_propagated: bool = False
    lr_schedule: str = "official"
    warmup_epochs: float = 0.0
    lr_floor: float = 0.0
    l2_sp: float = 0.0
    # bookkeeping, filled by the trainer
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checks = {"fill": (self.fill, FILLS), "tree": (self.tree, TREES), "cpr_source": (self.cpr_source, CPR_SOURCES),
                  "conformer_method": (self.conformer_method, CONFORMER_METHODS),
                  "lr_schedule": (self.lr_schedule, LR_SCHEDULES)}
        for name, (value, options) in checks.items():
            if value not in options:
                raise ValueError(f"{name} must be one of {options}, got {value!r}.")
        for name in ("latent_dim", "gin_layers", "tree_depth", "knn_k", "walk_length", "batch_size", "max_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}.")
        if self.gin_dim is not None and int(self.gin_dim) < 1:
            raise ValueError(f"gin_dim must be >= 1 or None, got {self.gin_dim!r}.")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}.")
        if self.conformer_force_tol <= 0:
            raise ValueError(f"conformer_force_tol must be > 0, got {self.conformer_force_tol!r}.")
        for name in ("profiled_per_batch", "graph_mol_knn", "warmup_epochs", "l2_sp", "lambda_profile"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}.")
        if self.sca_propagated and self.fill != "propagate":
            raise ValueError(f"sca_propagated=True aligns molecules with their propagated profiles: it needs "
                             f"fill='propagate', got fill={self.fill!r}.")
        if not 0.0 <= self.lr_floor <= 1.0:
            raise ValueError(f"lr_floor must be in [0, 1], got {self.lr_floor!r}.")

    def featurization(self) -> dict[str, Any]:
        """The molecular featurization keywords of :func:`~chmr_sklearn.featurize.featurize_molecular`.

        Examples
        --------
        >>> PretrainConfig(conformer_method="none").featurization()["conformer_method"]
        'none'
        """
        return {"fp_radius": self.fp_radius, "fp_bits": self.fp_bits, "conformer_method": self.conformer_method,
                "conformer_hydrogens": self.conformer_hydrogens,
                "conformer_descriptors": self.conformer_descriptors, "conformer_force_tol": self.conformer_force_tol}

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON view (every field; settings saved before a field existed read as its default)."""
        return dataclasses.asdict(self)

    @classmethod
    def parse_override(cls, text: str) -> tuple[str, Any]:
        """``"field=value"`` (a command-line override) -> ``(field, value)``; the value is read as JSON when it parses.

        Examples
        --------
        >>> PretrainConfig.parse_override("cpr_source=anchor"), PretrainConfig.parse_override("lambda_sca=1")
        (('cpr_source', 'anchor'), ('lambda_sca', 1))
        >>> PretrainConfig.parse_override("colour=red")
        Traceback (most recent call last):
        ...
        ValueError: Expected FIELD=VALUE with a PretrainConfig field, got 'colour=red'.
        """
        field, sep, value = text.partition("=")
        if not sep or field not in {f.name for f in dataclasses.fields(cls)}:
            raise ValueError(f"Expected FIELD=VALUE with a PretrainConfig field, got {text!r}.")
        try:
            return field, json.loads(value)
        except json.JSONDecodeError:
            return field, value

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PretrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a newer, incompatible file)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"Unknown pretraining settings {sorted(unknown)}: checkpoint from an incompatible version?")
        return cls(**data)
