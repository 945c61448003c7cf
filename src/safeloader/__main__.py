"""``python -m safeloader``: the ``safeloader`` command."""

import sys

from safeloader.cli import main

sys.exit(main())
