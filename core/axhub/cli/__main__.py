"""``python -m axhub.cli``: the ``axhub`` command."""

import sys

from .commands import main

sys.exit(main())
