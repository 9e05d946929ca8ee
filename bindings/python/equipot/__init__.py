"""equipot: equivariant interatomic potentials through a stable C ABI.

`equipot.calculator.EquipotCalculator` is an ASE calculator; `equipot.convert`
turns PyTorch checkpoints into equipot model files without torch.
"""
