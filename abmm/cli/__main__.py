"""``python -m abmm.cli``: the same as the ``abmm`` command."""

import sys

from abmm.cli import main

sys.exit(main())
