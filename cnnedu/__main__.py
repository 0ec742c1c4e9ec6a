"""Lets ``python -m cnnedu`` run the command line (see cnnedu/cli/__init__.py)."""

import sys

from cnnedu.cli import main

sys.exit(main())
