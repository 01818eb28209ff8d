"""abmm: an agent-based market simulator.

A compiled continuous double auction (``abmm.engine``) hosts heterogeneous agents; learning market
makers train through a PettingZoo environment. See README.md and docs/.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
