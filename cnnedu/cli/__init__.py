"""`python -m cnnedu ...`: the parser and error handling in main.py, shared pieces in common.py, and one
module of commands per area (arch, onnx, scratch, train), each with a ``COMMANDS`` table."""
