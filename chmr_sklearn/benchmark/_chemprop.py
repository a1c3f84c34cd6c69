"""The chemprop baseline through its own command line, on the benchmark's split indices.

chemprop pins its own RDKit and torch, so it usually lives in another environment: the
executable is ``$CHMR_CHEMPROP`` when set, else ``chemprop`` on ``PATH`` (``pip install
chmr_sklearn[bench]``). Without it the benchmark reports "not installed" instead of failing.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ._data import BenchData, split_digest
from ._models import score

__all__ = ["chemprop_executable", "fit_chemprop"]


def chemprop_executable() -> str | None:
    """Path of the chemprop CLI, or None when it is not installed.

    Examples
    --------
    >>> exe = chemprop_executable()
    >>> exe is None or os.path.exists(exe)
    True
    """
    exe = os.environ.get("CHMR_CHEMPROP") or shutil.which("chemprop")
    return exe if exe and os.path.exists(exe) else None


def _run(cmd: list[str], log_path: Path, timeout: float) -> None:
    # One thread: the benchmark's own models run beside it on a small shared machine.
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(log_path, "a") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        proc = subprocess.run(cmd, check=False, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=timeout)
    if proc.returncode:
        tail = log_path.read_text().splitlines()[-5:]
        raise RuntimeError(f"{Path(cmd[0]).name} {cmd[1]} exited {proc.returncode}: " + " | ".join(tail))


def fit_chemprop(data: BenchData, seed: int, workdir: str | os.PathLike, *, epochs: int = 50,
                 patience: int | None = None, accelerator: str = "cpu", timeout: float | None = None) -> dict:
    """``chemprop train`` on our train/valid indices, then ``chemprop predict`` on the valid and
    test rows, scored with our metrics.

    chemprop keeps the epoch with the best validation loss; ``patience=None`` (chemprop's default,
    like ``epochs=50``) trains every epoch, an integer stops early. ``accelerator`` is handed to
    chemprop (Lightning's name: ``"cpu"`` or ``"gpu"``) and recorded in the result.

    Short budgets warm the learning rate up for 1 epoch instead of chemprop's 2 (it refuses a
    warm-up as long as the training).

    ``timeout`` (seconds, each of ``train`` and ``predict``) defaults to one hour plus 5 ms per
    molecule-epoch: a hung process is stopped, HIV's 41k molecules × 50 epochs on one CPU thread
    (about 1.5 h) is not.

    Examples
    --------
    Without the chemprop CLI the benchmark reports "not installed" instead of a score:

    >>> from chmr_sklearn.benchmark import load_split
    >>> saved = os.environ.get("CHMR_CHEMPROP")
    >>> os.environ["CHMR_CHEMPROP"] = "/nonexistent/chemprop"
    >>> try:
    ...     fit_chemprop(load_split("freesolv"), 0, "/tmp", epochs=2, patience=1)
    ... except FileNotFoundError as exc:
    ...     print(exc)
    chemprop is not installed
    >>> _ = os.environ.pop("CHMR_CHEMPROP") if saved is None else os.environ.update(CHMR_CHEMPROP=saved)
    """
    exe = chemprop_executable()
    timeout = 3600.0 + 0.005 * len(data.smiles) * epochs if timeout is None else timeout
    if exe is None:
        raise FileNotFoundError("chemprop is not installed")
    if accelerator not in ("cpu", "gpu"):
        raise ValueError(f"accelerator must be 'cpu' or 'gpu', got {accelerator!r}.")
    work = Path(workdir) / f"{data.name}_seed{seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    targets = [f"t{i}" for i in range(data.Y.shape[1])]  # task names may hold characters a CLI mangles
    frame = pd.DataFrame(data.Y, columns=targets)
    frame.insert(0, "smiles", data.smiles)
    frame.to_csv(work / "data.csv", index=False)
    tr, va, te = data.split
    (work / "splits.json").write_text(json.dumps([{"train": tr.tolist(), "val": va.tolist(), "test": te.tolist()}]))
    rows = np.concatenate([va, te])
    frame.iloc[rows][["smiles"]].to_csv(work / "predict.csv", index=False)
    task = "classification" if data.kind == "classification" else "regression"
    log_path = work / "chemprop.log"

    t = time.perf_counter()
    _run([exe, "train", "-i", str(work / "data.csv"), "-s", "smiles", "--target-columns", *targets,
          "-t", task, "--splits-file", str(work / "splits.json"), "--epochs", str(epochs),
          *(["--patience", str(patience)] if patience is not None else []), "--warmup-epochs", str(1 if epochs <= 4 else 2), "--pytorch-seed", str(seed), "--data-seed", str(seed), "-n", "0",
          "--accelerator", accelerator, "--devices", "1", "-o", str(work / "model"), "--remove-checkpoints"],
         log_path, timeout)
    model = sorted(glob.glob(str(work / "model" / "**" / "best*.pt"), recursive=True))
    if not model:
        raise RuntimeError(f"chemprop train wrote no model under {work / 'model'}")
    _run([exe, "predict", "-i", str(work / "predict.csv"), "-s", "smiles", "--model-paths", model[0],
          "-o", str(work / "preds.csv"), "-n", "0", "--accelerator", accelerator, "--devices", "1"], log_path, timeout)
    seconds = time.perf_counter() - t
    preds = pd.read_csv(work / "preds.csv")
    if len(preds) != len(rows) or list(preds["smiles"]) != list(data.smiles[rows]):
        raise RuntimeError("chemprop predictions are not in the order of the rows it was given")
    P = preds[targets].to_numpy(dtype=np.float64)
    epochs_run = _epochs_run(work)
    return dict(seed=seed, split=split_digest(data.split), valid=score(data.kind, data.Y[va], P[: len(va)]),
                test=score(data.kind, data.Y[te], P[len(va):]), fit_seconds=seconds, accelerator=accelerator,
                **({"epochs": epochs_run} if epochs_run else {}))


def _epochs_run(work: Path) -> int | None:
    """Epochs chemprop trained: from Lightning's CSV log, else (TensorBoard installed: no CSV) from
    the progress bar's last ``Epoch N/M`` in chemprop's output.

    Examples
    --------
    >>> import tempfile
    >>> work = Path(tempfile.mkdtemp())
    >>> _ = (work / "chemprop.log").write_text("Epoch 0/49 ━━ 0:00:03\\rEpoch 49/49 ━━ 0:00:03\\n")
    >>> _epochs_run(work)
    50
    """
    logs = glob.glob(str(work / "model" / "**" / "metrics.csv"), recursive=True)
    if logs:
        epochs = pd.read_csv(logs[0]).get("epoch")
        return None if epochs is None else int(epochs.max()) + 1
    log = work / "chemprop.log"
    bars = re.findall(r"Epoch (\d+)/\d+", log.read_text(errors="replace")) if log.exists() else []
    return int(bars[-1]) + 1 if bars else None
