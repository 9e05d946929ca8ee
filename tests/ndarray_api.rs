//! The `ndarray` layer of the Rust API (src/arrays.rs): the same numbers as the
//! slice API, bit for bit, for the LJ model, a MACE and a SevenNet model; no copy
//! of positions or outputs; views of other layouts refused with a clear error.

use equipot::{AtomGraph, Error, Model, Outputs, Request, Structure, Workspace};
use ndarray::{s, Array2, ArrayView1, ShapeBuilder};
use std::path::Path;

fn path(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative).to_string_lossy().into_owned()
}

/// 16 atoms of a diamond lattice (2 cubic cells along x), rattled
/// deterministically, in a slightly tilted cell; `species` cycled over them.
fn crystal(a: f64, species: &[i32]) -> (Vec<[f64; 3]>, Vec<i32>, [[f64; 3]; 3]) {
    let basis = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]];
    let mut positions = Vec::new();
    for cell in 0..2 {
        for b in basis {
            for shift in [0.0, 0.25] {
                let i = positions.len() as f64;
                positions.push([
                    (cell as f64 + b[0] + shift) * a + 0.07 * (1.3 * i).sin(),
                    (b[1] + shift) * a + 0.07 * (2.1 * i).cos(),
                    (b[2] + shift) * a + 0.07 * (0.7 * i).sin(),
                ]);
            }
        }
    }
    let numbers = (0..positions.len()).map(|i| species[i % species.len()]).collect();
    (positions, numbers, [[2.0 * a, 0.0, 0.0], [0.3, a, 0.0], [0.2, -0.1, a]])
}

fn compute(model: &Model, structure: &Structure) -> Outputs {
    let ws = Workspace::new(1).unwrap();
    let graph = AtomGraph::build(structure, model.cutoff(), &ws).unwrap();
    model.compute(&graph, &Request::all(), &ws).unwrap()
}

/// Both APIs on one structure: identical numbers (`assert_eq!` on f64, so NaN
/// fails), and neither positions nor outputs copied.
fn check_model(name: &str, model_file: &str, a: f64, species: &[i32], periodic: bool) {
    let model = equipot::model::load(path(model_file)).unwrap();
    let (positions, numbers, cell) = crystal(a, species);
    let (cell, pbc) = if periodic { (Some(cell), [true; 3]) } else { (None, [false; 3]) };
    let slices = Structure { positions: &positions, numbers: &numbers, cell, pbc };
    let expected = compute(&model, &slices);

    let positions_array = Array2::from_shape_vec((positions.len(), 3), positions.as_flattened().to_vec()).unwrap();
    let cell_array = cell.map(|c| Array2::from_shape_vec((3, 3), c.as_flattened().to_vec()).unwrap());
    let arrays = Structure::from_arrays(positions_array.view(), &numbers, cell_array.as_ref().map(|c| c.view()), pbc)
        .unwrap();
    assert_eq!(arrays.positions.as_ptr() as *const f64, positions_array.as_ptr(), "{name}: positions copied");
    assert_eq!(arrays.numbers.as_ptr(), numbers.as_ptr(), "{name}: numbers copied");
    assert_eq!(arrays.cell, cell, "{name}: cell");
    let got = compute(&model, &arrays);

    assert_eq!(got.energy, expected.energy, "{name}: energy");
    let forces = got.forces_view();
    assert_eq!(forces.as_ptr(), got.forces.as_ptr() as *const f64, "{name}: forces view copied");
    assert_eq!(forces.shape(), &[positions.len(), 3]);
    for (i, row) in expected.forces.iter().enumerate() {
        for k in 0..3 {
            assert_eq!(forces[[i, k]], row[k], "{name}: force {i} {k}");
            for l in 0..3 {
                assert_eq!(got.atom_virials_view()[[i, k, l]], expected.atom_virials[i][k][l], "{name}: atom virial");
            }
        }
        assert_eq!(got.atom_energies_view()[i], expected.atom_energies[i], "{name}: atom energy {i}");
    }
    for k in 0..3 {
        for l in 0..3 {
            assert_eq!(got.virial_view()[[k, l]], expected.virial[k][l], "{name}: virial {k} {l}");
        }
    }

    // Owned arrays take over the vectors' memory, with the same numbers.
    let (forces_ptr, virials_ptr, energies_ptr) =
        (got.forces.as_ptr() as *const f64, got.atom_virials.as_ptr() as *const f64, got.atom_energies.as_ptr());
    let views = (got.forces_view().to_owned(), got.atom_virials_view().to_owned(), got.virial_view().to_owned());
    let owned = got.into_arrays();
    assert_eq!(owned.energy, expected.energy);
    assert_eq!((owned.forces.as_ptr(), owned.atom_virials.as_ptr()), (forces_ptr, virials_ptr), "{name}: copied");
    assert_eq!(owned.atom_energies.as_ptr(), energies_ptr, "{name}: atom energies copied");
    assert_eq!((owned.forces, owned.atom_virials, owned.virial), views, "{name}: owned arrays");
    assert_eq!(owned.atom_energies.to_vec(), expected.atom_energies, "{name}: owned atom energies");
    eprintln!("ok   {name}: both APIs give E = {:.12} eV, identical forces and virials", expected.energy);
}

#[test]
fn lennard_jones_through_both_apis() {
    check_model("LJ Ar + Kr, periodic", "tests/lammps/lj-ar-kr.json", 5.26, &[18, 36], true);
    check_model("LJ Ar + Kr, no cell", "tests/lammps/lj-ar-kr.json", 5.26, &[18, 36], false);
}

#[test]
fn mace_through_both_apis() {
    check_model("MACE mp0_l1 fixture, Si + C", "tests/fixtures/mace/models/mp0_l1.eqp.safetensors", 4.36, &[14, 6], true);
}

#[test]
fn sevennet_through_both_apis() {
    check_model("SevenNet omat fixture, Si + C + O", "tests/fixtures/sevenn/arch/models/omat.eqp.safetensors", 4.6,
                &[14, 6, 8], true);
}

fn message(result: Result<Structure, Error>) -> String {
    match result {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn other_layouts_and_shapes_are_refused_or_copied_where_documented() {
    let (positions, numbers, cell) = crystal(4.6, &[14]);
    let n = positions.len();
    let flat = positions.as_flattened().to_vec();
    let rows = Array2::from_shape_vec((n, 3), flat.clone()).unwrap();
    let pbc = [true; 3];

    // Column-major (Fortran-order) storage of the same (n, 3) positions.
    let fortran = Array2::from_shape_vec((n, 3).f(), rows.t().iter().copied().collect()).unwrap();
    assert_eq!(fortran, rows);
    let err = message(Structure::from_arrays(fortran.view(), &numbers, None, [false; 3]));
    assert!(err.contains("standard-layout") && err.contains("as_standard_layout"), "{err}");
    // ... which as_standard_layout() turns into one that is accepted.
    let copied = fortran.as_standard_layout();
    let accepted = Structure::from_arrays(copied.view(), &numbers, None, [false; 3]).unwrap();
    assert_eq!(accepted.positions, positions.as_slice());

    // Three columns of a wider array, every other row: not contiguous.
    let wide = Array2::from_shape_fn((n, 4), |(i, k)| if k < 3 { positions[i][k] } else { 0.0 });
    let err = message(Structure::from_arrays(wide.slice(s![.., 0..3]), &numbers, None, [false; 3]));
    assert!(err.contains("standard-layout"), "{err}");
    let err = message(Structure::from_arrays(rows.slice(s![..;2, ..]), &numbers[..n / 2], None, [false; 3]));
    assert!(err.contains("standard-layout"), "{err}");

    // Wrong shapes and lengths.
    let two = Array2::<f64>::zeros((n, 2));
    let err = message(Structure::from_arrays(two.view(), &numbers, None, [false; 3]));
    assert!(err.contains("shape (n, 3), got [16, 2]"), "{err}");
    let err = message(Structure::from_arrays(rows.view(), &numbers[1..], None, [false; 3]));
    assert!(err.contains("16 positions but 15 atomic numbers"), "{err}");
    let strided = ArrayView1::from(numbers.as_slice()).slice_move(s![..;2]);
    let err = message(Structure::from_arrays(rows.slice(s![..n / 2, ..]), strided, None, [false; 3]));
    assert!(err.contains("numbers must be a contiguous array"), "{err}");
    let eye = Array2::<f64>::eye(3);
    let err = message(Structure::from_arrays(rows.view(), &numbers, Some(eye.slice(s![..2, ..])), pbc));
    assert!(err.contains("cell must have shape (3, 3), got [2, 3]"), "{err}");

    // The cell is copied, so any layout does: a transposed view of the transpose.
    let cell_t = Array2::from_shape_fn((3, 3), |(i, k)| cell[k][i]);
    let structure = Structure::from_arrays(rows.view(), &numbers, Some(cell_t.t()), pbc).unwrap();
    assert_eq!(structure.cell, Some(cell));
}
