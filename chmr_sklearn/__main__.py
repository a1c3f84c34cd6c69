"""``python -m chmr_sklearn <cmd>``: the ``chmr`` command line (also what ``torchrun -m`` launches)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
