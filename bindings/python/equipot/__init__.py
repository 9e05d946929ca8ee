"""equipot: equivariant interatomic potentials through a stable C ABI.

`equipot.calculator.EquipotCalculator` is an ASE calculator over the C ABI;
`python -m equipot.convert sevenn CHECKPOINT OUT` turns SevenNet checkpoints
into equipot model files without torch; `equipot.model_file` reads and writes
those files.
"""

__version__ = '0.1.0'
