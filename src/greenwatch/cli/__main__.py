"""``python -m greenwatch.cli``."""

import sys

from greenwatch.cli import main

sys.exit(main())
