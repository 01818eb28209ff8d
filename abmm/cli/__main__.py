"""``python -m abmm.cli``: the same as the ``abmm`` command."""

import sys

from abmm.cli import main

if __name__ == "__main__":
    sys.exit(main())
