"""cnnedu — an interactive CNN teaching explorer: build, check, train, look inside, export, predict."""

__version__ = "0.1.0"
