"""Lets ``python -m cnnedu`` run the command line (see cnnedu/cli/main.py)."""

import sys

from cnnedu.cli.main import main

sys.exit(main())
