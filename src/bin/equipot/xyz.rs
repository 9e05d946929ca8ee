//! Extended XYZ frames in and out: the subset ASE writes (Lattice, pbc,
//! Properties with species/Z/pos/velocities/momenta/masses), read strictly.
//!
//! Reading never guesses: a malformed frame is an [`Error`] naming its line.
//! Every number read is finite, every species is a known element, every atom
//! line has exactly the columns its Properties declare, and nothing but blank
//! lines may follow the last frame. Depends only on `equipot::elements`, so
//! tests can include this file on its own (tests/fuzz_xyz.rs).

use equipot::elements;
use std::fmt::Write as _;

/// One frame of an extended XYZ file.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    /// Line (1-based) of the frame's atom count; atom `i` is on line `line + 2 + i`.
    pub line: usize,
    pub numbers: Vec<i32>,
    pub positions: Vec<[f64; 3]>,
    pub cell: Option<[[f64; 3]; 3]>,
    pub pbc: [bool; 3],
    /// Velocities in Å/fs, from a "velocities" column (Å/fs) or ASE's
    /// "momenta" column (amu·Å per ASE time unit, divided by the masses).
    pub velocities: Option<Vec<[f64; 3]>>,
    /// Masses in amu, when the file has a "masses" column (all positive).
    pub masses: Option<Vec<f64>>,
}

/// A malformed input: the line (1-based) and what is wrong there.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

fn error(line: usize, message: impl Into<String>) -> Error {
    Error { line, message: message.into() }
}

/// 1 amu·Å²/fs² in eV; ASE's velocity unit, √(eV/amu), is 1/√ of it in Å/fs.
pub const AMU_A2_PER_FS2_IN_EV: f64 = 103.642_696_56;

/// Reads every frame of an extended XYZ file's bytes (which must be UTF-8).
pub fn parse_bytes(bytes: &[u8]) -> Result<Vec<Frame>, Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            Err(error(line, "not UTF-8 text"))
        }
    }
}

/// Reads every frame of an extended XYZ text; at least one frame is required.
pub fn parse(text: &str) -> Result<Vec<Frame>, Error> {
    let lines: Vec<&str> = text.lines().collect();
    let mut frames = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        if lines[at].trim().is_empty() {
            // Blank lines may end the file; anywhere else they hide a mistake.
            match lines[at..].iter().position(|l| !l.trim().is_empty()) {
                None => break,
                Some(k) => return Err(error(at + 1, format!("blank line before the frame on line {}", at + k + 1))),
            }
        }
        let frame = parse_frame(&lines, at)?;
        at += 2 + frame.numbers.len();
        frames.push(frame);
    }
    if frames.is_empty() {
        return Err(error(1, "no frames: the file is empty"));
    }
    Ok(frames)
}

/// The frame whose atom-count line is `lines[at]`.
fn parse_frame(lines: &[&str], at: usize) -> Result<Frame, Error> {
    let line = at + 1;
    let n = atom_count(lines[at]).map_err(|m| error(line, m))?;
    let comment = lines.get(at + 1).ok_or_else(|| error(line + 1, "the file ends before the frame's comment line"))?;
    let header = Header::parse(comment).map_err(|m| error(line + 1, m))?;
    let available = lines.len() - at - 2;
    if available < n {
        return Err(error(lines.len() + 1, format!("truncated frame: expected {n} atoms (line {line}), the file ends after {available}")));
    }
    let mut atoms = Atoms::default();
    for (i, text) in lines[at + 2..at + 2 + n].iter().enumerate() {
        atoms.read(&header.columns, text).map_err(|m| error(line + 2 + i, m))?;
    }
    let mut frame = Frame { line, cell: header.cell, pbc: header.pbc, ..Default::default() };
    frame.numbers = atoms.numbers;
    frame.positions = atoms.positions;
    frame.masses = header.has("masses").then_some(atoms.masses);
    frame.velocities = if header.has("velocities") {
        Some(atoms.velocities)
    } else if header.has("momenta") {
        Some(velocities_from_momenta(&atoms.momenta, &frame.numbers, frame.masses.as_deref()).map_err(|(i, m)| error(line + 2 + i, m))?)
    } else {
        None
    };
    Ok(frame)
}

/// The atom count: a positive integer alone on its line.
fn atom_count(text: &str) -> Result<usize, String> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected an atom count (a positive integer alone on the line), got {text:?}"));
    }
    match t.parse::<usize>() {
        Ok(0) => Err("the atom count is 0: a frame needs at least one atom".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("atom count {t} is too large")),
    }
}

/// What the comment line says about a frame.
struct Header {
    cell: Option<[[f64; 3]; 3]>,
    pbc: [bool; 3],
    columns: Vec<Column>,
}

impl Header {
    fn parse(comment: &str) -> Result<Header, String> {
        let pairs = match key_values(comment) {
            Ok(pairs) => pairs,
            // A line that names none of our keys is a plain XYZ title.
            Err(_) if !mentions_known_key(comment) => Vec::new(),
            Err(e) => return Err(e),
        };
        let cell = known_value(&pairs, "Lattice")?.map(lattice).transpose()?;
        let pbc = match known_value(&pairs, "pbc")? {
            Some(v) => pbc(v)?,
            // ASE's rule: a Lattice without pbc is periodic in 3D.
            None => [cell.is_some(); 3],
        };
        if cell.is_none() && pbc.contains(&true) {
            return Err(format!("pbc={:?} is periodic but the frame has no Lattice", pbc.map(|b| if b { 'T' } else { 'F' })));
        }
        if let Some(c) = &cell {
            check_thickness(c, pbc)?;
        }
        let columns = columns(known_value(&pairs, "Properties")?.unwrap_or("species:S:1:pos:R:3"))?;
        Ok(Header { cell, pbc, columns })
    }

    fn has(&self, role: &str) -> bool {
        self.columns.iter().any(|c| c.role == Some(role))
    }
}

const KNOWN_KEYS: [&str; 3] = ["Lattice", "pbc", "Properties"];

fn mentions_known_key(comment: &str) -> bool {
    let lower = comment.to_ascii_lowercase();
    KNOWN_KEYS.iter().any(|k| lower.contains(&format!("{}=", k.to_ascii_lowercase())))
}

/// The value of `key=...` (the key matched case-insensitively, so that
/// `lattice=` is not silently ignored); an error when it is given twice.
/// Bare words are title text, not keys.
fn known_value<'a>(pairs: &'a [(String, Option<String>)], key: &str) -> Result<Option<&'a str>, String> {
    let mut found = pairs.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key)).filter_map(|(_, v)| v.as_deref());
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("{key} is given twice"));
    }
    Ok(first)
}

/// `key=value`, `key="quoted value"` and bare `key` items of a comment line.
fn key_values(line: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&c) = chars.peek() else { break };
        if c == '=' || c == '"' {
            return Err(format!("unexpected {c:?} in the comment line (expected key=value items)"));
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        let value = if chars.next_if_eq(&'=').is_none() {
            None
        } else if chars.next_if_eq(&'"').is_some() {
            let v: String = std::iter::from_fn(|| chars.next_if(|c| *c != '"')).collect();
            if chars.next().is_none() {
                return Err(format!("{key}=\" has no closing quote"));
            }
            Some(v)
        } else {
            let v: String = std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect();
            if v.is_empty() {
                return Err(format!("{key}= has no value"));
            }
            Some(v)
        };
        out.push((key, value));
    }
    Ok(out)
}

/// A finite number, or a message saying why `token` is not one.
fn finite(token: &str) -> Result<f64, String> {
    match token.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err(format!("{token:?} is not a finite number")),
        Err(_) => Err(format!("{token:?} is not a number")),
    }
}

fn lattice(value: &str) -> Result<[[f64; 3]; 3], String> {
    let x = value.split_whitespace().map(finite).collect::<Result<Vec<f64>, String>>().map_err(|e| format!("Lattice: {e}"))?;
    if x.len() != 9 {
        return Err(format!("Lattice needs 9 numbers (3 cell vectors), got {}", x.len()));
    }
    Ok([[x[0], x[1], x[2]], [x[3], x[4], x[5]], [x[6], x[7], x[8]]])
}

/// No atom can be closer than this to its own periodic image (the shortest
/// bond, H₂'s, is 0.74 Å): a thinner cell is a unit mistake, and would have
/// the neighbor search visit millions of images.
pub const MIN_CELL_THICKNESS: f64 = 0.5;

/// The cell's thickness along each periodic axis (its distance to the span of
/// the other periodic vectors) must be at least [`MIN_CELL_THICKNESS`].
fn check_thickness(cell: &[[f64; 3]; 3], pbc: [bool; 3]) -> Result<(), String> {
    let cross = |a: &[f64; 3], b: &[f64; 3]| [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
    let dot = |a: &[f64; 3], b: &[f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let norm = |a: &[f64; 3]| dot(a, a).sqrt();
    let periodic: Vec<usize> = (0..3).filter(|&k| pbc[k]).collect();
    for &k in &periodic {
        let others: Vec<&[f64; 3]> = periodic.iter().filter(|&&j| j != k).map(|&j| &cell[j]).collect();
        let thickness = match others[..] {
            [] => norm(&cell[k]),
            [b] => norm(&cross(&cell[k], b)) / norm(b),
            [b, c, ..] => dot(&cell[k], &cross(b, c)).abs() / norm(&cross(b, c)),
        };
        // NaN (a zero vector among the others) fails this test too.
        if thickness.is_nan() || thickness < MIN_CELL_THICKNESS {
            return Err(format!(
                "Lattice: the cell is {thickness:.3e} Å thick along periodic axis {k}, less than the {MIN_CELL_THICKNESS} Å an atom \
                 must be from its own image (a zero, parallel or wrongly scaled cell vector?)"
            ));
        }
    }
    Ok(())
}

/// A logical value as ASE writes it: T/F, True/False, 1/0, any case.
fn logical(token: &str) -> Option<bool> {
    match token.to_ascii_lowercase().as_str() {
        "t" | "true" | "1" => Some(true),
        "f" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn pbc(value: &str) -> Result<[bool; 3], String> {
    let flags: Vec<Option<bool>> = value.split_whitespace().map(logical).collect();
    match flags[..] {
        [Some(a), Some(b), Some(c)] => Ok([a, b, c]),
        _ => Err(format!("pbc={value:?}: expected 3 values, each T/F, True/False or 1/0")),
    }
}

/// One entry of a Properties spec: its name, the role equipot reads it for
/// (None: another property, only checked), type (S string, R real, I integer,
/// L logical) and number of columns.
struct Column {
    name: String,
    role: Option<&'static str>,
    kind: char,
    count: usize,
}

/// The columns equipot reads, with the only type and width each may have.
/// "velocities" also answers to the older names vel and velo; "Z" and
/// "species" both give the element.
const KNOWN_COLUMNS: [(&str, &[&str], char, usize); 6] = [
    ("species", &["species"], 'S', 1),
    ("Z", &["Z"], 'I', 1),
    ("pos", &["pos"], 'R', 3),
    ("velocities", &["velocities", "vel", "velo"], 'R', 3),
    ("momenta", &["momenta"], 'R', 3),
    ("masses", &["masses", "mass"], 'R', 1),
];

fn columns(spec: &str) -> Result<Vec<Column>, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    if !parts.len().is_multiple_of(3) {
        return Err(format!("Properties={spec:?}: expected name:type:count triples"));
    }
    let mut out: Vec<Column> = Vec::new();
    for triple in parts.chunks(3) {
        let column = column(triple[0], triple[1], triple[2]).map_err(|e| format!("Properties={spec:?}: {e}"))?;
        if out.iter().any(|c| c.name == column.name || (c.role.is_some() && c.role == column.role)) {
            return Err(format!("Properties={spec:?}: {} is given twice", column.name));
        }
        out.push(column);
    }
    let has = |role: &str| out.iter().any(|c| c.role == Some(role));
    if !has("pos") {
        return Err(format!("Properties={spec:?} has no pos:R:3 column"));
    }
    if !has("species") && !has("Z") {
        return Err(format!("Properties={spec:?} has no species:S:1 or Z:I:1 column"));
    }
    if has("velocities") && has("momenta") {
        return Err(format!("Properties={spec:?} has both velocities and momenta"));
    }
    Ok(out)
}

fn column(name: &str, kind: &str, count: &str) -> Result<Column, String> {
    if name.is_empty() {
        return Err("a property has an empty name".into());
    }
    let kind = match kind {
        "S" => 'S',
        "R" => 'R',
        "I" => 'I',
        "L" => 'L',
        _ => return Err(format!("{name}: type {kind:?} is not S, R, I or L")),
    };
    let count = match count.parse::<usize>() {
        Ok(c) if c >= 1 && count.bytes().all(|b| b.is_ascii_digit()) => c,
        _ => return Err(format!("{name}: column count {count:?} is not a positive integer")),
    };
    let role = KNOWN_COLUMNS.iter().find(|(_, aliases, _, _)| aliases.contains(&name));
    if let Some(&(_, _, k, c)) = role {
        if (kind, count) != (k, c) {
            return Err(format!("{name} must be {name}:{k}:{c}, not {name}:{kind}:{count}"));
        }
    }
    Ok(Column { name: name.to_string(), role: role.map(|r| r.0), kind, count })
}

/// Per-atom values read so far in a frame.
#[derive(Default)]
struct Atoms {
    numbers: Vec<i32>,
    positions: Vec<[f64; 3]>,
    velocities: Vec<[f64; 3]>,
    momenta: Vec<[f64; 3]>,
    masses: Vec<f64>,
}

impl Atoms {
    /// Reads one atom line; it must have exactly the columns declared.
    fn read(&mut self, columns: &[Column], text: &str) -> Result<(), String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let expected: usize = columns.iter().map(|c| c.count).sum();
        if fields.len() != expected {
            return Err(format!("expected {expected} columns as Properties declares, found {}", fields.len()));
        }
        let mut species = None;
        let mut z = None;
        let mut at = 0;
        for column in columns {
            let cols = &fields[at..at + column.count];
            at += column.count;
            check_type(column, cols)?;
            let reals = || cols.iter().map(|c| finite(c)).collect::<Result<Vec<f64>, String>>();
            let vector = || reals().map(|r| [r[0], r[1], r[2]]);
            match column.role.unwrap_or("") {
                "species" => {
                    species = Some(elements::atomic_number(cols[0]).ok_or_else(|| format!("unknown element {:?}", cols[0]))?);
                }
                "Z" => z = Some(atomic_number(cols[0])?),
                "pos" => self.positions.push(vector()?),
                "velocities" => self.velocities.push(vector()?),
                "momenta" => self.momenta.push(vector()?),
                "masses" => self.masses.push(mass(cols[0])?),
                _ => {}
            }
        }
        let number = match (species, z) {
            (Some(s), Some(z)) if s != z => return Err(format!("species {} and Z {z} disagree", elements::symbol(s).unwrap_or("?"))),
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => return Err("no species or Z column".into()),
        };
        self.numbers.push(number);
        Ok(())
    }
}

fn check_type(column: &Column, cols: &[&str]) -> Result<(), String> {
    for c in cols {
        let ok = match column.kind {
            'R' => finite(c).map(|_| ()),
            'I' => c.parse::<i64>().map(|_| ()).map_err(|_| format!("{c:?} is not an integer")),
            'L' => logical(c).map(|_| ()).ok_or_else(|| format!("{c:?} is not a logical (T/F)")),
            _ => Ok(()),
        };
        ok.map_err(|e| format!("{}: {e}", column.name))?;
    }
    Ok(())
}

fn atomic_number(token: &str) -> Result<i32, String> {
    match token.parse::<i32>() {
        Ok(z) if elements::symbol(z).is_some() => Ok(z),
        _ => Err(format!("Z {token:?} is not an atomic number (1 to 118)")),
    }
}

fn mass(token: &str) -> Result<f64, String> {
    let m = finite(token).map_err(|e| format!("masses: {e}"))?;
    if m > 0.0 {
        Ok(m)
    } else {
        Err(format!("masses: {token} is not a positive mass (amu)"))
    }
}

/// ASE's momenta (amu·√(eV/amu)) over the masses, in Å/fs. Errors carry the
/// atom index.
fn velocities_from_momenta(momenta: &[[f64; 3]], numbers: &[i32], masses: Option<&[f64]>) -> Result<Vec<[f64; 3]>, (usize, String)> {
    let unit = 1.0 / AMU_A2_PER_FS2_IN_EV.sqrt();
    let mut out = Vec::with_capacity(momenta.len());
    for (i, p) in momenta.iter().enumerate() {
        let m = match masses {
            Some(m) => m[i],
            None => elements::mass(numbers[i]).ok_or((i, "no standard mass for this element".to_string()))?,
        };
        out.push(p.map(|x| x / m * unit));
    }
    Ok(out)
}

/// Appends one frame, with optional per-atom forces and global energy/stress.
pub fn write(out: &mut String, frame: &Frame, energy: Option<f64>, forces: Option<&[[f64; 3]]>, stress: Option<[f64; 6]>) {
    let _ = writeln!(out, "{}", frame.numbers.len());
    let mut comment = String::new();
    if let Some(c) = frame.cell {
        let _ = write!(comment, "Lattice=\"{}\" ", c.iter().flatten().map(|x| format!("{x:.10}")).collect::<Vec<_>>().join(" "));
    }
    comment += "Properties=species:S:1:pos:R:3";
    if forces.is_some() {
        comment += ":forces:R:3";
    }
    if let Some(e) = energy {
        let _ = write!(comment, " energy={e:.12}");
    }
    if let Some(s) = stress {
        // ASE writes the full 3×3 stress.
        let m = [s[0], s[5], s[4], s[5], s[1], s[3], s[4], s[3], s[2]];
        let _ = write!(comment, " stress=\"{}\"", m.map(|x| format!("{x:.12e}")).join(" "));
    }
    let flag = |b: bool| if b { "T" } else { "F" };
    let _ = writeln!(comment, " pbc=\"{} {} {}\"", flag(frame.pbc[0]), flag(frame.pbc[1]), flag(frame.pbc[2]));
    out.push_str(&comment);
    for (a, (z, r)) in frame.numbers.iter().zip(&frame.positions).enumerate() {
        let _ = write!(out, "{:<3} {:16.10} {:16.10} {:16.10}", elements::symbol(*z).unwrap_or("X"), r[0], r[1], r[2]);
        if let Some(f) = forces {
            let _ = write!(out, " {:16.10} {:16.10} {:16.10}", f[a][0], f[a][1], f[a][2]);
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = "2\nLattice=\"5 0 0 0 5 0 0 0 5\" Properties=species:S:1:pos:R:3 pbc=\"T T F\" energy=-1.0\nSi 0 0 0\nO 1.5 0.5 -0.25\n";
        let frames = parse(text).unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].numbers, vec![14, 8]);
        assert_eq!(frames[0].pbc, [true, true, false]);
        assert_eq!(frames[0].positions[1], [1.5, 0.5, -0.25]);
        let mut out = String::new();
        write(&mut out, &frames[0], Some(1.0), None, None);
        let again = parse(&out).unwrap();
        assert_eq!(again[0].positions, frames[0].positions);
        assert_eq!(again[0].cell, frames[0].cell);
    }

    #[test]
    fn plain_xyz_and_errors() {
        let frames = parse("1\nwater\nH 0 0 0\n1\n\nH 1 1 1\n").unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1].pbc, [false; 3]);
        assert_eq!(frames[1].line, 4);
        assert_eq!(parse("2\n\nH 0 0 0\n").unwrap_err().line, 4);
        assert_eq!(parse("1\n\nQq 0 0 0\n").unwrap_err().line, 3);
        assert_eq!(parse("x\n").unwrap_err().line, 1);
    }
}
