//! The `equipot` command: convert, eval, md.

mod md;
mod xyz;

use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Model, Structure, Workspace};
use std::io::{IsTerminal, Write};
use std::time::Instant;

const USAGE: &str = "\
usage:
  equipot convert sevenn CHECKPOINT OUT        convert a SevenNet checkpoint (runs python3 -m equipot.convert)
  equipot convert mace MODEL OUT               convert a mace-torch ScaleShiftMACE model (the same, no torch)
  equipot eval --model M [--modal NAME] [--precision f32|f64] [--threads N] [--json] FILE.xyz
  equipot md --model M FILE.xyz --steps N --dt FS --temperature K
             [--thermostat langevin] [--friction 1/FS] [--precision f32|f64] [--threads N]
             [--seed S] [--log md.log] [--trajectory md.xyz] [--every N] [--modal NAME]
  --modal picks the fidelity head of a multi-fidelity model (e.g. PBE, R2SCAN for SevenNet-MF-0)
  equipot --version";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--version" | "version") => {
            println!("equipot {}", equipot::VERSION);
            Ok(())
        }
        Some("eval") => eval(&Args::parse(&args[1..])),
        Some("md") => run_md(&Args::parse(&args[1..])),
        Some("convert") => convert(&args[1..]),
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(format!("unknown command\n{USAGE}")),
    };
    if let Err(message) = result {
        eprintln!("equipot: {message}");
        std::process::exit(1);
    }
}

/// Flags (`--name value` or `--flag`) and positional arguments.
struct Args {
    flags: Vec<(String, Option<String>)>,
    positional: Vec<String>,
}

impl Args {
    const SWITCHES: [&'static str; 1] = ["--json"];

    fn parse(args: &[String]) -> Args {
        let mut flags = Vec::new();
        let mut positional = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if a.starts_with("--") {
                let value = if Self::SWITCHES.contains(&a.as_str()) { None } else { it.next().cloned() };
                flags.push((a.clone(), value));
            } else {
                positional.push(a.clone());
            }
        }
        Args { flags, positional }
    }

    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    fn get(&self, name: &str) -> Result<Option<&str>, String> {
        match self.flags.iter().find(|(n, _)| n == name) {
            Some((_, Some(v))) => Ok(Some(v)),
            Some((_, None)) => Err(format!("{name} needs a value")),
            None => Ok(None),
        }
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: Option<T>) -> Result<T, String> {
        match self.get(name)? {
            Some(v) => v.parse().map_err(|_| format!("{name}: cannot read {v:?} as a number")),
            None => default.ok_or_else(|| format!("{name} is required")),
        }
    }

    fn precision(&self) -> Result<Precision, String> {
        match self.get("--precision")? {
            None | Some("f64" | "float64") => Ok(Precision::F64),
            Some("f32" | "float32") => Ok(Precision::F32),
            Some(p) => Err(format!("--precision must be f32 or f64, got {p}")),
        }
    }

    fn setup(&self) -> Result<(Model, Workspace, Vec<xyz::Frame>), String> {
        let model_path = self.get("--model")?.ok_or("--model is required")?;
        let model = equipot::model::load_modal(model_path, self.get("--modal")?).map_err(|e| format!("{model_path}: {e}"))?;
        let ws = Workspace::new(self.number("--threads", Some(0))?).map_err(|e| e.to_string())?;
        let file = self.positional.first().ok_or("an input .xyz file is required")?;
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        let frames = xyz::parse(&text).map_err(|e| format!("{file}: {e}"))?;
        Ok((model, ws, frames))
    }
}

/// Stress in ASE's convention and Voigt order (xx yy zz yz xz xy), eV/Å³.
fn stress(virial: &[[f64; 3]; 3], volume: f64) -> [f64; 6] {
    let s = |a: usize, b: usize| -virial[a][b] / volume;
    [s(0, 0), s(1, 1), s(2, 2), s(1, 2), s(0, 2), s(0, 1)]
}

fn eval(args: &Args) -> Result<(), String> {
    let (model, ws, frames) = args.setup()?;
    let precision = args.precision()?;
    let json = args.has("--json");
    let mut stdout = std::io::stdout().lock();
    for (k, frame) in frames.iter().enumerate() {
        let structure = Structure { positions: &frame.positions, numbers: &frame.numbers, cell: frame.cell, pbc: frame.pbc };
        let graph = AtomGraph::build(&structure, model.cutoff(), &ws).map_err(|e| format!("frame {k}: {e}"))?;
        let request = Request { forces: true, virial: true, precision, ..Default::default() };
        let out = model.compute(&graph, &request, &ws).map_err(|e| format!("frame {k}: {e}"))?;
        let stress = graph.volume().map(|v| stress(&out.virial, v));
        let text = if json {
            let mut object = serde_json::json!({ "energy": out.energy, "forces": out.forces });
            if let Some(s) = stress {
                object["stress"] = serde_json::json!(s);
            }
            format!("{object}\n")
        } else {
            let mut text = String::new();
            xyz::write(&mut text, frame, Some(out.energy), Some(&out.forces), stress);
            text
        };
        stdout.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn run_md(args: &Args) -> Result<(), String> {
    let (model, ws, frames) = args.setup()?;
    let frame = frames.into_iter().last().ok_or("the input file has no frame")?;
    let steps: usize = args.number("--steps", None)?;
    let dt: f64 = args.number("--dt", Some(1.0))?;
    let temperature: f64 = args.number("--temperature", Some(300.0))?;
    let friction: f64 = args.number("--friction", Some(0.01))?;
    let every: usize = args.number("--every", Some(10))?.max(1);
    let langevin = match args.get("--thermostat")? {
        None | Some("none" | "nve") => false,
        Some("langevin") => true,
        Some(t) => return Err(format!("unknown thermostat {t} (langevin or none)")),
    };
    let masses = match &frame.masses {
        Some(m) => m.clone(),
        None => frame.numbers.iter().map(|&z| equipot::elements::mass(z).unwrap_or(1.0)).collect(),
    };
    let mut rng = md::Rng::new(args.number("--seed", Some(12345))?);
    let mut system = md::System {
        model: &model,
        ws: &ws,
        precision: args.precision()?,
        numbers: frame.numbers.clone(),
        masses,
        positions: frame.positions.clone(),
        velocities: vec![[0.0; 3]; frame.numbers.len()],
        cell: frame.cell,
        pbc: frame.pbc,
        forces: Vec::new(),
        energy: 0.0,
        virial: [[0.0; 3]; 3],
    };
    match &frame.velocities {
        Some(v) => system.velocities = v.clone(),
        None => system.thermalize(temperature, &mut rng),
    }
    system.compute().map_err(|e| e.to_string())?;
    let log_path = args.get("--log")?.unwrap_or("md.log").to_string();
    let traj_path = args.get("--trajectory")?.unwrap_or("md.xyz").to_string();
    let mut log = std::fs::File::create(&log_path).map_err(|e| format!("{log_path}: {e}"))?;
    let mut traj = std::fs::File::create(&traj_path).map_err(|e| format!("{traj_path}: {e}"))?;
    writeln!(log, "# step time_fs potential_eV kinetic_eV total_eV temperature_K").map_err(|e| e.to_string())?;
    let n = system.numbers.len();
    let tty = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut last_report = start;
    for step in 0..=steps {
        if step > 0 {
            let result = if langevin {
                system.langevin(dt, temperature, friction, &mut rng)
            } else {
                system.verlet(dt)
            };
            result.map_err(|e| format!("step {step}: {e}"))?;
        }
        if step % every == 0 || step == steps {
            let (epot, ekin) = (system.energy, system.kinetic_energy());
            writeln!(log, "{step} {:.3} {epot:.10} {ekin:.10} {:.10} {:.4}", step as f64 * dt, epot + ekin, system.temperature())
                .map_err(|e| e.to_string())?;
            let mut text = String::new();
            let current = xyz::Frame { positions: system.positions.clone(), ..frame.clone() };
            xyz::write(&mut text, &current, Some(epot), Some(&system.forces), None);
            traj.write_all(text.as_bytes()).map_err(|e| e.to_string())?;
        }
        let now = Instant::now();
        if step > 0 && (now.duration_since(last_report).as_secs_f64() > 1.0 || step == steps) {
            last_report = now;
            let rate = step as f64 / now.duration_since(start).as_secs_f64();
            let ns_per_day = rate * dt * 86400.0 * 1e-6;
            let line = format!(
                "step {step}/{steps}  {rate:.2} steps/s  {ns_per_day:.4} ns/day  {:.1} µs/atom-step  T = {:.1} K  E = {:.6} eV",
                1e6 / (rate * n.max(1) as f64),
                system.temperature(),
                system.energy + system.kinetic_energy()
            );
            if tty {
                eprint!("\r{line}   ");
            } else {
                eprintln!("{line}");
            }
        }
    }
    if tty {
        eprintln!();
    }
    eprintln!("wrote {log_path} and {traj_path}");
    Ok(())
}

fn convert(args: &[String]) -> Result<(), String> {
    let status = std::process::Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .args(["-m", "equipot.convert"])
        .args(args)
        .status()
        .map_err(|e| format!("cannot run python3 -m equipot.convert: {e} (pip install bindings/python)"))?;
    if status.success() {
        Ok(())
    } else {
        Err("conversion failed (see the message above)".into())
    }
}
