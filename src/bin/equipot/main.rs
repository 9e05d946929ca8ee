//! The `equipot` command: convert, eval, md.
//!
//! Exit status: 0 success, 1 a bad input file, model or run, 2 a bad command
//! line. Nothing is guessed: unknown options, malformed numbers and values out
//! of range are errors that say what is valid.

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
  equipot md --model M FILE.xyz --steps N [--dt FS] [--temperature K]
             [--thermostat none|langevin] [--friction 1/FS] [--precision f32|f64] [--threads N]
             [--seed S] [--log md.log] [--trajectory md.xyz] [--every N] [--modal NAME]
             [--max-force EV_PER_A] [--max-temperature K]
  equipot --version

options:
  --model M            model file (.eqp.safetensors, or a .json analytic model)
  --modal NAME         fidelity head of a multi-fidelity model (e.g. PBE, R2SCAN for SevenNet-MF-0)
  --precision P        f32 or f64 arithmetic (default f64; results are always double)
  --threads N          0 (default: all cores) to 4096
  --json               eval: one JSON object per frame instead of extended XYZ
  --steps N            md: number of steps, 0 or more (required)
  --dt FS              md: time step in fs, 0 < dt <= 100 (default 1)
  --temperature K      md: 0 <= K <= --max-temperature (default 300): the Langevin target, and the
                       temperature of the starting velocities when the file has none
  --thermostat T       md: none (velocity Verlet, NVE; the default) or langevin (BAOAB, NVT)
  --friction G         md, langevin only: friction in 1/fs, 0 < G <= 10 (default 0.01)
  --seed S             md: random seed, 0 to 2^64-1 (default 12345)
  --log, --trajectory  md: output files (default md.log, md.xyz)
  --every N            md: log and trajectory every N steps, N >= 1 (default 10)
  --max-force F        md: stop when any atom's force exceeds F eV/A (default 1000)
  --max-temperature K  md: stop when the temperature exceeds K (default 100000)
md also stops on a non-finite energy, force, position or velocity. It starts from the
file's last frame, with its velocities (velocities in A/fs, or ASE's momenta) and masses
when it has them, and standard atomic masses otherwise.
exit status: 0 success, 1 bad input or failed run, 2 bad command line";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(failure) = run(&args) {
        eprintln!("equipot: {}", failure.message);
        std::process::exit(failure.status);
    }
}

fn run(args: &[String]) -> Outcome<()> {
    let rest = args.get(1..).unwrap_or_default();
    let wants_help = rest.iter().any(|a| a == "--help" || a == "-h");
    match args.first().map(String::as_str) {
        Some("--version" | "version" | "--help" | "-h" | "help") if !rest.is_empty() => {
            return Err(usage(format!("{} takes no arguments, got {}", args[0], rest.join(" "))))
        }
        Some("--version" | "version") => println!("equipot {}", equipot::VERSION),
        Some("--help" | "-h" | "help") => println!("{USAGE}"),
        Some("eval" | "md") if wants_help => println!("{USAGE}"),
        Some("eval") => eval(&Args::parse(rest, &EVAL)?)?,
        Some("md") => run_md(&Args::parse(rest, &MD)?)?,
        Some("convert") => convert(rest)?,
        Some(other) => return Err(usage(format!("unknown command {other:?} (convert, eval, md, --version, --help)\n{USAGE}"))),
        None => return Err(usage(format!("no command given\n{USAGE}"))),
    }
    Ok(())
}

/// Why the command failed, and its exit status.
struct Failure {
    message: String,
    status: i32,
}

type Outcome<T> = Result<T, Failure>;

/// A bad input file, model or run: exit status 1.
impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure { message, status: 1 }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::from(message.to_string())
    }
}

/// A bad command line: exit status 2.
fn usage(message: impl Into<String>) -> Failure {
    Failure { message: message.into(), status: 2 }
}

/// The options a subcommand takes: those with a value and plain switches.
struct Options {
    command: &'static str,
    values: &'static [&'static str],
    switches: &'static [&'static str],
}

const EVAL: Options = Options { command: "eval", values: &["--model", "--modal", "--precision", "--threads"], switches: &["--json"] };

const MD: Options = Options {
    command: "md",
    values: &[
        "--model", "--modal", "--precision", "--threads", "--steps", "--dt", "--temperature", "--thermostat", "--friction", "--seed",
        "--log", "--trajectory", "--every", "--max-force", "--max-temperature",
    ],
    switches: &[],
};

impl Options {
    fn valid(&self) -> String {
        self.values.iter().chain(self.switches).copied().collect::<Vec<_>>().join(" ")
    }
}

/// A subcommand's options (`--name value`, `--name=value` or `--switch`) and
/// its one positional argument, the input file.
struct Args {
    flags: Vec<(String, Option<String>)>,
    file: String,
}

impl Args {
    fn parse(args: &[String], options: &Options) -> Outcome<Args> {
        let mut flags: Vec<(String, Option<String>)> = Vec::new();
        let mut positional = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if !a.starts_with("--") {
                positional.push(a.clone());
                continue;
            }
            let (name, inline) = match a.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (a.clone(), None),
            };
            let value = if options.switches.contains(&name.as_str()) {
                if inline.is_some() {
                    return Err(usage(format!("{name} takes no value")));
                }
                None
            } else if options.values.contains(&name.as_str()) {
                match inline.or_else(|| it.next().cloned()) {
                    Some(v) if !v.starts_with("--") => Some(v),
                    _ => return Err(usage(format!("{name} needs a value"))),
                }
            } else {
                return Err(usage(format!("unknown option {name} for `equipot {}`; valid options: {}", options.command, options.valid())));
            };
            if flags.iter().any(|(n, _)| *n == name) {
                return Err(usage(format!("{name} is given twice")));
            }
            flags.push((name, value));
        }
        match &positional[..] {
            [file] => Ok(Args { flags, file: file.clone() }),
            [] => Err(usage(format!("`equipot {}` needs an input .xyz file", options.command))),
            more => Err(usage(format!("`equipot {}` takes one input file, got {}: {}", options.command, more.len(), more.join(" ")))),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }

    /// An integer option, read strictly (`1e3`, `12x` and `-1` are errors).
    fn integer<T: std::str::FromStr>(&self, name: &str, default: Option<T>, valid: &str) -> Outcome<T> {
        match self.get(name) {
            Some(v) => v.parse().map_err(|_| usage(format!("{name}: cannot read {v:?} as a number (expected {valid})"))),
            None => default.ok_or_else(|| usage(format!("{name} is required ({valid})"))),
        }
    }

    /// A real option: a finite number for which `ok` holds, `valid` says which.
    fn real(&self, name: &str, default: f64, ok: impl Fn(f64) -> bool, valid: &str) -> Outcome<f64> {
        let Some(v) = self.get(name) else { return Ok(default) };
        let x: f64 = v.parse().map_err(|_| usage(format!("{name}: cannot read {v:?} as a number (expected {valid})")))?;
        if x.is_finite() && ok(x) {
            Ok(x)
        } else {
            Err(usage(format!("{name}: {v} is out of range (expected {valid})")))
        }
    }

    fn precision(&self) -> Outcome<Precision> {
        match self.get("--precision") {
            None | Some("f64" | "float64") => Ok(Precision::F64),
            Some("f32" | "float32") => Ok(Precision::F32),
            Some(p) => Err(usage(format!("--precision must be f32 or f64, got {p}"))),
        }
    }

    fn workspace(&self) -> Outcome<Workspace> {
        let threads = self.integer("--threads", Some(0), "0 (all cores) to 4096")?;
        Workspace::new(threads).map_err(|e| usage(format!("--threads: {e}")))
    }

    fn model(&self) -> Outcome<Model> {
        let path = self.get("--model").ok_or_else(|| usage("--model is required"))?;
        Ok(equipot::model::load_modal(path, self.get("--modal")).map_err(|e| format!("{path}: {e}"))?)
    }

    fn frames(&self) -> Outcome<Vec<xyz::Frame>> {
        let file = &self.file;
        let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
        Ok(xyz::parse_bytes(&bytes).map_err(|e| format!("{file}:{}: {}", e.line, e.message))?)
    }
}

/// Stress in ASE's convention and Voigt order (xx yy zz yz xz xy), eV/Å³.
fn stress(virial: &[[f64; 3]; 3], volume: f64) -> [f64; 6] {
    let s = |a: usize, b: usize| -virial[a][b] / volume;
    [s(0, 0), s(1, 1), s(2, 2), s(1, 2), s(0, 2), s(0, 1)]
}

fn eval(args: &Args) -> Outcome<()> {
    let precision = args.precision()?;
    let json = args.has("--json");
    let ws = args.workspace()?;
    let model = args.model()?;
    let frames = args.frames()?;
    let mut stdout = std::io::stdout().lock();
    for (k, frame) in frames.iter().enumerate() {
        let context = |e: String| format!("{}:{}: frame {k}: {e}", args.file, frame.line);
        let structure = Structure { positions: &frame.positions, numbers: &frame.numbers, cell: frame.cell, pbc: frame.pbc };
        let graph = AtomGraph::build(&structure, model.cutoff(), &ws).map_err(|e| context(e.to_string()))?;
        let request = Request { forces: true, virial: true, precision, ..Default::default() };
        let out = model.compute(&graph, &request, &ws).map_err(|e| context(e.to_string()))?;
        let finite = out.energy.is_finite() && out.forces.iter().flatten().chain(out.virial.iter().flatten()).all(|x| x.is_finite());
        if !finite {
            return Err(context("the model gave a non-finite energy, force or virial".into()).into());
        }
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
        stdout.write_all(text.as_bytes()).map_err(|e| format!("writing the results: {e}"))?;
    }
    Ok(())
}

/// `md`'s command line, checked before anything is loaded or written.
struct MdSettings {
    steps: usize,
    dt: f64,
    temperature: f64,
    langevin: bool,
    friction: f64,
    seed: u64,
    every: usize,
    limits: md::Limits,
    precision: Precision,
    log_path: String,
    traj_path: String,
}

impl MdSettings {
    fn parse(args: &Args) -> Outcome<MdSettings> {
        let langevin = match args.get("--thermostat") {
            None | Some("none" | "nve") => false,
            Some("langevin") => true,
            Some(t) => return Err(usage(format!("--thermostat: unknown thermostat {t:?} (none or langevin)"))),
        };
        if !langevin && args.has("--friction") {
            return Err(usage("--friction applies only to --thermostat langevin"));
        }
        let max_force = args.real("--max-force", 1000.0, |f| f > 0.0, "a force in eV/Å, > 0")?;
        let max_temperature = args.real("--max-temperature", 1e5, |t| t > 0.0, "a temperature in K, > 0")?;
        let temperature = args.real("--temperature", 300.0, |t| (0.0..=max_temperature).contains(&t), &format!("a temperature in K, 0 to --max-temperature {max_temperature}"))?;
        let settings = MdSettings {
            steps: args.integer("--steps", None, "a number of steps, 0 or more")?,
            dt: args.real("--dt", 1.0, |dt| dt > 0.0 && dt <= 100.0, "a time step in fs, 0 < dt <= 100")?,
            temperature,
            langevin,
            friction: args.real("--friction", 0.01, |g| g > 0.0 && g <= 10.0, "a friction in 1/fs, 0 < friction <= 10")?,
            seed: args.integer("--seed", Some(12345), "an integer from 0 to 2^64-1")?,
            every: args.integer("--every", Some(10), "a number of steps, 1 or more")?,
            limits: md::Limits { max_force, max_temperature },
            precision: args.precision()?,
            log_path: args.get("--log").unwrap_or("md.log").to_string(),
            traj_path: args.get("--trajectory").unwrap_or("md.xyz").to_string(),
        };
        if settings.every == 0 {
            return Err(usage("--every: 0 is out of range (expected a number of steps, 1 or more)"));
        }
        settings.check_outputs(&args.file)?;
        Ok(settings)
    }

    /// The log and the trajectory must not overwrite each other or the input.
    fn check_outputs(&self, input: &str) -> Outcome<()> {
        let same = |a: &str, b: &str| {
            a == b || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
        };
        if same(&self.log_path, &self.traj_path) {
            return Err(usage(format!("--log and --trajectory are the same file, {}", self.log_path)));
        }
        for (flag, path) in [("--log", &self.log_path), ("--trajectory", &self.traj_path)] {
            if same(path, input) {
                return Err(usage(format!("{flag} {path} would overwrite the input file")));
            }
        }
        Ok(())
    }
}

/// The starting frame (the file's last) and its masses.
fn md_start(args: &Args, settings: &MdSettings) -> Outcome<(xyz::Frame, Vec<f64>)> {
    let mut frames = args.frames()?;
    let count = frames.len();
    let frame = frames.pop().ok_or("the input file has no frame")?;
    if count > 1 {
        eprintln!("equipot: {} has {count} frames; md starts from the last, on line {}", args.file, frame.line);
    }
    if frame.velocities.is_some() && !settings.langevin && args.has("--temperature") {
        return Err(usage(format!(
            "--temperature has no effect: {}:{} has velocities and --thermostat is none (drop --temperature, or use langevin)",
            args.file, frame.line
        )));
    }
    let masses = match &frame.masses {
        Some(m) => m.clone(),
        None => {
            let standard = frame.numbers.iter().map(|&z| equipot::elements::mass(z));
            standard.collect::<Option<Vec<f64>>>().ok_or_else(|| format!("{}:{}: an element has no standard mass", args.file, frame.line))?
        }
    };
    Ok((frame, masses))
}

fn run_md(args: &Args) -> Outcome<()> {
    let settings = MdSettings::parse(args)?;
    let ws = args.workspace()?;
    let model = args.model()?;
    let (frame, masses) = md_start(args, &settings)?;
    let mut rng = md::Rng::new(settings.seed);
    let mut system = md::System {
        model: &model,
        ws: &ws,
        precision: settings.precision,
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
        None => {
            system.thermalize(settings.temperature, &mut rng);
            if settings.temperature > 0.0 && system.temperature() == 0.0 {
                // One atom: removing the total momentum leaves no motion.
                eprintln!("equipot: a single atom has no motion at zero total momentum: md starts at 0 K");
            }
        }
    }
    let start_context = format!("{}:{}: the starting structure", args.file, frame.line);
    system.compute().map_err(|e| format!("{start_context}: {e}"))?;
    system.check(&settings.limits).map_err(|problem| format!("{start_context}: {problem} (atoms too close, or velocities too large?)"))?;
    integrate(&mut system, &settings, &frame, &mut rng)
}

fn integrate(system: &mut md::System, settings: &MdSettings, frame: &xyz::Frame, rng: &mut md::Rng) -> Outcome<()> {
    let MdSettings { steps, dt, every, .. } = *settings;
    let (log_path, traj_path) = (&settings.log_path, &settings.traj_path);
    let mut log = std::fs::File::create(log_path).map_err(|e| format!("{log_path}: {e}"))?;
    let mut traj = std::fs::File::create(traj_path).map_err(|e| format!("{traj_path}: {e}"))?;
    writeln!(log, "# step time_fs potential_eV kinetic_eV total_eV temperature_K").map_err(|e| format!("{log_path}: {e}"))?;
    let n = system.numbers.len();
    let tty = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut last_report = start;
    for step in 0..=steps {
        if step > 0 {
            let result = if settings.langevin {
                system.langevin(dt, settings.temperature, settings.friction, rng)
            } else {
                system.verlet(dt)
            };
            result.map_err(|e| format!("step {step}: {e}"))?;
            system.check(&settings.limits).map_err(|problem| blew_up(step, dt, &problem))?;
        }
        if step % every == 0 || step == steps {
            let (epot, ekin) = (system.energy, system.kinetic_energy());
            writeln!(log, "{step} {:.3} {epot:.10} {ekin:.10} {:.10} {:.4}", step as f64 * dt, epot + ekin, system.temperature())
                .map_err(|e| format!("{log_path}: {e}"))?;
            let mut text = String::new();
            let current = xyz::Frame { positions: system.positions.clone(), ..frame.clone() };
            xyz::write(&mut text, &current, Some(epot), Some(&system.forces), None);
            traj.write_all(text.as_bytes()).map_err(|e| format!("{traj_path}: {e}"))?;
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

fn blew_up(step: usize, dt: f64, problem: &str) -> Failure {
    let time = step as f64 * dt;
    Failure::from(format!(
        "md stopped at step {step} (t = {time} fs): {problem}. The dynamics blew up: atoms too close, a time step too \
         large, or a structure outside the model's training data (the log and trajectory hold the steps before it)"
    ))
}

fn convert(args: &[String]) -> Outcome<()> {
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
