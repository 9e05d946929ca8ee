"""equipot: equivariant interatomic potentials without torch (Python side).

This package holds the model-file reader/writer and the checkpoint converters
(`python -m equipot.convert sevenn CHECKPOINT OUT`).
"""

__version__ = '0.1.0'
