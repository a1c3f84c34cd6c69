"""Pretraining process started by ``torchrun`` in test_distributed.py (not a test module).

``python -m torch.distributed.run --standalone --nproc_per_node=2 _ddp_worker.py CORPUS CONFIG OUT``
loads the pickled corpus, pretrains with the JSON config (Pretrainer detects the launch itself),
computes the gradient of one global batch (the test compares it with the single-process one:
Adam hides a wrongly scaled gradient, a direct comparison does not) and saves what each rank
ended with to ``OUT/rank<r>.pt``; rank 0 also exports.
"""

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import torch

from chmr_sklearn.pretrain import PretrainConfig, Pretrainer, build_model, distributed

GRAD_BATCH = 25  # the first 25 molecules, split 13 / 12 over the two ranks
GRAD_SEED = 123


def first_batch_gradients(trainer: Pretrainer, corpus) -> dict:
    """Gradients of the loss of one global batch after DDP's all-reduce, on every rank."""
    ctx, device = distributed.setup("cpu")  # the group fit() created
    torch.manual_seed(0)
    model = distributed.convert_batchnorm(build_model(trainer._spec(corpus)), ctx)
    step = distributed.data_parallel(
        model, lambda idx, rng, key: trainer._step_losses(model, corpus, idx, rng, key, ctx, device), ctx, device)
    torch.manual_seed(GRAD_SEED)
    parts = step(np.arange(GRAD_BATCH), np.random.default_rng(GRAD_SEED), (0, 0))
    cfg = trainer.config
    (parts["cpr"] + cfg.lambda_sca * parts["sca"] + cfg.lambda_tree * parts["tree"]).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def main(corpus_path: str, config_json: str, out: str) -> None:
    torch.set_num_threads(1)
    out_dir = Path(out)
    with open(corpus_path, "rb") as fh:
        corpus = pickle.load(fh)
    config = PretrainConfig.from_dict(json.loads(Path(config_json).read_text()))
    # fit() joins the torchrun group by itself; the gradient check then reuses that group.
    trainer = Pretrainer(config, device="cpu", checkpoint_dir=out_dir / "ckpt", verbose=1).fit(corpus)
    trainer.export(out_dir / "model.pt")
    grads = first_batch_gradients(trainer, corpus)
    torch.save({"state": trainer.model_.state_dict(), "history": json.dumps(trainer.history_), "grads": grads,
                "rank": trainer.rank_, "world_size": trainer.world_size_}, out_dir / f"rank{trainer.rank_}.pt")


if __name__ == "__main__":
    main(*sys.argv[1:4])
