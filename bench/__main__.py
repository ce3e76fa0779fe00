"""``python -m bench``: the concbench command line (see :mod:`bench._entry`)."""

from __future__ import annotations

import sys

from bench._entry import console

sys.exit(console())
