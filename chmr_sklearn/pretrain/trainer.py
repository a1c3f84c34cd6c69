"""The CHMR pretraining loop: total = CPR + lambda_sca * SCA + lambda_tree * TreeVQ.

Reproducibility and resume are designed together: every epoch draws its shuffling, random
walks and dropout from generators seeded by ``(seed, epoch)``, so a run resumed from the
checkpoint of epoch k continues exactly as the uninterrupted run would have.

Under ``torchrun`` the same loop runs data-parallel (see :mod:`.distributed`): a training step
encodes this rank's shard of the global batch (:meth:`Pretrainer._encode`), gathers the
per-molecule latents, and computes the losses over the global batch (:meth:`Pretrainer._losses`).
"""

from __future__ import annotations

import itertools
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._runtime import deterministic, reinstate_sigint_handler, resolve_device
from ..nn import CHMRModel
from ..nn._random import set_dropout_generator
from ..nn.losses import info_nce, masked_weighted_bce, vicreg
from . import distributed
from .checkpoint import build_model, encoder_spec, load_checkpoint, save_checkpoint
from .config import PretrainConfig
from .corpus import PretrainCorpus
from .distributed import DistContext, gather_rows

__all__ = ["Pretrainer", "resolve_device"]

LAST = "last.pt"
MOLECULE = "molecule"  # node type of molecules in the context graph and name of their decoder


def _batches(order: np.ndarray, batch_size: int, min_size: int = 2) -> list[np.ndarray]:
    parts = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    # BatchNorm cannot train on a single graph, and every rank needs a molecule: fold a too
    # small trailing batch into the one before (min_size = max(2, number of ranks)).
    if len(parts) > 1 and len(parts[-1]) < min_size:
        last = parts.pop()
        parts[-1] = np.concatenate([parts[-1], last])
    return parts


def _top_up(batches: list[np.ndarray], profiled: dict[str, np.ndarray], per_batch: int,
            rng: np.random.Generator) -> list[np.ndarray]:
    """Add profiled molecules to every batch until each modality has ``per_batch`` of them.

    Each modality cycles through a shuffled list of its profiled molecules; a molecule is never
    added to a batch that already holds it (a duplicate would be its own InfoNCE negative).
    """
    if per_batch <= 0 or not profiled:
        return batches
    pools = {name: rng.permutation(rows) for name, rows in profiled.items() if rows.size}
    cursor = dict.fromkeys(pools, 0)
    out = []
    for idx in batches:
        members = set(idx.tolist())
        extra: list[int] = []
        for name, pool in pools.items():
            need = min(per_batch, pool.size) - int(np.isin(idx, pool).sum()) - sum(1 for e in extra if e in pool)
            tried = 0
            while need > 0 and tried < pool.size:
                cand = int(pool[cursor[name] % pool.size])
                cursor[name] += 1
                tried += 1
                if cand not in members:
                    members.add(cand)
                    extra.append(cand)
                    need -= 1
        out.append(np.concatenate([idx, np.asarray(extra, dtype=idx.dtype)]) if extra else idx)
    return out


def _lr_factor(config: PretrainConfig, n_steps: int, steps_per_epoch: int):
    """The learning-rate multiplier of optimizer step ``step`` (a LambdaLR function)."""
    if config.lr_schedule == "official":
        # The official schedule: cosine decay over 7/16 of a half period (ends at ~0.2 lr).
        return lambda step: math.cos(math.pi * 7.0 / 16.0 * min(step, n_steps) / max(1, n_steps))
    warm = int(round(config.warmup_epochs * steps_per_epoch))
    floor = config.lr_floor

    def warmup_cosine(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = min(1.0, (step - warm) / max(1, n_steps - warm))
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return warmup_cosine


class Pretrainer:
    """Pretrain a :class:`~chmr_sklearn.nn.CHMRModel` on a :class:`PretrainCorpus`.

    Parameters
    ----------
    config : PretrainConfig
    device : str, default="auto"
    checkpoint_dir : str or Path, optional
        Where ``last.pt`` is written (atomically) every ``checkpoint_every`` epochs. When it
        already holds a checkpoint of the same configuration **and the same corpus** (same
        :meth:`PretrainCorpus.fingerprint`: molecules and profile tables), training resumes
        from it. Other settings raise ``ValueError``; other data never resumes: a warning says
        so and training starts from scratch, replacing the file after the first epoch (so CV
        folds or clones sharing the directory each train their own model).
    checkpoint_every : int, default=1
    verbose : int, default=1
        1: a progress bar over epochs with the loss components; 2: also over batches.

    Attributes
    ----------
    model_ : CHMRModel
    spec_ : dict
        What :func:`build_model` needs to rebuild the module.
    history_ : list of dict
        Per epoch: ``loss``, ``cpr``, ``sca``, ``tree`` (``profile`` with ``lambda_profile``, ``drift``
        with ``l2_sp``; means over batches) and ``seconds``.
    rank_, world_size_ : int
        This process's rank and the number of processes of the run (0 and 1 unless distributed).

    Notes
    -----
    Randomness: initial weights, dropout masks, batch order and random walks come from local
    generators seeded by ``config.seed`` (and the epoch), never from torch's or numpy's global
    generator, so pretrainings running in threads give the same weights as sequential ones.

    Interrupts: ``KeyboardInterrupt`` (Ctrl-C) stops the run at the latest after the batch in
    progress and propagates to the caller. The trainer is then unfitted (no ``model_`` /
    ``history_``), ``checkpoint_dir/last.pt`` holds the last completed epoch, never a partly
    written file, and calling :meth:`fit` again resumes from it.

    Launched by ``torchrun`` (``WORLD_SIZE > 1``), :meth:`fit` trains data-parallel with
    DistributedDataParallel (gloo on CPU, NCCL on CUDA, one GPU per process): each global
    batch of ``config.batch_size`` molecules is split over the processes and every loss is
    computed over the whole global batch, so the result matches a single-process run (see
    ``chmr_sklearn.pretrain.distributed``). Only rank 0 shows progress, writes
    checkpoints and :meth:`export` files.

    Examples
    --------
    One epoch of a small model on six molecules, two with an expression profile:

    >>> import pandas as pd
    >>> from chmr_sklearn.pretrain import PretrainConfig, PretrainCorpus
    >>> smiles = ["CCO", "CCN", "c1ccccc1O", "c1ccccc1N", "CC(=O)O", "CCCl"]
    >>> expr = pd.DataFrame({"smiles": ["CCO", "c1ccccc1O"], "g1": [0.5, -1.0], "g2": [1.0, 0.0]})
    >>> config = PretrainConfig(max_epochs=1, batch_size=6, knn_k=2, latent_dim=16, gin_layers=2)
    >>> corpus = PretrainCorpus.build(smiles, {"expression": expr}, config)
    >>> trainer = Pretrainer(config, verbose=0).fit(corpus)
    >>> [sorted(k for k in epoch if k in ("loss", "cpr", "sca", "tree")) for epoch in trainer.history_]
    [['cpr', 'loss', 'sca', 'tree']]
    >>> trainer.model_.training
    False
    """

    def __init__(self, config: PretrainConfig, *, device: str = "auto", checkpoint_dir: str | Path | None = None,
                 checkpoint_every: int = 1, verbose: int = 1):
        self.config = config
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.verbose = verbose

    # ------------------------------------------------------------------------------------
    def _spec(self, corpus: PretrainCorpus) -> dict[str, Any]:
        cfg = self.config
        bio_dims = {name: b.dim for name, b in corpus.bio.items()}
        if MOLECULE in bio_dims:
            raise ValueError(f"{MOLECULE!r} is reserved for the molecules; rename that profile modality.")
        recon = {MOLECULE: corpus.mol.fp.shape[1], **bio_dims} if cfg.use_cpr else None
        return {
            "fp_dim": int(corpus.mol.fp.shape[1]), "conf_dim": int(corpus.mol.conf.shape[1]), "bio_dims": bio_dims,
            "latent_dim": cfg.latent_dim, "gin": {"num_layers": cfg.gin_layers,
                                                  "emb_dim": cfg.gin_dim or cfg.latent_dim,
                                                  "dropout": cfg.gin_dropout},
            "tree": cfg.tree if cfg.use_tree_vq else None, "tree_depth": cfg.tree_depth, "eta": cfg.eta,
            "recon_dims": recon,
            "predict_dims": bio_dims if cfg.lambda_profile and bio_dims else None,
        }

    def fit(self, corpus: PretrainCorpus) -> Pretrainer:
        """Run (or resume) pretraining; returns self with ``model_`` and ``history_``."""
        ctx, device = distributed.setup(self.device)
        reinstate_sigint_handler()  # Ctrl-C must raise KeyboardInterrupt, whatever RDKit did before
        self.rank_, self.world_size_ = ctx.rank, ctx.world_size
        return self._fit(corpus, ctx, device)

    def _fit(self, corpus: PretrainCorpus, ctx: DistContext, device: torch.device) -> Pretrainer:
        cfg = self.config
        self.spec_ = self._spec(corpus)
        self._min_batch = max(2, ctx.world_size)
        if len(corpus) < self._min_batch:
            raise ValueError(f"{ctx.world_size} processes need at least {ctx.world_size} molecules, "
                             f"got {len(corpus)}.")
        # Local generators only (never torch.manual_seed): fits in threads cannot disturb each other.
        model = build_model(self.spec_, generator=torch.Generator().manual_seed(cfg.seed)).to(device)
        self._dropout_gen = torch.Generator(device=device)
        set_dropout_generator(model, self._dropout_gen)
        if ctx.enabled:
            distributed.convert_batchnorm(model, ctx)
        # L2-SP's anchor: the seeded initial weights (rebuilt identically before a resume loads)
        self._sp_anchor = [(p, p.detach().clone()) for _, p in model.molecular_parameters()] if cfg.l2_sp else []
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        per_epoch = len(_batches(np.arange(len(corpus)), cfg.batch_size, self._min_batch))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, _lr_factor(cfg, cfg.max_epochs * per_epoch, per_epoch))
        self.history_: list[dict[str, float]] = []
        self._corpus_key = corpus.fingerprint()
        start = self._maybe_resume(model, optimizer, scheduler)
        step = distributed.data_parallel(
            model, lambda idx, rng, key: self._step_losses(model, corpus, idx, rng, key, ctx, device),
            ctx, device)

        bar = tqdm(range(start, cfg.max_epochs), desc="pretrain", unit="epoch",
                   disable=not self.verbose or not ctx.is_main, initial=start, total=cfg.max_epochs)
        try:
            for epoch in bar:  # Ctrl-C raises KeyboardInterrupt here, between two batches at the latest
                with deterministic():
                    record = self._epoch(step, optimizer, scheduler, corpus, epoch, device)
                self.history_.append(record)
                bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k in ("loss", "cpr", "sca", "tree")})
                if ctx.is_main and self.checkpoint_dir is not None and (
                        (epoch + 1) % self.checkpoint_every == 0 or epoch + 1 == cfg.max_epochs):
                    self._save_last(model, optimizer, scheduler, corpus, epoch + 1)
        except BaseException:
            # Interrupted or failed: the trainer stays unfitted; checkpoint_dir keeps the last
            # completed epoch (written atomically), from which fit resumes.
            self.__dict__.pop("history_", None)
            raise
        finally:
            set_dropout_generator(model, None)
            if ctx.enabled:
                distributed.revert_batchnorm(model)
        model.eval()
        self.model_ = model
        self.scaler_ = corpus.scaler
        return self

    def _epoch(self, step, optimizer, scheduler, corpus: PretrainCorpus, epoch: int,
               device: torch.device) -> dict[str, float]:
        """One pass over the corpus; ``step(idx, rng, (epoch, batch_no))`` returns the loss components."""
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, epoch])
        self._dropout_gen.manual_seed(cfg.seed * 1_000_003 + epoch)
        step.train()
        parts_logged = ("cpr", "sca", "tree") + (("profile",) if cfg.lambda_profile else ()) + (
            ("drift",) if cfg.l2_sp else ())
        sums = dict.fromkeys(("loss", *parts_logged), 0.0)
        batches = _batches(rng.permutation(len(corpus)), cfg.batch_size, self._min_batch)
        if cfg.profiled_per_batch:
            batches = _top_up(batches, {n: b.rows_mol for n, b in corpus.bio.items()}, cfg.profiled_per_batch,
                              np.random.default_rng([cfg.seed, epoch, 1]))
        tic = time.perf_counter()
        for batch_no, idx in enumerate(tqdm(batches, desc=f"epoch {epoch + 1}", leave=False,
                                            disable=self.verbose < 2 or self.rank_ != 0)):
            parts = step(idx, rng, (epoch, batch_no))
            loss = parts["cpr"] + cfg.lambda_sca * parts["sca"] + cfg.lambda_tree * parts["tree"]
            if cfg.lambda_profile:
                loss = loss + cfg.lambda_profile * parts["profile"]
            if cfg.l2_sp:
                parts["drift"] = self._drift()
                loss = loss + cfg.l2_sp * parts["drift"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"Pretraining loss became {loss.item()} at epoch {epoch + 1}; "
                                         "lower lr or check the profile tables for extreme values.")
            optimizer.zero_grad(set_to_none=True)
            # Every rank computes the same global loss; DDP's gradient average undoes the
            # factor W that the collectives' backward introduces (see distributed.py).
            loss.backward()
            optimizer.step()
            scheduler.step()
            sums["loss"] += float(loss.detach())
            for key in parts_logged:
                sums[key] += float(parts[key].detach())
        record = {k: v / len(batches) for k, v in sums.items()}
        record.update(epoch=epoch + 1, seconds=time.perf_counter() - tic, lr=scheduler.get_last_lr()[0])
        return record

    def _drift(self) -> torch.Tensor:
        """Squared distance of the molecular encoder's weights from their start (L2-SP's term)."""
        return sum((p - p0).pow(2).sum() for p, p0 in self._sp_anchor)

    def batch_losses(self, model: CHMRModel, corpus: PretrainCorpus, idx: np.ndarray, rng: np.random.Generator,
                     device: torch.device) -> dict[str, torch.Tensor]:
        """The loss components on the molecules ``idx`` (each already averaged): ``cpr``, ``sca``, ``tree``
        and, with ``lambda_profile``, ``profile``."""
        return self._losses(model, corpus, idx, rng, self._encode(model, corpus, idx, device), device)

    def _step_losses(self, model: CHMRModel, corpus: PretrainCorpus, idx: np.ndarray, rng: np.random.Generator,
                     key: tuple[int, int], ctx: DistContext, device: torch.device) -> dict[str, torch.Tensor]:
        """:meth:`batch_losses` with this rank encoding its shard of ``idx`` only."""
        if not ctx.enabled:
            return self.batch_losses(model, corpus, idx, rng, device)
        local = ctx.shard(idx)
        # Each shard draws its own GIN dropout masks; the replicated part after the gather then
        # finds the same random state on every rank.
        gen = self._dropout_gen
        common = gen.get_state()
        gen.manual_seed(distributed.shard_seed(self.config.seed, *key, ctx.rank))
        encoded = self._encode(model, corpus, local, device)
        gen.set_state(common)
        sizes = ctx.shard_sizes(len(idx))
        bounds = np.cumsum([0] + sizes)
        for name, value in encoded.items():
            if name.startswith("aug:"):  # only the observed rows of a modality were encoded
                observed = corpus.bio[name[4:]].observed[idx]
                counts = [int(observed[a:b].sum()) for a, b in itertools.pairwise(bounds)]
            else:
                counts = sizes
            encoded[name] = gather_rows(value, counts, ctx)
        return self._losses(model, corpus, idx, rng, encoded, device)

    def _encode(self, model: CHMRModel, corpus: PretrainCorpus, idx: np.ndarray,
                device: torch.device) -> dict[str, torch.Tensor]:
        """Per-molecule latents of rows ``idx``: ``1d``/``2d``/``3d``, ``bio:<name>`` and
        ``aug:<name>`` (augmented view of the observed rows, for SCA's VICReg)."""
        inputs = corpus.mol.torch_batch(idx, device)
        encoded = dict(model.encode(**inputs))
        for name, b in corpus.bio.items():
            encoded[f"bio:{name}"] = model.encode_bio(name, torch.from_numpy(b.inputs[idx]).to(device))
            if not self.config.use_sca:
                continue
            obs = b.observed[idx]
            encoded[f"aug:{name}"] = model.encode_bio(name, torch.from_numpy(b.augmented[idx][obs]).to(device))
        return encoded

    def _losses(self, model: CHMRModel, corpus: PretrainCorpus, idx: np.ndarray, rng: np.random.Generator,
                encoded: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
        """The loss components from the latents of the whole batch ``idx`` (see :meth:`_encode`)."""
        cfg = self.config
        latents = {key: encoded[key] for key in model.molecular_modalities}
        anchor = model.anchor(latents)
        zero = anchor.sum() * 0.0
        bio_latent = {name: encoded[f"bio:{name}"] for name in corpus.bio}
        bio_observed = {name: b.observed[idx] for name, b in corpus.bio.items()}

        sca = zero
        if cfg.use_sca:
            for name, bio in corpus.bio.items():
                obs = bio_observed[name]
                if obs.sum() < 2:  # InfoNCE needs a negative; VICReg a variance
                    continue
                z = bio_latent[name][torch.from_numpy(obs).to(device)]
                sca = sca + vicreg(z, encoded[f"aug:{name}"])
                if cfg.sca_propagated and bio.confidence is not None:
                    # Measured rows (weight 1) and propagated ones, weighted by how much of
                    # their filled profile came from measured neighbours.
                    conf = bio.confidence[idx]
                    rows = torch.from_numpy(conf > 0).to(device)
                    w = torch.from_numpy(conf[conf > 0]).to(device=device, dtype=anchor.dtype)
                    sca = sca + info_nce(anchor[rows], bio_latent[name][rows], tau=cfg.tau, weights=w)
                else:
                    sca = sca + info_nce(anchor[torch.from_numpy(obs).to(device)], z, tau=cfg.tau)

        tree = zero
        if cfg.use_tree_vq and model.tree_vq is not None:
            ok = torch.from_numpy(corpus.mol.conf_ok[idx]).to(device)
            # The anchor is quantized too, so tree codes describe the molecule as a whole.
            zs = [latents["1d"], latents["2d"], anchor] + ([latents["3d"][ok]] if "3d" in latents and ok.any() else [])
            zs += [bio_latent[n][torch.from_numpy(o).to(device)] for n, o in bio_observed.items() if o.any()]
            tree = torch.stack([model.tree_vq(z).loss for z in zs]).mean()

        cpr = zero
        if cfg.use_cpr and corpus.graph is not None:
            cpr = self._cpr(model, corpus, idx, rng, anchor, bio_latent, device)
        parts = {"cpr": cpr, "sca": sca, "tree": tree}
        if cfg.lambda_profile:
            parts["profile"] = self._profile_loss(model, corpus, idx, anchor, device)
        return parts

    @staticmethod
    def _profile_loss(model, corpus, idx, anchor, device) -> torch.Tensor:
        """Mean over modalities of the anchor's squared error on the batch's measured standardized profiles."""
        losses = []
        for name, bio in corpus.bio.items():
            obs = bio.observed[idx]
            if not obs.any():
                continue
            target = torch.from_numpy(bio.inputs[idx[obs]]).to(device=device, dtype=anchor.dtype)
            pred = model.predict_profile(name, anchor[torch.from_numpy(obs).to(device)])
            losses.append(torch.nn.functional.mse_loss(pred, target))
        return torch.stack(losses).mean() if losses else anchor.sum() * 0.0

    def _cpr(self, model, corpus, idx, rng, anchor, bio_latent, device) -> torch.Tensor:
        graph = corpus.graph
        nodes, weights = graph.random_walks(idx, length=self.config.walk_length, rng=rng)
        valid = nodes >= 0
        types = np.where(valid, graph.node_type[np.where(valid, nodes, 0)], -1)
        total = anchor.sum() * 0.0
        for type_id, type_name in enumerate(graph.type_names):
            sel = (types == type_id) & (weights > 0)
            if not sel.any() or (type_name != MOLECULE and type_name not in corpus.bio):
                continue  # entity nodes (e.g. genes from extra edges) carry no features to rebuild
            rows, pos = np.nonzero(sel)
            visited = nodes[rows, pos]
            if type_name == MOLECULE:
                source, target = anchor, corpus.mol.fp[visited]
            else:
                source = bio_latent[type_name] if self.config.cpr_source == "modality" else anchor
                target = corpus.bio[type_name].targets[graph.node_row[visited]]
            logits = model.decode(type_name, source)[torch.from_numpy(rows).to(device)]
            w = torch.from_numpy(weights[rows, pos].astype(np.float32)).to(device)
            total = total + masked_weighted_bce(logits, torch.from_numpy(target).to(device), w)
        return total

    # ---- checkpoints --------------------------------------------------------------------
    def _maybe_resume(self, model, optimizer, scheduler) -> int:
        path = None if self.checkpoint_dir is None else Path(self.checkpoint_dir) / LAST
        if path is None or not path.is_file():
            return 0
        ckpt = load_checkpoint(path)
        # Through from_dict: a checkpoint written before a setting existed holds its default.
        same_config = PretrainConfig.from_dict(ckpt["config"]).to_dict() == self.config.to_dict()
        if not same_config or ckpt["spec"] != json.loads(json.dumps(self.spec_)):
            raise ValueError(f"{path} was written with other settings; use another checkpoint_dir or delete it "
                             "to start afresh.")
        if "train" not in ckpt:
            raise ValueError("The checkpoint holds no optimizer state and cannot be resumed.")
        written_for = ckpt["meta"].get("corpus_fingerprint")
        if written_for != self._corpus_key:
            # Other molecules or profiles (e.g. another CV fold sharing the directory): resuming
            # would pair that model with this corpus. Train from scratch; the file is replaced
            # by this run's checkpoint after its first epoch.
            warnings.warn(f"{path} was written for other data (corpus fingerprint {str(written_for)[:12]}, "
                          f"this corpus {self._corpus_key[:12]}): not resuming, training from scratch and "
                          "overwriting it. Use one checkpoint_dir per corpus to keep both.", stacklevel=3)
            return 0
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["train"]["optimizer"])
        scheduler.load_state_dict(ckpt["train"]["scheduler"])
        self.history_ = json.loads(ckpt["train"]["history"])
        return int(ckpt["train"]["epoch"])

    def _save_last(self, model, optimizer, scheduler, corpus, epoch: int) -> None:
        train = {"optimizer": optimizer.state_dict(), "scheduler": _plain_scheduler_state(scheduler),
                 "epoch": epoch, "history": json.dumps(self.history_)}
        save_checkpoint(Path(self.checkpoint_dir) / LAST, config=self.config, spec=self.spec_,
                        model_state=model.state_dict(), scaler=corpus.scaler, train=train,
                        meta={"n_molecules": len(corpus), "epochs_done": epoch,
                              "corpus_fingerprint": self._corpus_key})

    def export(self, path: str | Path, *, meta: dict[str, Any] | None = None, half: bool = False) -> Path:
        """Save the encoder only (no decoders): what :class:`CHMRTransformer` loads.

        In a distributed run only rank 0 writes; the other ranks return ``path`` unwritten.
        """
        if getattr(self, "rank_", 0) != 0:
            return Path(path)
        return save_checkpoint(path, config=self.config, spec=encoder_spec(self.spec_),
                               model_state=self.model_.encoder_state_dict(), scaler=self.scaler_,
                               meta={**(meta or {}), "history": self.history_}, half=half)


def _plain_scheduler_state(scheduler) -> dict[str, Any]:
    # LambdaLR stores its lambdas as None in state_dict; keep only plain values for weights_only.
    return {k: v for k, v in scheduler.state_dict().items() if isinstance(v, (int, float, bool, list, type(None)))}
