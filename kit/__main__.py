"""``python -m kit``: run the command line (:mod:`kit.cli`)."""

import sys

from kit.cli import main

sys.exit(main())
