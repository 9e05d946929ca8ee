//! Halo-exchange test helpers shared by the models' physics tests: a
//! structure as a domain-decomposed host passes it, and the check that
//! exchanges are collective and their errors stop the evaluation.

use equipot::graph::{NeighborList, Structure};
use equipot::model::halo::ImageHalo;
use equipot::model::{HaloDirection, HaloExchange, Request};
use equipot::{AtomGraph, Model, Workspace};

/// The structure as a domain-decomposed host (LAMMPS) passes it to
/// compute_with_halo: its atoms are local, every periodic image within one
/// cutoff of a local atom is a ghost, and only local atoms have neighbor
/// rows. Returns the graph and the halo that copies owners to their images.
pub fn as_halo(structure: &Structure, cutoff: f64) -> (AtomGraph, ImageHalo) {
    let ws = Workspace::new(1).unwrap();
    let periodic = AtomGraph::build(structure, cutoff, &ws).unwrap();
    let n = structure.positions.len();
    let cell = structure.cell.unwrap_or([[0.0; 3]; 3]);
    let (mut positions, mut numbers) = (structure.positions.to_vec(), structure.numbers.to_vec());
    let mut ghost_of = std::collections::HashMap::new();
    let mut owner = Vec::new();
    let mut neighbors = Vec::new();
    for e in 0..periodic.n_edges() {
        let (j, shift) = (periodic.neighbors[e] as usize, periodic.shifts[e]);
        let index = if shift == [0; 3] {
            j
        } else {
            *ghost_of.entry((j, shift)).or_insert_with(|| {
                let r = [0, 1, 2].map(|k| structure.positions[j][k] + (0..3).map(|a| shift[a] as f64 * cell[a][k]).sum::<f64>());
                positions.push(r);
                numbers.push(structure.numbers[j]);
                owner.push(j);
                positions.len() - 1
            })
        };
        neighbors.push(index as u32);
    }
    let list = NeighborList {
        positions: &positions,
        numbers: &numbers,
        n_local: n,
        offsets: &periodic.offsets[..n + 1],
        neighbors: &neighbors,
        cutoff,
    };
    (AtomGraph::from_neighbor_list(&list).unwrap(), ImageHalo { n_local: n, owner })
}

/// The forces on the local atoms with every ghost's force added to its owner's.
pub fn owner_forces(forces: &[[f64; 3]], halo: &ImageHalo) -> Vec<[f64; 3]> {
    let mut local = forces[..halo.n_local].to_vec();
    for (g, &o) in halo.owner.iter().enumerate() {
        (0..3).for_each(|k| local[o][k] += forces[halo.n_local + g][k]);
    }
    local
}

/// Halo exchanges come in the order the ABI promises (one forward per layer,
/// then one reverse per layer, each as wide as halo_width at most), also
/// with no local atoms, and a failing exchange stops the evaluation with its
/// error. `graph` is a graph with ghosts for `model`.
pub fn check_exchanges_are_collective(model: &Model, graph: &AtomGraph) {
    struct Recorder(Vec<(HaloDirection, usize, usize)>, Option<usize>);
    impl HaloExchange for Recorder {
        fn exchange(&mut self, direction: HaloDirection, values: &mut [f64], width: usize) -> equipot::Result<()> {
            self.0.push((direction, values.len(), width));
            if self.1 == Some(self.0.len()) {
                return Err(equipot::Error::Callback("rank 3 lost its neighbor".into()));
            }
            Ok(())
        }
    }
    let ws = Workspace::new(2).unwrap();
    let request = Request { forces: true, ..Default::default() };
    let layers = model.n_layers();
    let empty = AtomGraph::from_neighbor_list(&NeighborList {
        positions: &[],
        numbers: &[],
        n_local: 0,
        offsets: &[0],
        neighbors: &[],
        cutoff: model.cutoff(),
    })
    .unwrap();
    for g in [graph, &empty] {
        let mut recorder = Recorder(Vec::new(), None);
        let out = model.compute_with_halo(g, &request, &ws, &mut recorder).unwrap();
        let directions: Vec<_> = recorder.0.iter().map(|c| c.0).collect();
        let mut expected = vec![HaloDirection::Forward; layers];
        expected.extend(vec![HaloDirection::Reverse; layers]);
        assert_eq!(directions, expected);
        assert!(recorder.0.iter().all(|&(_, len, width)| len == g.n_atoms() * width && width > 0 && width <= model.halo_width()));
        if g.n_atoms() == 0 {
            assert_eq!(out.energy, 0.0);
        }
    }
    let mut failing = Recorder(Vec::new(), Some(2));
    let error = model.compute_with_halo(graph, &request, &ws, &mut failing).unwrap_err();
    assert!(error.to_string().contains("rank 3 lost its neighbor"), "{error}");
    assert_eq!(failing.0.len(), 2, "the evaluation went on after a failed exchange");
}
