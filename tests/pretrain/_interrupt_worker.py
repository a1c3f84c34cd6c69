"""Pretrain a tiny real corpus with a checkpoint_dir until interrupted (driven by test_robustness.py)."""

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _tiny import tiny_config, tiny_corpus  # noqa: E402

from chmr_sklearn.pretrain import Pretrainer  # noqa: E402

if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C -> KeyboardInterrupt, whatever we inherited
    config = tiny_config(max_epochs=10_000)
    corpus = tiny_corpus(config)
    print("training", flush=True)
    Pretrainer(config, checkpoint_dir=sys.argv[1], verbose=0).fit(corpus)
    print("finished", flush=True)  # never reached: the test interrupts the run
