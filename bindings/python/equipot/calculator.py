"""An ASE calculator over the C ABI: check a model in Python before a long run."""

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from ._capi import _RADIAL, _SIMD, Graph, Model, Workspace, _choice, _precision, compute


class EquipotCalculator(Calculator):
    """ASE calculator for an equipot model file (or a loaded `Model`).

    `modal` picks the fidelity head of a multi-fidelity model (SevenNet-MF-0:
    "PBE" or "R2SCAN"); None takes the file's default. `precision` is
    "float64" or "float32"; `threads` = 0 uses every core; `radial` and
    `simd` are as in `equipot._capi.compute` (default "auto": the fast,
    parity-checked path). `device` is "cpu" (the default), "cuda" or
    "cuda:N": CUDA evaluation is not implemented yet, so a CUDA device raises
    EquipotError naming what is missing or saying so.

    Properties: energy (eV), free_energy (= energy), energies (per atom, eV),
    forces (eV/Å), stress (eV/Å³, ASE's sign convention: -virial/volume, Voigt
    order xx yy zz yz xz xy; only for cells periodic in all three axes).
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model, precision="float64", threads=0, modal=None, radial="auto", simd="auto", device="cpu", **kwargs):
        super().__init__(**kwargs)
        if isinstance(model, Model):
            if modal is not None and modal != model.modal:
                raise ValueError("modal is chosen when a Model is loaded: pass the path instead")
            self.model = model
        else:
            self.model = Model(model, modal=modal)
        _precision(precision)  # a bad precision is refused now, not at the first step
        self.precision = precision
        _choice("radial", radial, _RADIAL)  # refused now too
        _choice("simd", simd, _SIMD)
        self.radial, self.simd = radial, simd
        self.workspace = Workspace(threads, device=device)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        # Graph checks every array (shape, dtype, length, values) before it reaches C.
        pbc = atoms.pbc
        cell = atoms.cell.array if np.any(pbc) else None
        graph = Graph(atoms.positions, atoms.numbers, cell, pbc, self.model.cutoff, self.workspace)
        out = compute(self.model, graph, self.workspace, self.precision, radial=self.radial, simd=self.simd)
        self.results = {
            "energy": out["energy"],
            "free_energy": out["energy"],
            "energies": out["energies"],
            "forces": out["forces"],
        }
        if np.all(pbc):
            s = -out["virial"] / atoms.get_volume()
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
        elif "stress" in properties:
            from ase.calculators.calculator import PropertyNotImplementedError

            raise PropertyNotImplementedError("stress needs a cell periodic in all three axes")
