"""The one float slack of the simulator.

Times, virtual times and counts are sums and products of floats: 0.1 × 3 is
0.30000000000000004, a controller's 12th tick of 5 s may fall at 59.99999999999 s, and
10 × 1.1 is 11.000000000000002. Wherever such a value must compare as the exact figure it
stands for — a request whose virtual finish is reached, a datapoint due at 60 s, a count that
must not round up to 12 — it is compared with this slack. It is far below anything the model
tells apart (a microsecond of simulated time, one request, one replica).
"""

import math

FLOAT_SLACK = 1e-9


def ceil_count(value: float) -> int:
    """The smallest whole count not below ``value``, ignoring float noise (10 × 1.1 → 11)."""
    return math.ceil(value - FLOAT_SLACK)
