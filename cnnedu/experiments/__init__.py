"""The coursework's experiments, one click each: a controlled comparison (one setting varies, everything
else and the seed are shared) beside the numbers the document reports and what it concluded.

``catalog.py`` holds them as data (``EXPERIMENTS``), ``runner.py`` queues their runs in the run store and
reads the result table back, ``datasets.py`` says which data a run uses on this machine (a synthetic
stand-in of the same shape when MNIST or CIFAR-10 cannot be had).
"""
