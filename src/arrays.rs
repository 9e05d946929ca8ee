//! The Rust API in [`ndarray`] terms: a [`Structure`] from array views and
//! [`Outputs`] as arrays, a thin layer over the flat slices the library
//! works on.
//!
//! Nothing on the way in or out is copied: a standard-layout (row-major,
//! contiguous) `(n, 3)` view of `f64` is the same memory as `&[[f64; 3]]`,
//! and the outputs' `Vec<[f64; 3]>` are the same memory as an `(n, 3)`
//! array. A view of another layout (a transpose, a column slice, every other
//! row) is refused with an error saying so; `positions.as_standard_layout()`
//! makes the one copy it needs. Only the 3×3 cell is copied (any layout).
//!
//! ```
//! use equipot::{AtomGraph, Request, Structure, Workspace};
//! use ndarray::array;
//!
//! # fn main() -> equipot::Result<()> {
//! let model = equipot::model::load(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/lammps/argon-lj.json"))?;
//! let positions = array![[0.0, 0.0, 0.0], [3.8, 0.0, 0.0], [0.0, 3.8, 0.0]];
//! let cell = array![[12.0, 0.0, 0.0], [0.0, 12.0, 0.0], [0.0, 0.0, 12.0]];
//! let numbers = [18, 18, 18];
//! let structure = Structure::from_arrays(positions.view(), &numbers, Some(cell.view()), [true; 3])?;
//!
//! let ws = Workspace::new(1)?;
//! let graph = AtomGraph::build(&structure, model.cutoff(), &ws)?;
//! let outputs = model.compute(&graph, &Request::all(), &ws)?;
//! let forces = outputs.forces_view(); // (3, 3) view of the outputs, no copy
//! assert_eq!(forces.shape(), &[3, 3]);
//! let arrays = outputs.into_arrays(); // owned arrays, no copy either
//! assert_eq!(arrays.virial.shape(), &[3, 3]);
//! assert!((arrays.atom_energies.sum() - arrays.energy).abs() < 1e-9);
//! # Ok(())
//! # }
//! ```

use crate::graph::Structure;
use crate::model::Outputs;
use crate::{invalid, Error, Result};
use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3};

impl<'a> Structure<'a> {
    /// A structure from `positions` (an `(n, 3)` standard-layout view, Å),
    /// `numbers` (n atomic numbers: a slice, a `&Vec` or an `ArrayView1`),
    /// `cell` (3×3, lattice vectors as rows, Å; `None` when no axis is
    /// periodic) and `pbc`. Positions and numbers are borrowed, not copied;
    /// a view that is not contiguous and row-major is an error (see the
    /// module docs). The structure's contents are checked when its graph is
    /// built, as for a structure made of slices.
    pub fn from_arrays(
        positions: ArrayView2<'a, f64>,
        numbers: impl Into<ArrayView1<'a, i32>>,
        cell: Option<ArrayView2<'_, f64>>,
        pbc: [bool; 3],
    ) -> Result<Structure<'a>> {
        let numbers = numbers.into();
        let positions = rows_of(positions)?;
        let numbers = numbers.to_slice().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "numbers must be a contiguous array, got strides {:?}: pass numbers.to_vec()",
                numbers.strides()
            ))
        })?;
        if numbers.len() != positions.len() {
            return Err(Error::LengthMismatch(format!(
                "{} positions but {} atomic numbers",
                positions.len(),
                numbers.len()
            )));
        }
        let cell = cell.map(matrix_of).transpose()?;
        Ok(Structure { positions, numbers, cell, pbc })
    }
}

/// The rows of an `(n, 3)` standard-layout view, reinterpreted in place.
fn rows_of(positions: ArrayView2<'_, f64>) -> Result<&[[f64; 3]]> {
    let shape = positions.shape();
    if shape[1] != 3 {
        return invalid!("positions must have shape (n, 3), got {shape:?}");
    }
    let strides = positions.strides().to_vec();
    let Some(flat) = positions.to_slice() else {
        return invalid!(
            "positions must be a standard-layout (row-major, contiguous) (n, 3) array, got strides {strides:?}: \
             pass positions.as_standard_layout().view()"
        );
    };
    let (rows, rest) = flat.as_chunks::<3>();
    debug_assert!(rest.is_empty(), "an (n, 3) slice holds whole rows");
    Ok(rows)
}

/// A 3×3 matrix of any layout, copied.
fn matrix_of(cell: ArrayView2<'_, f64>) -> Result<[[f64; 3]; 3]> {
    if cell.shape() != [3, 3] {
        return invalid!("the cell must have shape (3, 3), got {:?}", cell.shape());
    }
    Ok(std::array::from_fn(|i| std::array::from_fn(|j| cell[[i, j]])))
}

/// [`Outputs`] as owned arrays (from [`Outputs::into_arrays`]); arrays that
/// were not requested are empty (0 rows), as the vectors are.
#[derive(Clone, Debug)]
pub struct OutputArrays {
    /// Total energy of the local atoms, eV.
    pub energy: f64,
    /// Per-atom energies, eV, shape (n,).
    pub atom_energies: Array1<f64>,
    /// Forces, eV/Å, shape (n, 3).
    pub forces: Array2<f64>,
    /// Virial, eV, shape (3, 3).
    pub virial: Array2<f64>,
    /// Per-atom virials, eV, shape (n, 3, 3).
    pub atom_virials: Array3<f64>,
}

impl Outputs {
    /// Forces as an `(n, 3)` view of [`Outputs::forces`] (no copy).
    pub fn forces_view(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.forces.len(), 3), self.forces.as_flattened()).expect("n rows of 3")
    }

    /// The virial as a 3×3 view of [`Outputs::virial`].
    pub fn virial_view(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((3, 3), self.virial.as_flattened()).expect("3 rows of 3")
    }

    /// Per-atom energies as an `(n,)` view of [`Outputs::atom_energies`].
    pub fn atom_energies_view(&self) -> ArrayView1<'_, f64> {
        ArrayView1::from(&self.atom_energies)
    }

    /// Per-atom virials as an `(n, 3, 3)` view of [`Outputs::atom_virials`].
    pub fn atom_virials_view(&self) -> ArrayView3<'_, f64> {
        let flat = self.atom_virials.as_flattened().as_flattened();
        ArrayView3::from_shape((self.atom_virials.len(), 3, 3), flat).expect("n blocks of 3×3")
    }

    /// The outputs as owned arrays, taking over their vectors' memory (no copy).
    pub fn into_arrays(self) -> OutputArrays {
        let n_forces = self.forces.len();
        let n_virials = self.atom_virials.len();
        OutputArrays {
            energy: self.energy,
            atom_energies: Array1::from(self.atom_energies),
            forces: Array2::from_shape_vec((n_forces, 3), self.forces.into_flattened()).expect("n rows of 3"),
            virial: Array2::from_shape_vec((3, 3), self.virial.as_flattened().to_vec()).expect("3 rows of 3"),
            atom_virials: Array3::from_shape_vec((n_virials, 3, 3), self.atom_virials.into_flattened().into_flattened())
                .expect("n blocks of 3×3"),
        }
    }
}
