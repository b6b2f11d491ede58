"""``python -m tinymm``: the same as the ``tinymm`` command."""

import sys

from .cli import main

sys.exit(main())
