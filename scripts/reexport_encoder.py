"""Export the encoder again from a pretraining run's last full-precision checkpoint.

Exports written before float16 export kept out-of-range tensors in float32 stored the virtual-node
BatchNorm running variances (up to ~1e6) as inf, which turns those BatchNorm layers into constants.
This rewrites ``default.pt`` from the run's ``last.pt`` (float32, same weights) and its manifest
with the new sha256; the manifest's other entries are kept, after checking that the checkpoint
is the one the manifest describes (same settings and loss history).

Usage::

    python scripts/reexport_encoder.py runs/lean12k/ckpt/last.pt runs/lean12k/default.json --out runs/lean12k_fixed
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout

from chmr_sklearn.nn import CHMRModel  # noqa: E402
from chmr_sklearn.pretrain.checkpoint import atomic_write, encoder_spec, load_checkpoint, save_checkpoint  # noqa: E402


def reexport(last: Path, manifest_path: Path, out: Path) -> Path:
    """Write ``out/default.pt`` (encoder only, float16 where it fits) and ``out/default.json``."""
    ckpt = load_checkpoint(last)
    manifest = json.loads(manifest_path.read_text())
    history = json.loads(ckpt["train"]["history"])
    if ckpt.config.to_dict() != manifest["config"] or history != manifest["history"]:
        raise ValueError(f"{last} is not the run {manifest_path} describes (other settings or loss history).")
    meta = {k: v for k, v in manifest.items() if k not in ("file", "sha256", "config")}
    path = save_checkpoint(out / "default.pt", config=ckpt.config, spec=encoder_spec(ckpt["spec"]),
                           model_state=CHMRModel.encoder_weights(ckpt["model"]), scaler=ckpt["scaler"], meta=meta,
                           half=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    new = {**manifest, "file": path.name, "sha256": digest,
           "reexported_from": {"checkpoint": str(last), "previous_sha256": manifest["sha256"]}}
    atomic_write(out / "default.json", lambda fh: fh.write(json.dumps(new, indent=1).encode()))
    print(f"wrote {path} (sha256 {digest[:12]}..., was {manifest['sha256'][:12]}...)")
    return path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("last", type=Path, help="the run's last.pt (float32, with its training state)")
    ap.add_argument("manifest", type=Path, help="the default.json written with the earlier export")
    ap.add_argument("--out", type=Path, required=True, help="folder for default.pt and default.json")
    args = ap.parse_args(argv)
    reexport(args.last, args.manifest, args.out)


if __name__ == "__main__":
    main()
