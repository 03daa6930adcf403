"""``python -m vidscope.cli``."""

import sys

from . import main

sys.exit(main())
