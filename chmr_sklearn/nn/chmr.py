"""CHMRModel: modality encoders -> latents -> anchor, plus Tree-VQ and CPR decoders.

The model holds every trainable piece of CHMR pretraining; the losses and the
loop live in ``chmr_sklearn.pretrain``. Only the encoder part (GIN,
projectors, Tree-VQ codebook) is needed after pretraining, see
:meth:`CHMRModel.encoder_state_dict`.

Data flow for a batch of B molecules::

    fp   (B, fp_dim)    -> projectors["1d"]                   -> z1d (B, latent)
    graph               -> gnn -> projectors["2d"]            -> z2d (B, latent)
    conf (B, conf_dim)  -> projectors["3d"] * conf_mask       -> z3d (B, latent)
    anchor = z1d + z2d + z3d
    bio table x (B, d)  -> projectors[<name>]                 -> z_bio (B, latent)
    latent              -> decoders[<node type>]              -> reconstruction logits
"""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Mapping

import torch
from torch import Tensor, nn

from .blocks import Decoder, Projector
from .gin import GINVirtualNode
from .tree_vq import TreeVQ

__all__ = ["CHMRModel", "MOLECULAR_MODALITIES"]

#: Keys of the molecular latents returned by :meth:`CHMRModel.encode`.
MOLECULAR_MODALITIES: tuple[str, ...] = ("1d", "2d", "3d")
#: State-dict prefixes of the modules only pretraining uses (CPR decoders, profile predictors): never exported.
_TRAINING_ONLY = ("decoders.", "predictors.")


def _module_keys(names, reserved=()) -> dict[str, str]:
    """Map user names to valid, unique ``nn.ModuleDict`` keys, in order.

    A name is kept as is when possible; otherwise characters other than
    letters, digits and ``_`` become ``_``, and ``bio_`` prefix / ``_2``, ``_3``
    suffixes resolve clashes with reserved keys, ``ModuleDict`` attributes
    (``keys``, ``training``...) and earlier names. Deterministic for a given
    ordered list of names, so a model rebuilt from its config has the same keys.
    """
    probe = nn.ModuleDict()
    taken = set(reserved)
    mapping: dict[str, str] = {}
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"modality names must be strings, got {name!r}")
        key = re.sub(r"\W", "_", name)
        if not key or key in taken or hasattr(probe, key):
            key = "bio_" + key
        base, n = key, 1
        while key in taken or hasattr(probe, key):
            n += 1
            key = f"{base}_{n}"
        taken.add(key)
        mapping[name] = key
    return mapping


def _check_dims(dims: Mapping[str, int] | None, what: str) -> dict[str, int]:
    out = {}
    for name, dim in dict(dims or {}).items():
        if int(dim) < 1:
            raise ValueError(f"{what}[{name!r}] must be a positive int, got {dim!r}")
        out[name] = int(dim)
    return out


class CHMRModel(nn.Module):
    """The CHMR network: molecular and biological encoders, Tree-VQ, decoders.

    Parameters
    ----------
    fp_dim : int, default=1191
        Size of the 1-D fingerprint (Morgan 1024 + MACCS 167).
    conf_dim : int
        Size of the 3-D conformer descriptor vector (required). 0 builds a model without the
        3-D modality (no ``"3d"`` projector or latent; see ``molecular_modalities``), which
        embeds molecules without generating conformers.
    bio_dims : dict of str to int, optional
        Input size of every biological modality (e.g. ``{"expression": 978}``);
        one projector each. Names are arbitrary strings. Empty or None: the
        model has the molecular modalities only.
    latent_dim : int, default=300
        Size of every latent (projector output, tree codes, decoder input).
    gin : dict, optional
        Keyword arguments of :class:`~chmr_sklearn.nn.gin.GINVirtualNode`
        (``num_layers``, ``emb_dim``, ``dropout``, ``residual``...).
    tree : {"tree", "flat"} or None, default="tree"
        Tree-VQ codebook, its flat ablation, or no quantiser (``tree_vq = None``).
    tree_depth : int, default=6
    eta : float, default=1.0
        Weight of the Tree-VQ reverse term.
    recon_dims : dict of str to int, optional
        Output size of a CPR decoder per context-graph node type, e.g.
        ``{"molecule": 1191, "expression": 978}``. No decoders when None.
    predict_dims : dict of str to int, optional
        Output size of a linear profile predictor per biological modality, e.g.
        ``{"expression": 978}``: ``Linear(latent_dim, dim)`` from the molecular anchor to the
        modality's standardized profile (the pretraining option ``lambda_profile``). Built after
        every other module, so a seeded initialisation of the rest does not depend on it. Like
        the decoders, not part of the exported encoder. None: no predictors.

    Attributes
    ----------
    gnn : GINVirtualNode
    projectors : nn.ModuleDict
        Keys ``"1d"``, ``"2d"``, ``"3d"`` and one per bio modality (see ``bio_keys``).
    tree_vq : TreeVQ or None
    decoders : nn.ModuleDict
        One :class:`~chmr_sklearn.nn.blocks.Decoder` per ``recon_dims`` entry (see ``decoder_keys``).
    molecular_modalities : tuple of str
        ``("1d", "2d", "3d")``, or ``("1d", "2d")`` when ``conf_dim == 0``: the keys of
        :meth:`encode`'s output, in the order embeddings concatenate them.
    predictors : nn.ModuleDict
        One ``nn.Linear`` per ``predict_dims`` entry (see ``predictor_keys``).
    bio_keys, decoder_keys, predictor_keys : dict of str to str
        User name -> ModuleDict key (they differ only for names such as
        ``"cell.painting"`` that ModuleDict cannot hold). Use the user names
        with :meth:`encode_bio` and :meth:`decode`.
    config : dict
        The constructor arguments: ``CHMRModel(**model.config)`` rebuilds the
        same architecture (store it next to the weights in checkpoints).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = CHMRModel(fp_dim=6, conf_dim=4, bio_dims={"expression": 5}, latent_dim=8,
    ...                   gin={"num_layers": 2, "emb_dim": 8}, tree_depth=3,
    ...                   recon_dims={"molecule": 6}).eval()
    >>> graph = {"x": torch.zeros(3, 9, dtype=torch.long),
    ...          "edge_index": torch.tensor([[0, 1], [1, 0]]),
    ...          "edge_attr": torch.zeros(2, 3, dtype=torch.long),
    ...          "batch": torch.tensor([0, 0, 1]), "num_graphs": 2,
    ...          "conf": torch.randn(2, 4), "conf_mask": torch.tensor([True, False])}
    >>> z = model.encode(torch.rand(2, 6), graph)
    >>> sorted(z), model.anchor(z).shape
    (['1d', '2d', '3d'], torch.Size([2, 8]))
    >>> bool((z["3d"][1] == 0).all())  # no conformer -> zero 3-D latent
    True
    >>> model.encode_bio("expression", torch.randn(2, 5)).shape
    torch.Size([2, 8])
    >>> model.decode("molecule", model.anchor(z)).shape
    torch.Size([2, 6])
    """

    def __init__(
        self,
        fp_dim: int = 1191,
        conf_dim: int | None = None,
        bio_dims: Mapping[str, int] | None = None,
        latent_dim: int = 300,
        gin: Mapping | None = None,
        tree: str | None = "tree",
        tree_depth: int = 6,
        eta: float = 1.0,
        recon_dims: Mapping[str, int] | None = None,
        predict_dims: Mapping[str, int] | None = None,
    ):
        super().__init__()
        if conf_dim is None:
            raise TypeError("CHMRModel() missing required argument 'conf_dim'")
        if conf_dim < 0:
            raise ValueError(f"conf_dim must be >= 0, got {conf_dim}")
        if tree not in ("tree", "flat", None):
            raise ValueError(f"tree must be 'tree', 'flat' or None, got {tree!r}")
        bio_dims = _check_dims(bio_dims, "bio_dims")
        recon_dims = _check_dims(recon_dims, "recon_dims")
        predict_dims = _check_dims(predict_dims, "predict_dims")
        gin = dict(gin or {})
        self.config = {
            "fp_dim": int(fp_dim), "conf_dim": int(conf_dim), "bio_dims": dict(bio_dims),
            "latent_dim": int(latent_dim), "gin": dict(gin), "tree": tree,
            "tree_depth": int(tree_depth), "eta": float(eta),
            "recon_dims": dict(recon_dims) if recon_dims else None,
            "predict_dims": dict(predict_dims) if predict_dims else None,
        }
        self.latent_dim = int(latent_dim)

        self.gnn = GINVirtualNode(**gin)
        self.bio_keys = _module_keys(bio_dims, reserved=MOLECULAR_MODALITIES)
        self.projectors = nn.ModuleDict()
        self.projectors["1d"] = Projector(fp_dim, latent_dim)
        self.projectors["2d"] = Projector(self.gnn.emb_dim, latent_dim)
        if conf_dim > 0:
            self.projectors["3d"] = Projector(conf_dim, latent_dim)
        for name, dim in bio_dims.items():
            self.projectors[self.bio_keys[name]] = Projector(dim, latent_dim)

        self.tree_vq = (
            None if tree is None
            else TreeVQ(latent_dim, depth=tree_depth, eta=eta, flat=(tree == "flat"))
        )

        self.decoder_keys = _module_keys(recon_dims)
        self.decoders = nn.ModuleDict()
        for name, dim in recon_dims.items():
            self.decoders[self.decoder_keys[name]] = Decoder(latent_dim, dim)

        self.predictor_keys = _module_keys(predict_dims)
        self.predictors = nn.ModuleDict()
        for name, dim in predict_dims.items():
            self.predictors[self.predictor_keys[name]] = nn.Linear(latent_dim, dim)

    @property
    def molecular_modalities(self) -> tuple[str, ...]:
        """Keys of :meth:`encode`'s output in concatenation order; ``"3d"`` only with ``conf_dim > 0``."""
        return MOLECULAR_MODALITIES if "3d" in self.projectors else MOLECULAR_MODALITIES[:2]

    @property
    def bio_names(self) -> list[str]:
        """The biological modality names, as given in ``bio_dims``."""
        return list(self.bio_keys)

    def encode(
        self,
        fp: Tensor,
        graph: Mapping,
        conf: Tensor | None = None,
        conf_mask: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Molecular latents of a batch.

        Parameters
        ----------
        fp : Tensor of shape (B, fp_dim)
            Fingerprint bits as floats.
        graph : dict
            ``x``, ``edge_index``, ``edge_attr``, ``batch``, ``num_graphs`` (see
            :class:`~chmr_sklearn.nn.gin.GINVirtualNode`); may also carry
            ``conf`` and ``conf_mask``.
        conf : Tensor of shape (B, conf_dim), optional
            Standardized 3-D descriptors; taken from ``graph["conf"]`` when None.
        conf_mask : Tensor of shape (B,), optional
            False (or 0) where the conformer failed; taken from
            ``graph["conf_mask"]`` when None, all True when absent from both.

        Returns
        -------
        dict
            ``{"1d", "2d", "3d"}`` -> Tensor (B, latent_dim). Rows with a
            False ``conf_mask`` have an all-zero ``"3d"`` latent (their
            ``conf`` row is ignored, NaN included). A model without the 3-D
            modality returns ``"1d"`` and ``"2d"`` only and ignores ``conf``.
        """
        z1 = self.projectors["1d"](fp.to(self._dtype()))
        h2 = self.gnn(graph["x"], graph["edge_index"], graph["edge_attr"],
                      graph["batch"], graph["num_graphs"])
        z2 = self.projectors["2d"](h2)
        if "3d" not in self.molecular_modalities:
            return {"1d": z1, "2d": z2}
        if conf is None:
            if "conf" not in graph:
                raise KeyError("encode() needs conf=... or graph['conf']")
            conf = graph["conf"]
        if conf_mask is None:
            conf_mask = graph.get("conf_mask")
        conf = conf.to(self._dtype())
        if conf_mask is None:
            conf_mask = torch.ones(conf.shape[0], dtype=torch.bool, device=conf.device)
        mask = torch.as_tensor(conf_mask, device=conf.device).reshape(-1, 1).bool()
        # where, not multiply: NaN * 0 would still be NaN for failed conformers.
        conf = torch.where(mask, conf, torch.zeros_like(conf))
        z3 = self.projectors["3d"](conf)
        z3 = torch.where(mask, z3, torch.zeros_like(z3))
        return {"1d": z1, "2d": z2, "3d": z3}

    def forward(
        self, fp: Tensor, graph: Mapping, conf: Tensor | None = None, conf_mask: Tensor | None = None
    ) -> dict[str, Tensor]:
        """Same as :meth:`encode`."""
        return self.encode(fp, graph, conf, conf_mask)

    @staticmethod
    def anchor(latents: Mapping[str, Tensor]) -> Tensor:
        """Molecular anchor: the sum (not mean) of the ``"1d"``, ``"2d"`` (and ``"3d"``) latents."""
        return sum(latents[m] for m in MOLECULAR_MODALITIES if m in latents)

    def encode_bio(self, name: str, x: Tensor) -> Tensor:
        """Latent of biological modality ``name`` (its user name) for inputs ``x`` (B, d)."""
        if name not in self.bio_keys:
            raise KeyError(f"unknown bio modality {name!r}; known: {self.bio_names}")
        return self.projectors[self.bio_keys[name]](x.to(self._dtype()))

    def decode(self, name: str, z: Tensor) -> Tensor:
        """Reconstruction logits of node type ``name`` from latents ``z`` (B, latent_dim)."""
        if name not in self.decoder_keys:
            raise KeyError(f"no decoder {name!r}; known: {list(self.decoder_keys)}")
        return self.decoders[self.decoder_keys[name]](z)

    def predict_profile(self, name: str, anchor: Tensor) -> Tensor:
        """Standardized profile of modality ``name`` predicted linearly from ``anchor`` (B, latent_dim)."""
        if name not in self.predictor_keys:
            raise KeyError(f"no profile predictor {name!r}; known: {list(self.predictor_keys)}")
        return self.predictors[self.predictor_keys[name]](anchor)

    def molecular_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` of the molecular encoder: the GIN and the 1D/2D/3D projectors."""
        prefixes = ("gnn.", *(f"projectors.{m}." for m in self.molecular_modalities))
        return [(k, p) for k, p in self.named_parameters() if k.startswith(prefixes)]

    @staticmethod
    def encoder_weights(state_dict: Mapping[str, Tensor]) -> OrderedDict:
        """The entries of ``state_dict`` that belong to the encoder: without the modules only
        pretraining uses (CPR decoders, profile predictors). Works on a training checkpoint's
        weights without building the module.

        Examples
        --------
        >>> import torch
        >>> list(CHMRModel.encoder_weights({"gnn.w": torch.zeros(1), "decoders.m.w": torch.zeros(1),
        ...                                 "predictors.e.w": torch.zeros(1)}))
        ['gnn.w']
        """
        return OrderedDict((k, v) for k, v in state_dict.items() if not k.startswith(_TRAINING_ONLY))

    def encoder_state_dict(self) -> OrderedDict:
        """State dict without the decoders and predictors (GIN, projectors, Tree-VQ): the shipped encoder."""
        return self.encoder_weights(self.state_dict())

    def load_encoder_state_dict(self, state_dict: Mapping[str, Tensor]) -> None:
        """Load weights saved by :meth:`encoder_state_dict`, strictly for the encoder part.

        Decoder and predictor weights are neither required nor loaded; any other missing
        or unexpected key raises ``RuntimeError``.
        """
        missing, unexpected = self.load_state_dict(self.encoder_weights(state_dict), strict=False)
        missing = [k for k in missing if not k.startswith(_TRAINING_ONLY)]
        if missing or unexpected:
            raise RuntimeError(
                f"encoder state mismatch: missing {missing}, unexpected {list(unexpected)}"
            )

    def _dtype(self) -> torch.dtype:
        return self.projectors["1d"][1].weight.dtype
