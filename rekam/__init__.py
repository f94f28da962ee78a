"""The kit's process entry points: the ``rekam`` command line, its bootstrap and the demo.

This package wires adapters (device backends, later the UI and the sync daemon) to the domain
core in :mod:`edge`; it is the only kit package allowed to know every other one.
"""
