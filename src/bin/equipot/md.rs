//! Molecular dynamics in metal units: velocity Verlet (NVE) and Langevin
//! (BAOAB, NVT). Times in fs, masses in amu, velocities in Å/fs.

use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Model, Structure, Workspace};

/// 1 amu·Å²/fs² in eV (one definition, shared with the XYZ reader's momenta).
pub use crate::xyz::AMU_A2_PER_FS2_IN_EV;
/// Boltzmann's constant, eV/K.
pub const BOLTZMANN_EV: f64 = 8.617_333_262e-5;

/// When a run is stopped as blown up (beyond any non-finite value).
pub struct Limits {
    /// Largest force on one atom, eV/Å.
    pub max_force: f64,
    /// Highest instantaneous temperature, K.
    pub max_temperature: f64,
}

/// A system being integrated.
pub struct System<'a> {
    pub model: &'a Model,
    pub ws: &'a Workspace,
    pub precision: Precision,
    pub numbers: Vec<i32>,
    pub masses: Vec<f64>,
    pub positions: Vec<[f64; 3]>,
    pub velocities: Vec<[f64; 3]>,
    pub cell: Option<[[f64; 3]; 3]>,
    pub pbc: [bool; 3],
    pub forces: Vec<[f64; 3]>,
    pub energy: f64,
    pub virial: [[f64; 3]; 3],
}

impl System<'_> {
    /// Energy, forces and virial at the current positions.
    pub fn compute(&mut self) -> equipot::Result<()> {
        let structure = Structure { positions: &self.positions, numbers: &self.numbers, cell: self.cell, pbc: self.pbc };
        let graph = AtomGraph::build(&structure, self.model.cutoff(), self.ws)?;
        let request = Request { forces: true, virial: true, precision: self.precision, ..Default::default() };
        let out = self.model.compute(&graph, &request, self.ws)?;
        self.energy = out.energy;
        self.forces = out.forces;
        self.virial = out.virial;
        Ok(())
    }

    /// Whether the state is still physical: a finite energy, finite
    /// positions, velocities and forces, no force above `limits.max_force`
    /// and no temperature above `limits.max_temperature`. The error says
    /// what went wrong, and on which atom (0-based, the input's order).
    pub fn check(&self, limits: &Limits) -> Result<(), String> {
        if !self.energy.is_finite() {
            return Err(format!("the potential energy is {}", self.energy));
        }
        let finite = |v: &[f64; 3]| v.iter().all(|x| x.is_finite());
        for (name, values) in [("position", &self.positions), ("velocity", &self.velocities), ("force", &self.forces)] {
            if let Some(i) = values.iter().position(|v| !finite(v)) {
                return Err(format!("the {name} of atom {i} is {:?}", values[i]));
            }
        }
        let norm = |f: &[f64; 3]| (f[0] * f[0] + f[1] * f[1] + f[2] * f[2]).sqrt();
        if let Some(i) = self.forces.iter().position(|f| norm(f) > limits.max_force) {
            return Err(format!(
                "the force on atom {i} is {:.4e} eV/Å, above --max-force {} eV/Å",
                norm(&self.forces[i]),
                limits.max_force
            ));
        }
        let t = self.temperature();
        if !t.is_finite() || t > limits.max_temperature {
            return Err(format!("the temperature is {t:.4e} K, above --max-temperature {} K", limits.max_temperature));
        }
        Ok(())
    }

    pub fn kinetic_energy(&self) -> f64 {
        let mv2: f64 = self.velocities.iter().zip(&self.masses).map(|(v, m)| m * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2])).sum();
        0.5 * mv2 * AMU_A2_PER_FS2_IN_EV
    }

    fn degrees_of_freedom(&self) -> f64 {
        (3 * self.numbers.len()).saturating_sub(3).max(1) as f64
    }

    pub fn temperature(&self) -> f64 {
        2.0 * self.kinetic_energy() / (self.degrees_of_freedom() * BOLTZMANN_EV)
    }

    /// Maxwell–Boltzmann velocities at `temperature`, zero total momentum,
    /// rescaled to exactly that temperature.
    pub fn thermalize(&mut self, temperature: f64, rng: &mut Rng) {
        self.velocities = self
            .masses
            .iter()
            .map(|m| {
                let s = (BOLTZMANN_EV * temperature / (m * AMU_A2_PER_FS2_IN_EV)).sqrt();
                [s * rng.normal(), s * rng.normal(), s * rng.normal()]
            })
            .collect();
        let total_mass: f64 = self.masses.iter().sum();
        let mut p = [0.0; 3];
        for (v, m) in self.velocities.iter().zip(&self.masses) {
            for k in 0..3 {
                p[k] += m * v[k];
            }
        }
        for v in &mut self.velocities {
            for k in 0..3 {
                v[k] -= p[k] / total_mass;
            }
        }
        let t = self.temperature();
        if t > 0.0 && temperature > 0.0 {
            let scale = (temperature / t).sqrt();
            self.velocities.iter_mut().flatten().for_each(|x| *x *= scale);
        }
    }

    fn kick(&mut self, dt: f64) {
        for ((v, f), m) in self.velocities.iter_mut().zip(&self.forces).zip(&self.masses) {
            let a = dt / (m * AMU_A2_PER_FS2_IN_EV);
            for k in 0..3 {
                v[k] += a * f[k];
            }
        }
    }

    fn drift(&mut self, dt: f64) {
        for (r, v) in self.positions.iter_mut().zip(&self.velocities) {
            for k in 0..3 {
                r[k] += dt * v[k];
            }
        }
    }

    /// One velocity-Verlet step of `dt` fs (forces must be current).
    pub fn verlet(&mut self, dt: f64) -> equipot::Result<()> {
        self.kick(0.5 * dt);
        self.drift(dt);
        self.compute()?;
        self.kick(0.5 * dt);
        Ok(())
    }

    /// One Langevin step (BAOAB splitting) at `temperature` K with friction
    /// `gamma` (1/fs).
    pub fn langevin(&mut self, dt: f64, temperature: f64, gamma: f64, rng: &mut Rng) -> equipot::Result<()> {
        self.kick(0.5 * dt);
        self.drift(0.5 * dt);
        let c1 = (-gamma * dt).exp();
        let c2 = (1.0 - c1 * c1).sqrt();
        for (v, m) in self.velocities.iter_mut().zip(&self.masses) {
            let s = (BOLTZMANN_EV * temperature / (m * AMU_A2_PER_FS2_IN_EV)).sqrt();
            for x in v.iter_mut() {
                *x = c1 * *x + c2 * s * rng.normal();
            }
        }
        self.drift(0.5 * dt);
        self.compute()?;
        self.kick(0.5 * dt);
        Ok(())
    }
}

/// xoshiro256** with Box–Muller normals: reproducible from a seed.
pub struct Rng {
    s: [u64; 4],
    spare: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        Rng { s: [next(), next(), next(), next()], spare: None }
    }

    pub fn uniform(&mut self) -> f64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        ((result >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        if let Some(x) = self.spare.take() {
            return x;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let r = (-2.0 * u.ln()).sqrt();
        let (s, c) = (2.0 * std::f64::consts::PI * v).sin_cos();
        self.spare = Some(r * s);
        r * c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use equipot::model::LennardJones;

    fn argon<'a>(ws: &'a Workspace, model: &'a Model) -> System<'a> {
        // fcc argon, 3×3×3 conventional cells, slightly compressed.
        let a = 5.26;
        let basis = [[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]];
        let mut positions = Vec::new();
        for i in 0..3 {
            for j in 0..3 {
                for k in 0..3 {
                    for b in basis {
                        positions.push([(i as f64 + b[0]) * a, (j as f64 + b[1]) * a, (k as f64 + b[2]) * a]);
                    }
                }
            }
        }
        let n = positions.len();
        System {
            model,
            ws,
            precision: Precision::F64,
            numbers: vec![18; n],
            masses: vec![equipot::elements::mass(18).unwrap(); n],
            positions,
            velocities: vec![[0.0; 3]; n],
            cell: Some([[3.0 * a, 0.0, 0.0], [0.0, 3.0 * a, 0.0], [0.0, 0.0, 3.0 * a]]),
            pbc: [true; 3],
            forces: Vec::new(),
            energy: 0.0,
            virial: [[0.0; 3]; 3],
        }
    }

    #[test]
    fn nve_conserves_energy_and_langevin_thermalizes() {
        let ws = Workspace::new(1).unwrap();
        let model = Model::new(LennardJones::new(&[18], &[0.0104], &[3.4], 7.5).unwrap());
        let mut sys = argon(&ws, &model);
        let mut rng = Rng::new(7);
        sys.thermalize(60.0, &mut rng);
        assert!((sys.temperature() - 60.0).abs() < 1e-9);
        sys.compute().unwrap();
        let e0 = sys.energy + sys.kinetic_energy();
        for _ in 0..200 {
            sys.verlet(2.0).unwrap();
        }
        let e1 = sys.energy + sys.kinetic_energy();
        let n = sys.numbers.len() as f64;
        assert!(((e1 - e0) / n).abs() < 1e-5, "NVE drift {} eV/atom", (e1 - e0) / n);
        let mut mean_t = 0.0;
        for step in 0..600 {
            sys.langevin(2.0, 40.0, 0.02, &mut rng).unwrap();
            if step >= 300 {
                mean_t += sys.temperature() / 300.0;
            }
        }
        assert!((mean_t - 40.0).abs() < 6.0, "Langevin mean temperature {mean_t} K, target 40 K");
    }
}
