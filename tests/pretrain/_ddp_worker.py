"""Pretraining process started by ``torchrun`` in test_distributed.py (not a test module).

``python -m torch.distributed.run --standalone --nproc_per_node=2 _ddp_worker.py CORPUS CONFIG OUT``
loads the pickled corpus, pretrains with the JSON config (Pretrainer detects the launch
itself) and saves what each rank ended with to ``OUT/rank<r>.pt``; rank 0 also exports.
"""

import json
import pickle
import sys
from pathlib import Path

import torch

from chmr_sklearn.pretrain import PretrainConfig, Pretrainer


def main(corpus_path: str, config_json: str, out: str) -> None:
    torch.set_num_threads(1)
    out_dir = Path(out)
    with open(corpus_path, "rb") as fh:
        corpus = pickle.load(fh)
    config = PretrainConfig.from_dict(json.loads(Path(config_json).read_text()))
    trainer = Pretrainer(config, device="cpu", checkpoint_dir=out_dir / "ckpt", verbose=1).fit(corpus)
    trainer.export(out_dir / "model.pt")
    torch.save({"state": trainer.model_.state_dict(), "history": json.dumps(trainer.history_),
                "rank": trainer.rank_, "world_size": trainer.world_size_}, out_dir / f"rank{trainer.rank_}.pt")


if __name__ == "__main__":
    main(*sys.argv[1:4])
