"""The CHMR pretraining loop: total = CPR + lambda_sca * SCA + lambda_tree * TreeVQ.

Reproducibility and resume are designed together: every epoch draws its shuffling, random
walks and dropout from generators seeded by ``(seed, epoch)``, so a run resumed from the
checkpoint of epoch k continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._runtime import deterministic, resolve_device
from ..nn import CHMRModel
from ..nn.losses import info_nce, masked_weighted_bce, vicreg
from .checkpoint import build_model, load_checkpoint, save_checkpoint
from .config import PretrainConfig
from .corpus import PretrainCorpus

__all__ = ["Pretrainer", "resolve_device"]

LAST = "last.pt"
MOLECULE = "molecule"  # node type of molecules in the context graph and name of their decoder


def _batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    parts = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    # BatchNorm cannot train on a single graph: fold a trailing singleton into the batch before.
    if len(parts) > 1 and len(parts[-1]) < 2:
        parts[-2] = np.concatenate([parts[-2], parts.pop()])
    return parts


class Pretrainer:
    """Pretrain a :class:`~chmr_sklearn.nn.CHMRModel` on a :class:`PretrainCorpus`.

    Parameters
    ----------
    config : PretrainConfig
    device : str, default="auto"
    checkpoint_dir : str or Path, optional
        Where ``last.pt`` is written every ``checkpoint_every`` epochs. When it already holds
        a checkpoint of the same configuration, training resumes from it.
    checkpoint_every : int, default=1
    verbose : int, default=1
        1: a progress bar over epochs with the loss components; 2: also over batches.

    Attributes
    ----------
    model_ : CHMRModel
    spec_ : dict
        What :func:`build_model` needs to rebuild the module.
    history_ : list of dict
        Per epoch: ``loss``, ``cpr``, ``sca``, ``tree`` (means over batches) and ``seconds``.
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
            "latent_dim": cfg.latent_dim, "gin": {"num_layers": cfg.gin_layers, "emb_dim": cfg.latent_dim,
                                                  "dropout": cfg.gin_dropout},
            "tree": cfg.tree if cfg.use_tree_vq else None, "tree_depth": cfg.tree_depth, "eta": cfg.eta,
            "recon_dims": recon,
        }

    def fit(self, corpus: PretrainCorpus) -> "Pretrainer":
        """Run (or resume) pretraining; returns self with ``model_`` and ``history_``."""
        cfg = self.config
        device = resolve_device(self.device)
        self.spec_ = self._spec(corpus)
        torch.manual_seed(cfg.seed)
        model = build_model(self.spec_).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        n_steps = cfg.max_epochs * len(_batches(np.arange(len(corpus)), cfg.batch_size))
        # The official schedule: cosine decay over 7/16 of a half period (ends at ~0.2 lr).
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: math.cos(math.pi * 7.0 / 16.0 * min(step, n_steps) / max(1, n_steps)))
        self.history_: list[dict[str, float]] = []
        start = self._maybe_resume(model, optimizer, scheduler)

        bar = tqdm(range(start, cfg.max_epochs), desc="pretrain", unit="epoch", disable=not self.verbose,
                   initial=start, total=cfg.max_epochs)
        for epoch in bar:
            with deterministic():
                record = self._epoch(model, optimizer, scheduler, corpus, epoch, device)
            self.history_.append(record)
            bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k in ("loss", "cpr", "sca", "tree")})
            if self.checkpoint_dir is not None and ((epoch + 1) % self.checkpoint_every == 0
                                                    or epoch + 1 == cfg.max_epochs):
                self._save_last(model, optimizer, scheduler, corpus, epoch + 1)
        model.eval()
        self.model_ = model
        self.scaler_ = corpus.scaler
        return self

    def _epoch(self, model: CHMRModel, optimizer, scheduler, corpus: PretrainCorpus, epoch: int,
               device: torch.device) -> dict[str, float]:
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, epoch])
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)
        model.train()
        sums = {"loss": 0.0, "cpr": 0.0, "sca": 0.0, "tree": 0.0}
        batches = _batches(rng.permutation(len(corpus)), cfg.batch_size)
        tic = time.perf_counter()
        for idx in tqdm(batches, desc=f"epoch {epoch + 1}", leave=False, disable=self.verbose < 2):
            parts = self.batch_losses(model, corpus, idx, rng, device)
            loss = parts["cpr"] + cfg.lambda_sca * parts["sca"] + cfg.lambda_tree * parts["tree"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"Pretraining loss became {loss.item()} at epoch {epoch + 1}; "
                                         "lower lr or check the profile tables for extreme values.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            sums["loss"] += float(loss.detach())
            for key in ("cpr", "sca", "tree"):
                sums[key] += float(parts[key].detach())
        record = {k: v / len(batches) for k, v in sums.items()}
        record.update(epoch=epoch + 1, seconds=time.perf_counter() - tic, lr=scheduler.get_last_lr()[0])
        return record

    def batch_losses(self, model: CHMRModel, corpus: PretrainCorpus, idx: np.ndarray, rng: np.random.Generator,
                     device: torch.device) -> dict[str, torch.Tensor]:
        """The three loss components on the molecules ``idx`` (each already averaged)."""
        cfg = self.config
        inputs = corpus.mol.torch_batch(idx, device)
        latents = model.encode(**inputs)
        anchor = model.anchor(latents)
        zero = anchor.sum() * 0.0
        bio_latent, bio_observed = {}, {}
        for name, b in corpus.bio.items():
            bio_latent[name] = model.encode_bio(name, torch.from_numpy(b.inputs[idx]).to(device))
            bio_observed[name] = b.observed[idx]

        sca = zero
        if cfg.use_sca:
            for name, b in corpus.bio.items():
                obs = bio_observed[name]
                if obs.sum() < 2:  # InfoNCE needs a negative; VICReg a variance
                    continue
                z = bio_latent[name][torch.from_numpy(obs).to(device)]
                z_aug = model.encode_bio(name, torch.from_numpy(b.augmented[idx][obs]).to(device))
                sca = sca + info_nce(anchor[torch.from_numpy(obs).to(device)], z, tau=cfg.tau) + vicreg(z, z_aug)

        tree = zero
        if cfg.use_tree_vq and model.tree_vq is not None:
            ok = inputs["conf_mask"] > 0
            # The anchor is quantized too, so tree codes describe the molecule as a whole.
            zs = [latents["1d"], latents["2d"], anchor] + ([latents["3d"][ok]] if ok.any() else [])
            zs += [bio_latent[n][torch.from_numpy(o).to(device)] for n, o in bio_observed.items() if o.any()]
            tree = torch.stack([model.tree_vq(z).loss for z in zs]).mean()

        cpr = zero
        if cfg.use_cpr and corpus.graph is not None:
            cpr = self._cpr(model, corpus, idx, rng, anchor, bio_latent, device)
        return {"cpr": cpr, "sca": sca, "tree": tree}

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
        if self.checkpoint_dir is None or not (Path(self.checkpoint_dir) / LAST).is_file():
            return 0
        ckpt = load_checkpoint(Path(self.checkpoint_dir) / LAST)
        if ckpt["config"] != self.config.to_dict() or ckpt["spec"] != json.loads(json.dumps(self.spec_)):
            raise ValueError(f"{Path(self.checkpoint_dir) / LAST} was written with other settings or data; "
                             "use another checkpoint_dir or delete it to start afresh.")
        if "train" not in ckpt:
            raise ValueError("The checkpoint holds no optimizer state and cannot be resumed.")
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
                        meta={"n_molecules": len(corpus), "epochs_done": epoch})

    def export(self, path: str | Path, *, meta: dict[str, Any] | None = None, half: bool = False) -> Path:
        """Save the encoder only (no decoders): what :class:`CHMRTransformer` loads."""
        spec = dict(self.spec_, recon_dims=None)
        return save_checkpoint(path, config=self.config, spec=spec, model_state=self.model_.encoder_state_dict(),
                               scaler=self.scaler_, meta={**(meta or {}), "history": self.history_}, half=half)


def _plain_scheduler_state(scheduler) -> dict[str, Any]:
    # LambdaLR stores its lambdas as None in state_dict; keep only plain values for weights_only.
    return {k: v for k, v in scheduler.state_dict().items() if isinstance(v, (int, float, bool, list, type(None)))}
