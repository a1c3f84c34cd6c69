"""CHMRTransformer: molecules -> CHMR embeddings (and hierarchical tree codes)."""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import json
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import rdkit
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import __version__
from .._inputs import MoleculeColumn, check_molecule_input, raise_for_invalid, to_smiles
from .._runtime import deterministic, resolve_device
from ..featurize.fingerprints import FingerprintFeaturizer
from ..featurize.molecular import featurize_molecular
from ..pretrain.checkpoint import build_model, load_checkpoint
from ..pretrain.config import PretrainConfig
from ..pretrain.corpus import PretrainCorpus
from ..pretrain.trainer import Pretrainer
from ._disk_cache import EmbeddingCache

__all__ = ["DEFAULT_MODEL", "CHMRTransformer"]

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "pretrained" / "default.pt"
OUTPUTS = ("concat", "anchor", "latents")
MODALITIES = ("1d", "2d", "3d")
# transform featurizes + encodes this many distinct molecules at a time (rounded to whole
# inference batches), so its working memory beyond the output array does not grow with n.
_TRANSFORM_CHUNK = 4096


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
        batch size.
    checkpoint_dir : str, optional
        Pretraining checkpoints go here; an interrupted ``fit`` resumes from them.
    smiles_col : str or int, default="smiles"
        Molecule column of a DataFrame / 2-D array input.
    on_invalid : {"raise", "nan"}, default="raise"
        ``"nan"`` gives NaN rows (and tree code -1) for invalid molecules.
    n_jobs : int, optional
        Worker processes for featurization.
    device : str, default="auto"
        Torch device; ``"auto"`` picks CUDA when available.
    random_state : int, optional
        Seeds pretraining and the conformer embedding (``None`` → 0: embeddings are always
        reproducible).
    cache : bool, default=True
        Keep embeddings in memory, keyed by canonical SMILES (dropped when pickling).
    cache_dir : str or Path, optional
        Also keep embeddings on disk, in ``cache_dir/chmr_embeddings.sqlite``, shared by other
        processes, clones and later sessions. Rows are keyed by canonical SMILES and a hash of
        everything that changes the numbers (model weights, precision, conformer seed,
        featurization settings, library versions, device type); a cached embedding equals the
        computed one bit for bit. An unreadable file raises
        :class:`~chmr_sklearn.estimators._disk_cache.CacheError` (it is never deleted). About
        8.4 kB per molecule.
    precision : {"float64", "float32"}, default="float64"
        Arithmetic of the encoder at inference. ``"float64"`` makes each molecule's embedding
        independent of the other molecules in its batch, so cached, recomputed and unpickled
        embeddings (and predictions) agree bit for bit. ``"float32"`` runs the GNN about 3x
        faster (benchmarks/results/embed.md) but the last bits may change with batching.
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
        "cache_dir": [str, Path, None],
        "precision": [StrOptions({"float64", "float32"})],
        "verbose": ["verbose"],
    }

    def __init__(self, pretrained="default", output="concat", *, max_epochs=20, batch_size=512, lr=1e-4,
                 lambda_sca=10.0, lambda_tree=1.0, use_sca=True, use_tree_vq=True, tree="tree", use_cpr=True,
                 fill="propagate", cpr_source="modality", checkpoint_dir=None, smiles_col="smiles",
                 on_invalid="raise", n_jobs=None, device="auto", random_state=None, cache=True, cache_dir=None,
                 precision="float64", verbose=0):
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
        self.cache_dir = cache_dir
        self.precision = precision
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
        self._cache, self._canon, self._model64, self._weights_sha256 = {}, {}, None, None
        if self.pretrained is None:
            self._pretrain(column, profiles)
        else:
            if profiles is not None:
                raise ValueError("profiles are only used when pretraining (pretrained=None); "
                                 f"this transformer loads pretrained={self.pretrained!r}.")
            self._load(DEFAULT_MODEL if self.pretrained == "default" else Path(self.pretrained))
        return self

    def _seed(self) -> int:
        if self.random_state is None:
            return 0
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(np.random.RandomState(self.random_state).randint(2**31 - 1)) if not isinstance(
            self.random_state, np.random.RandomState) else int(self.random_state.randint(2**31 - 1))

    def _pretrain(self, column: MoleculeColumn, profiles) -> None:
        config = PretrainConfig(
            max_epochs=self.max_epochs, batch_size=self.batch_size, lr=self.lr, lambda_sca=self.lambda_sca,
            lambda_tree=self.lambda_tree, use_sca=self.use_sca, use_tree_vq=self.use_tree_vq, tree=self.tree,
            use_cpr=self.use_cpr, fill=self.fill, cpr_source=self.cpr_source, seed=self._seed(),
        )
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

    def _load(self, path: Path) -> None:
        if not path.is_file():
            hint = " (the shipped default model is missing: reinstall chmr_sklearn)" if path == DEFAULT_MODEL else ""
            raise FileNotFoundError(f"No CHMR checkpoint at {path}{hint}.")
        ckpt = _read_checkpoint(str(path), path.stat().st_mtime)
        model = build_model(dict(ckpt["spec"], recon_dims=None))
        state = {k: v for k, v in ckpt["model"].items() if not k.startswith("decoders.")}
        model.load_state_dict(state)
        self.device_ = resolve_device(self.device)
        self.model_ = model.to(self.device_).eval()
        self.config_ = ckpt.config
        self.scaler_ = copy.deepcopy(ckpt["scaler"])
        self.history_ = ckpt["meta"].get("history", [])

    # ---- embedding ----------------------------------------------------------------------
    def _check_input(self, X, *, reset: bool) -> MoleculeColumn:
        return check_molecule_input(self, X, reset=reset)

    def _embed(self, X, *, codes: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Output rows of every input row (NaN when invalid) and, with ``codes``, tree codes."""
        check_is_fitted(self, "model_")
        entries = self._check_input(X, reset=False).values
        keys = self._keys(entries)
        raise_for_invalid(np.array([k is not None for k in keys], dtype=bool), entries, self.on_invalid)
        return self._embed_keys(keys, codes=codes)

    def _keys(self, entries) -> list[str | None]:
        """Canonical SMILES of each entry (``None`` when invalid): the cache keys."""
        return [self._key(e) for e in entries]

    def _key(self, entry: Any) -> str | None:
        # With the in-memory cache on, a raw string -> canonical map skips RDKit on repeats;
        # without it nothing is kept, so streaming millions of rows stays flat in memory.
        if not isinstance(entry, str):
            return to_smiles(entry)
        if not self.cache:
            return to_smiles(entry)
        canon = self._canon.get(entry, False)
        if canon is False:
            canon = self._canon[entry] = to_smiles(entry)
        return canon

    def _embed_keys(self, keys: list[str | None], *, codes: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Embed canonical SMILES ``keys`` (``None``: a NaN row and code -1), chunk by chunk.

        The distinct molecules are featurized, encoded and projected to the output
        ``_chunk_size()`` at a time, so the working memory beyond the output is bounded.
        Repeated molecules are computed once and copied to each of their rows.
        """
        if codes and self.model_.tree_vq is None:
            raise ValueError("This encoder was pretrained without Tree-VQ (use_tree_vq=False): no tree codes.")
        first: dict[str, int] = {}
        inverse = np.full(len(keys), -1, dtype=np.intp)
        for i, k in enumerate(keys):
            if k is not None:
                inverse[i] = first.setdefault(k, len(first))
        distinct = list(first)
        # Rows grouped by molecule (invalid rows, -1, first): one slice per chunk of molecules.
        order = np.argsort(inverse, kind="stable")
        grouped = inverse[order]
        out = np.full((len(keys), self._n_output()), np.nan, dtype=np.float32)
        tree = np.full((len(keys), self.model_.tree_vq.n_levels), -1, dtype=np.int64) if codes else None
        seed, step = self._seed(), self._chunk_size()
        with self._disk_cache(seed) as disk:
            for start in range(0, len(distinct), step):
                block = distinct[start : start + step]
                rows = self._rows(block, disk, seed)
                lo, hi = np.searchsorted(grouped, [start, start + len(block)])
                pos, which = order[lo:hi], grouped[lo:hi] - start
                out[pos] = self._project(rows)[which]
                if codes:
                    tree[pos] = self._route(rows)[which]
        return out, tree

    def _chunk_size(self) -> int:
        # Whole inference batches, so chunking never changes how molecules are batched.
        return max(1, _TRANSFORM_CHUNK // self.batch_size) * self.batch_size

    def _rows(self, block: list[str], disk: EmbeddingCache | None, seed: int) -> np.ndarray:
        """Full ``[fp ; z1d ; z2d ; z3d]`` rows of distinct molecules: memory, then disk, then computed."""
        rows = np.empty((len(block), self._row_width()), dtype=np.float32)
        memory = self._cache if self.cache else {}
        todo = []
        for j, k in enumerate(block):
            row = memory.get(k)
            if row is None:
                todo.append(j)
            else:
                rows[j] = row
        if todo and disk is not None:
            stored = disk.get([block[j] for j in todo])
            for j in todo:
                if block[j] in stored:
                    rows[j] = stored[block[j]]
            todo = [j for j in todo if block[j] not in stored]
        if todo:
            rows[todo] = self._compute([block[j] for j in todo], seed)
            if disk is not None:
                disk.put([block[j] for j in todo], rows[todo])
        if self.cache:
            for j, k in enumerate(block):
                memory.setdefault(k, rows[j])
        return rows

    def _compute(self, smiles: list[str], seed: int) -> np.ndarray:
        cfg = self.config_
        feats, _ = featurize_molecular(
            smiles, fp_radius=cfg.fp_radius, fp_bits=cfg.fp_bits, conformer_method=cfg.conformer_method,
            conformer_hydrogens=cfg.conformer_hydrogens, scaler=self.scaler_, random_state=seed,
            n_jobs=self.n_jobs, verbose=self.verbose,
        )
        model = self._inference_model()
        latents = []
        with torch.no_grad(), deterministic():
            for start in range(0, len(smiles), self.batch_size):
                idx = np.arange(start, min(start + self.batch_size, len(smiles)))
                z = model.encode(**feats.torch_batch(idx, self.device_))
                latents.append(torch.cat([z[m] for m in MODALITIES], dim=1).float().cpu().numpy())
        return np.concatenate([feats.fp, np.concatenate(latents)], axis=1).astype(np.float32)

    def _inference_model(self):
        """The encoder in eval mode, in the arithmetic of ``precision``.

        In float32 a molecule's embedding changes in the last bits with the other molecules of
        its batch (BLAS blocking); computing in float64 and rounding once to float32 makes it
        independent of batching, so cached, recomputed and unpickled embeddings agree exactly.
        """
        if self.precision == "float32":
            return self.model_.eval()
        model = getattr(self, "_model64", None)
        if model is None:
            model = self._model64 = copy.deepcopy(self.model_).double().eval()
        return model

    def _row_width(self) -> int:
        return self.config_.fp_bits + 167 + 3 * self.config_.latent_dim

    def _n_output(self) -> int:
        d = self.config_.latent_dim
        return {"concat": self._row_width(), "latents": 3 * d, "anchor": d}[self.output]

    def _project(self, rows: np.ndarray) -> np.ndarray:
        """Full rows -> the columns of ``output``."""
        n_fp = self.config_.fp_bits + 167
        d = self.config_.latent_dim
        if self.output == "concat":
            return rows
        if self.output == "latents":
            return rows[:, n_fp:]
        return rows[:, n_fp : n_fp + d] + rows[:, n_fp + d : n_fp + 2 * d] + rows[:, n_fp + 2 * d :]

    def _route(self, rows: np.ndarray) -> np.ndarray:
        """Tree-VQ codes of full rows (their anchor routed down the tree)."""
        n_fp = self.config_.fp_bits + 167
        d = self.config_.latent_dim
        lat = rows[:, n_fp:]
        anchor = (lat[:, :d].astype(np.float64) + lat[:, d : 2 * d] + lat[:, 2 * d :]).astype(
            np.float64 if self.precision == "float64" else np.float32)
        with torch.no_grad():
            return self._inference_model().tree_vq.route(torch.from_numpy(anchor).to(self.device_)).cpu().numpy()

    # ---- persistent cache ---------------------------------------------------------------
    def _embedding_settings(self, seed: int | None = None) -> dict:
        """Everything that changes the embedding numbers (keys the disk cache and resumable streaming)."""
        if getattr(self, "_weights_sha256", None) is None:
            digest = hashlib.sha256()
            for name, tensor in sorted(self.model_.state_dict().items()):
                arr = tensor.detach().cpu().contiguous().numpy()
                digest.update(f"{name}:{arr.dtype}:{arr.shape}".encode())
                digest.update(arr.tobytes())
            for arr in (self.scaler_.mean, self.scaler_.std):
                digest.update(np.ascontiguousarray(arr, dtype=np.float32).tobytes())
            self._weights_sha256 = digest.hexdigest()
        cfg = self.config_
        return {
            "model_sha256": self._weights_sha256,  # weights + 3D scaler, however the model was obtained
            "precision": self.precision,
            "conformer_seed": self._seed() if seed is None else seed,
            "fp_radius": cfg.fp_radius,
            "fp_bits": cfg.fp_bits,
            "conformer_method": cfg.conformer_method,
            "conformer_hydrogens": cfg.conformer_hydrogens,
            "device": self.device_.type,  # float rounding may differ between CPU and GPU kernels
            "chmr_sklearn": __version__,
            "torch": torch.__version__,
            "rdkit": rdkit.__version__,
        }

    def _disk_cache(self, seed: int):
        if self.cache_dir is None:
            return contextlib.nullcontext(None)
        settings = self._embedding_settings(seed)
        namespace = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        return EmbeddingCache(self.cache_dir, namespace, settings, self._row_width())

    def transform(self, X) -> np.ndarray:
        """Embed molecules.

        Large inputs are processed a few thousand distinct molecules at a time, so memory
        beyond the returned array stays bounded (with ``cache=True`` the in-memory cache keeps
        every row; use ``cache=False`` and/or ``cache_dir`` for very large inputs, or
        :func:`chmr_sklearn.streaming.embed_file` for files).

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
        """``morgan_*``, ``maccs_*``, ``z1d_*``, ``z2d_*``, ``z3d_*`` (concat), ``anchor_*`` or latents."""
        check_is_fitted(self, "model_")
        d = self.config_.latent_dim
        latents = [f"z{m}_{i}" for m in MODALITIES for i in range(d)]
        if self.output == "anchor":
            return np.asarray([f"anchor_{i}" for i in range(d)], dtype=object)
        if self.output == "latents":
            return np.asarray(latents, dtype=object)
        fp = FingerprintFeaturizer(radius=self.config_.fp_radius, n_bits=self.config_.fp_bits)
        return np.concatenate([fp.get_feature_names_out(), np.asarray(latents, dtype=object)])

    # ---- persistence --------------------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        for private in ("_cache", "_canon", "_model64", "_weights_sha256"):
            state.pop(private, None)
        if "model_" in state and state["device_"].type != "cpu":
            # Pickles always hold CPU tensors so they load on machines without a GPU.
            state["model_"] = copy.deepcopy(self.model_).cpu()
            state["device_"] = torch.device("cpu")
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._cache, self._canon = {}, {}
        if "model_" in state:
            # A pickle from a GPU machine is moved to this machine's device on load.
            try:
                self.device_ = resolve_device(self.device)
            except ValueError:  # e.g. saved with device="cuda", loaded where there is none
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
