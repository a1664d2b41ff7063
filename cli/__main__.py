"""``python -m cli``: the ``tmf680`` command."""

import sys

from cli import main

sys.exit(main())
