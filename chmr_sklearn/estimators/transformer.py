"""CHMRTransformer: molecules -> CHMR embeddings (and hierarchical tree codes)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import __version__
from .._inputs import MoleculeColumn, check_molecule_input, raise_for_invalid
from .._runtime import resolve_device
from ..featurize.fingerprints import FingerprintFeaturizer
from ..pretrain.checkpoint import build_model, encoder_spec, load_checkpoint
from ..pretrain.config import PretrainConfig
from ._engine import CacheInfo, EmbeddingEngine, EngineState

__all__ = ["DEFAULT_MODEL", "CHMRTransformer"]

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "pretrained" / "default.pt"
OUTPUTS = ("concat", "anchor", "latents")
# Parameters of this estimator that are PretrainConfig fields of the same name.
_PRETRAIN_PARAMS = ("max_epochs", "batch_size", "lr", "lambda_sca", "lambda_tree", "use_sca", "use_tree_vq", "tree",
                    "use_cpr", "fill", "cpr_source")
_MB = 1 << 20


@functools.lru_cache(maxsize=4)
def _read_checkpoint(path: str, mtime: float):
    # Cached per (path, mtime): many estimators (GridSearchCV clones) share one read.
    return load_checkpoint(path)


class CHMRTransformer(TransformerMixin, BaseEstimator):
    """Embed molecules with a (pretrained) CHMR encoder.

    The embedding of a molecule needs only its structure: the 1D fingerprint, the 2D graph
    (GIN) and a 3D conformer are encoded into three 300-d latents; their sum is the *anchor*
    that pretraining aligned with cell morphology / gene expression profiles.

    Parameters
    ----------
    pretrained : "default", path or None, default="default"
        ``"default"``: the model shipped in the package (offline); ``fit`` only checks the
        input. A path: a checkpoint written by ``chmr pretrain`` / :class:`Pretrainer`.
        ``None``: pretrain from scratch on the molecules given to ``fit`` with the ``profiles``
        given to ``fit``.
    output : {"concat", "anchor", "latents"}, default="concat"
        ``"concat"``: ``[fingerprint (1191) ; z1d ; z2d ; z3d]`` (2091 columns, the CHMR
        downstream input); ``"anchor"``: ``z1d + z2d + z3d`` (300); ``"latents"``: the three
        latents (900).
    max_epochs, batch_size, lr, lambda_sca, lambda_tree, use_sca, use_tree_vq, tree, use_cpr, fill, cpr_source
        Pretraining settings (used only when ``pretrained=None``), see
        :class:`~chmr_sklearn.pretrain.PretrainConfig`. ``batch_size`` is also the inference
        batch size on an accelerator; on CPU the encoder takes at most 64 molecules per
        forward pass (2.3x faster than 512 there: the message tensors stay in cache).
    checkpoint_dir : str, optional
        Pretraining checkpoints go here; an interrupted ``fit`` resumes from them.
    smiles_col : str or int, default="smiles"
        Molecule column of a DataFrame / 2-D array input.
    on_invalid : {"raise", "nan"}, default="raise"
        ``"nan"`` gives NaN rows (and tree code -1) for invalid molecules.
    n_jobs : int, optional
        Worker processes that featurize *and* encode (one torch thread each). On Linux they
        are forked from this process for each call (ready in milliseconds, the encoder
        inherited) when at least 128 molecules are new. Elsewhere, or under a
        ``joblib.parallel_config(backend=...)`` other than loky, joblib runs them: from 512
        new molecules, or 2,048 while its worker pool is not yet running (starting a worker
        costs seconds). ``None`` uses the cores the way torch does:
        as many workers as ``torch.get_num_threads()`` (the physical cores unless
        ``OMP_NUM_THREADS`` / ``torch.set_num_threads`` say otherwise; 1 inside a joblib
        worker), at most 8, or the ``n_jobs`` of an active ``joblib.parallel_config``. ``1``: everything
        in this process. ``-1``: every logical core.
    device : str, default="auto"
        Torch device; ``"auto"`` picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds pretraining and the conformer embedding. An int is used as is; a
        ``RandomState`` draws one seed per ``fit`` (kept in ``conformer_seed_``), so every
        ``transform`` of a fitted transformer uses the same conformers; ``None`` → 0
        (embeddings are always reproducible).
    cache : bool, default=True
        Keep embeddings in memory, keyed by canonical SMILES (dropped when pickling), in a
        least-recently-used cache bounded by ``cache_size``. Thread-safe; counters in
        :meth:`cache_info`.
    cache_size : float, default=512
        Bound of the in-memory cache in MB (as ``SVC(cache_size=200)``): about 8.4 kB per
        molecule, so the default holds ~60,000 molecules; the least recently used are dropped
        first. ``0`` keeps nothing.
    cache_dir : str or Path, optional
        Also keep embeddings on disk, in ``cache_dir/chmr_embeddings.sqlite``, shared by other
        processes, clones and later sessions. Rows are keyed by canonical SMILES and a hash of
        everything that changes the numbers (model weights, precision, conformer seed,
        featurization settings, library versions, device type); a cached embedding equals the
        computed one bit for bit. An unreadable file raises
        :class:`~chmr_sklearn.estimators._disk_cache.CacheError` (it is never deleted). About
        8.4 kB per molecule.
    precision : {"float32", "float64"}, default="float32"
        Arithmetic of the encoder at inference. ``"float32"`` (about 3x faster than float64):
        a molecule's embedding computed alone, in a large batch, with any ``n_jobs``, from
        the disk cache or after unpickling agrees within 1e-5 relative (max over entries,
        scaled by the row's largest magnitude; tests/estimators/test_transformer.py) and
        usually bit for bit. ``"float64"`` computes in float64 and rounds once, so results
        never depend on batching: bit-for-bit agreement everywhere. Precision is part of the
        disk-cache key: the two never mix.
    pretrain_options : dict, optional
        Further :class:`~chmr_sklearn.pretrain.PretrainConfig` fields for pretraining
        (``pretrained=None`` only), e.g. the recipe options that let scarce profiles drive
        learning: ``{"profiled_per_batch": 32, "graph_mol_knn": 5, "sca_propagated": True,
        "lr_schedule": "warmup_cosine", "warmup_epochs": 1.0, "lr_floor": 0.05}``
        (:data:`~chmr_sklearn.pretrain.RECIPES` ``["new"]``). Fields that are parameters of
        this estimator (``lr``, ``fill``, ...) are refused here: set the parameter.
    verbose : int, default=0
        Progress bars for featurization and pretraining.

    Attributes
    ----------
    model_ : CHMRModel
        The encoder, in eval mode.
    config_ : PretrainConfig
        Settings the encoder was pretrained with.
    history_ : list of dict
        Pretraining loss per epoch and component (when known).
    conformer_seed_ : int
        Seed of the conformer embedding, fixed at ``fit`` (see ``random_state``).
    n_features_in_, feature_names_in_
        As in scikit-learn.

    Examples
    --------
    >>> from chmr_sklearn import CHMRTransformer
    >>> emb = CHMRTransformer().fit_transform(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"])
    >>> emb.shape
    (3, 2091)
    >>> CHMRTransformer(output="anchor").fit(["CCO"]).tree_codes(["CCO", "CCN"]).shape
    (2, 6)
    """

    _parameter_constraints: ClassVar[dict] = {
        "pretrained": [StrOptions({"default"}), str, Path, None],
        "output": [StrOptions(set(OUTPUTS))],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lambda_sca": [Interval(Real, 0, None, closed="left")],
        "lambda_tree": [Interval(Real, 0, None, closed="left")],
        "use_sca": ["boolean"],
        "use_tree_vq": ["boolean"],
        "tree": [StrOptions({"tree", "flat"})],
        "use_cpr": ["boolean"],
        "fill": [StrOptions({"propagate", "mean", "zero"})],
        "cpr_source": [StrOptions({"modality", "anchor"})],
        "checkpoint_dir": [str, Path, None],
        "smiles_col": [str, Integral],
        "on_invalid": [StrOptions({"raise", "nan"})],
        "n_jobs": [Integral, None],
        "device": [str],
        "random_state": ["random_state"],
        "cache": ["boolean"],
        "cache_size": [Interval(Real, 0, None, closed="left")],
        "cache_dir": [str, Path, None],
        "precision": [StrOptions({"float64", "float32"})],
        "pretrain_options": [dict, None],
        "verbose": ["verbose"],
    }

    def __init__(self, pretrained="default", output="concat", *, max_epochs=20, batch_size=512, lr=1e-4,
                 lambda_sca=10.0, lambda_tree=1.0, use_sca=True, use_tree_vq=True, tree="tree", use_cpr=True,
                 fill="propagate", cpr_source="modality", checkpoint_dir=None, smiles_col="smiles",
                 on_invalid="raise", n_jobs=None, device="auto", random_state=None, cache=True, cache_size=512,
                 cache_dir=None, precision="float32", pretrain_options=None, verbose=0):
        self.pretrained = pretrained
        self.output = output
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lambda_sca = lambda_sca
        self.lambda_tree = lambda_tree
        self.use_sca = use_sca
        self.use_tree_vq = use_tree_vq
        self.tree = tree
        self.use_cpr = use_cpr
        self.fill = fill
        self.cpr_source = cpr_source
        self.checkpoint_dir = checkpoint_dir
        self.smiles_col = smiles_col
        self.on_invalid = on_invalid
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.cache = cache
        self.cache_size = cache_size
        self.cache_dir = cache_dir
        self.precision = precision
        self.pretrain_options = pretrain_options
        self.verbose = verbose

    # ---- fitting ------------------------------------------------------------------------
    def fit(self, X, y=None, profiles: dict | None = None):
        """Load the pretrained encoder, or pretrain one on ``X`` (+ ``profiles``).

        Parameters
        ----------
        X : list, ndarray, Series or DataFrame of SMILES / RDKit Mol
        y : ignored
            Labels are never used in pretraining.
        profiles : dict {name: DataFrame or ProfileTable}, optional
            Biological modalities for pretraining (``pretrained=None`` only), e.g.
            ``{"expression": l1000_df, "morphology": cellpainting_df}``; each DataFrame has a
            ``smiles`` (or ``inchikey``) column and numeric feature columns. Missing molecules
            are expected.

        Returns
        -------
        self
        """
        self._validate_params()
        column = self._check_input(X, reset=True)
        self._state = EngineState(self._cache_bytes())
        self.conformer_seed_ = self._draw_seed()
        if self.pretrained is None:
            self._pretrain(column, profiles)
        else:
            if profiles is not None:
                raise ValueError("profiles are only used when pretraining (pretrained=None); "
                                 f"this transformer loads pretrained={self.pretrained!r}.")
            self._load(DEFAULT_MODEL if self.pretrained == "default" else Path(self.pretrained))
        return self

    def _draw_seed(self) -> int:
        # check_random_state semantics, drawn once per fit; None stays 0 (reproducible).
        if self.random_state is None:
            return 0
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _seed(self) -> int:
        seed = getattr(self, "conformer_seed_", None)
        return self._draw_seed() if seed is None else seed

    def _cache_bytes(self) -> int:
        return int(self.cache_size * _MB)

    def _pretrain(self, column: MoleculeColumn, profiles) -> None:
        from ..pretrain.corpus import PretrainCorpus  # heavy imports, only for pretraining
        from ..pretrain.trainer import Pretrainer

        config = PretrainConfig(**self._pretrain_settings())
        corpus = PretrainCorpus.build(list(column.values), profiles, config, on_invalid=self.on_invalid,
                                      n_jobs=self.n_jobs, verbose=self.verbose)
        trainer = Pretrainer(config, device=self.device, checkpoint_dir=self.checkpoint_dir,
                             verbose=self.verbose).fit(corpus)
        self.model_ = trainer.model_
        self.model_.decoders = torch.nn.ModuleDict()  # decoders only serve pretraining
        self.config_ = config
        self.scaler_ = corpus.scaler
        self.history_ = trainer.history_
        self.device_ = resolve_device(self.device)

    def _pretrain_settings(self) -> dict:
        """PretrainConfig fields: this estimator's parameters, then ``pretrain_options``."""
        settings = {name: getattr(self, name) for name in _PRETRAIN_PARAMS}
        options = dict(self.pretrain_options or {})
        fields = {f.name for f in dataclasses.fields(PretrainConfig)} - {"extra", "seed"}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise ValueError(f"pretrain_options has unknown key(s) {unknown}; valid keys are the PretrainConfig "
                             f"fields: {sorted(fields - set(settings))}.")
        shadowed = sorted(set(options) & set(settings))
        if shadowed:
            raise ValueError(f"pretrain_options sets {shadowed}, which are parameters of CHMRTransformer: "
                             f"set them with set_params instead.")
        return {**settings, **options, "seed": self._seed()}

    def _load(self, path: Path) -> None:
        if not path.is_file():
            hint = " (the shipped default model is missing: reinstall chmr_sklearn)" if path == DEFAULT_MODEL else ""
            raise FileNotFoundError(f"No CHMR checkpoint at {path}{hint}.")
        ckpt = _read_checkpoint(str(path), path.stat().st_mtime)
        # Loading must leave torch's global generator as it was (the random initial weights are
        # overwritten at once); a meta-device build would avoid drawing but costs ~1 s the
        # first time in a process, a start-up cost.
        with torch.random.fork_rng(devices=[]):
            model = build_model(encoder_spec(ckpt["spec"]))
        model.load_encoder_state_dict(ckpt["model"])
        self.device_ = resolve_device(self.device)
        self.model_ = model.to(self.device_).eval()
        self.config_ = ckpt.config
        self.scaler_ = copy.deepcopy(ckpt["scaler"])
        self.history_ = ckpt["meta"].get("history", [])

    # ---- embedding ----------------------------------------------------------------------
    def _check_input(self, X, *, reset: bool) -> MoleculeColumn:
        return check_molecule_input(self, X, reset=reset)

    def _engine(self) -> EmbeddingEngine:
        """The embedding engine of this fitted transformer, with its current parameters."""
        check_is_fitted(self, "model_")
        state = getattr(self, "_state", None)
        if state is None:  # unpickled from an older version, or assembled by hand
            state = self.__dict__.setdefault("_state", EngineState(self._cache_bytes()))
        state.resize(self._cache_bytes())
        return EmbeddingEngine(
            model=self.model_, config=self.config_, scaler=self.scaler_, device=self.device_,
            precision=self.precision, output=self.output, batch_size=self.batch_size, n_jobs=self.n_jobs,
            seed=self._seed(), verbose=self.verbose, cache=self.cache and self.cache_size > 0,
            cache_dir=self.cache_dir, state=state, version=__version__,
        )

    def _embed(self, X, *, codes: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Output rows of every input row (NaN when invalid) and, with ``codes``, tree codes."""
        engine = self._engine()
        entries = self._check_input(X, reset=False).values
        keys = engine.keys(entries)
        raise_for_invalid(np.array([k is not None for k in keys], dtype=bool), entries, self.on_invalid)
        return engine.embed(keys, codes=codes)

    def cache_info(self) -> CacheInfo:
        """Hits, misses and size of the in-memory cache, like ``functools.lru_cache``'s.

        Returns
        -------
        CacheInfo
            ``(hits, misses, maxsize, currsize, n_molecules)``: molecule lookups answered
            from memory or not (since ``fit`` or unpickling), the bound and the bytes held
            now, and the number of embedding rows held.

        Examples
        --------
        >>> t = CHMRTransformer(cache_size=1).fit(["CCO"])
        >>> _ = t.transform(["CCO", "CCN"]); _ = t.transform(["CCO"])
        >>> info = t.cache_info()
        >>> info.hits, info.misses, info.n_molecules, info.maxsize
        (1, 2, 2, 1048576)
        """
        self._engine()
        return self._state.memory.info()

    def transform(self, X) -> np.ndarray:
        """Embed molecules.

        Large inputs are processed a few thousand distinct molecules at a time, so memory
        beyond the returned array stays bounded (the in-memory cache holds at most
        ``cache_size`` MB; :func:`chmr_sklearn.streaming.embed_file` embeds files). Safe to
        call from several threads on one fitted transformer: it changes none of its
        attributes (only the thread-safe cache).

        Parameters
        ----------
        X : list, ndarray, Series or DataFrame of SMILES / RDKit Mol

        Returns
        -------
        ndarray of float32, shape (n_samples, n_output)
            2091 (``"concat"``), 300 (``"anchor"``) or 900 (``"latents"``) columns; NaN rows
            for invalid molecules when ``on_invalid="nan"``.
        """
        return self._embed(X)[0]

    def tree_codes(self, X) -> np.ndarray:
        """Hierarchical Tree-VQ path of each molecule's anchor.

        Returns
        -------
        ndarray of int64, shape (n_samples, depth)
            Column h is the code chosen at level h (0 .. 2**(h+1) - 1); column h // 2 is its
            parent. Invalid molecules (``on_invalid="nan"``) get -1. A flat codebook gives one
            column.

        Examples
        --------
        >>> codes = CHMRTransformer().fit(["CCO"]).tree_codes(["CCO", "c1ccccc1"])
        >>> bool((codes[:, 1] // 2 == codes[:, 0]).all())
        True
        """
        return self._embed(X, codes=True)[1]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``morgan_*``, ``maccs_*``, ``z1d_*``, ``z2d_*``, ``z3d_*`` (concat), ``anchor_*`` or latents.

        ``z3d_*`` only for encoders with the 3D modality.
        """
        check_is_fitted(self, "model_")
        d = self.config_.latent_dim
        latents = [f"z{m}_{i}" for m in self.model_.molecular_modalities for i in range(d)]
        if self.output == "anchor":
            return np.asarray([f"anchor_{i}" for i in range(d)], dtype=object)
        if self.output == "latents":
            return np.asarray(latents, dtype=object)
        fp = FingerprintFeaturizer(radius=self.config_.fp_radius, n_bits=self.config_.fp_bits)
        return np.concatenate([fp.get_feature_names_out(), np.asarray(latents, dtype=object)])

    # ---- persistence --------------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_state", None)  # the cache, the float64 copy, a lock: rebuilt on load
        if "model_" in state and state["device_"].type != "cpu":
            # Pickles always hold CPU tensors so they load on machines without a GPU.
            state["model_"] = copy.deepcopy(self.model_).cpu()
            state["device_"] = torch.device("cpu")
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._state = EngineState(self._cache_bytes()) if "cache_size" in state else EngineState(512 * _MB)
        if "model_" in state:
            # A pickle from a GPU machine is moved to this machine's device on load.
            try:
                self.device_ = resolve_device(self.device)
            except ValueError as err:  # e.g. saved with device="cuda", loaded where there is none
                warnings.warn(f"CHMRTransformer was saved with device={self.device!r}, which this machine "
                              f"lacks ({err}); it runs on the CPU. Set device='auto' to silence this.",
                              UserWarning, stacklevel=2)
                self.device_ = torch.device("cpu")
            self.model_ = self.model_.to(self.device_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.input_tags.two_d_array = True
        tags.target_tags.required = False
        tags.non_deterministic = False
        return tags
