//! Extended XYZ frames in and out (the subset ASE writes and reads:
//! Lattice, pbc, Properties with species/pos/Z/velocities/masses).

use equipot::elements;
use std::fmt::Write as _;

/// One frame of an extended XYZ file.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    pub numbers: Vec<i32>,
    pub positions: Vec<[f64; 3]>,
    pub cell: Option<[[f64; 3]; 3]>,
    pub pbc: [bool; 3],
    /// Velocities in Å/fs, when the file has them ("velocities" column).
    pub velocities: Option<Vec<[f64; 3]>>,
    pub masses: Option<Vec<f64>>,
}

/// Reads every frame of an extended XYZ text.
pub fn parse(text: &str) -> Result<Vec<Frame>, String> {
    let mut lines = text.lines().enumerate().peekable();
    let mut frames = Vec::new();
    while let Some((lineno, first)) = lines.next() {
        if first.trim().is_empty() {
            continue;
        }
        let n: usize = first.trim().parse().map_err(|_| format!("line {}: expected an atom count, got {first:?}", lineno + 1))?;
        let (_, comment) = lines.next().ok_or_else(|| format!("line {}: missing comment line", lineno + 2))?;
        let info = parse_comment(comment);
        let cell = match info.iter().find(|(k, _)| k.eq_ignore_ascii_case("Lattice")) {
            Some((_, v)) => {
                let x: Vec<f64> = numbers(v).map_err(|e| format!("frame {}: Lattice: {e}", frames.len()))?;
                if x.len() != 9 {
                    return Err(format!("frame {}: Lattice needs 9 numbers, got {}", frames.len(), x.len()));
                }
                Some([[x[0], x[1], x[2]], [x[3], x[4], x[5]], [x[6], x[7], x[8]]])
            }
            None => None,
        };
        let pbc = match info.iter().find(|(k, _)| k == "pbc") {
            Some((_, v)) => {
                let flags: Vec<bool> = v.split_whitespace().map(|t| matches!(t, "T" | "True" | "true" | "1")).collect();
                if flags.len() != 3 {
                    return Err(format!("frame {}: pbc needs 3 flags", frames.len()));
                }
                [flags[0], flags[1], flags[2]]
            }
            None => [cell.is_some(); 3],
        };
        let properties = info
            .iter()
            .find(|(k, _)| k == "Properties")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "species:S:1:pos:R:3".into());
        let columns = parse_properties(&properties)?;
        let mut frame = Frame { cell, pbc, ..Default::default() };
        let mut velocities = Vec::new();
        let mut masses = Vec::new();
        for a in 0..n {
            let (lineno, line) = lines.next().ok_or_else(|| format!("frame {}: expected {n} atoms, file ended at atom {a}", frames.len()))?;
            let fields: Vec<&str> = line.split_whitespace().collect();
            let mut at = 0;
            let mut z = None;
            let mut pos = None;
            for (name, kind, count) in &columns {
                let cols = fields.get(at..at + count).ok_or_else(|| format!("line {}: too few columns", lineno + 1))?;
                at += count;
                let reals = || -> Result<Vec<f64>, String> {
                    cols.iter().map(|c| c.parse::<f64>().map_err(|_| format!("line {}: bad number {c:?}", lineno + 1))).collect()
                };
                match (name.as_str(), kind.as_str()) {
                    ("species", "S") => {
                        z = Some(elements::atomic_number(cols[0]).ok_or_else(|| format!("line {}: unknown element {:?}", lineno + 1, cols[0]))?)
                    }
                    ("Z", "I") => z = Some(cols[0].parse().map_err(|_| format!("line {}: bad Z", lineno + 1))?),
                    ("pos", "R") => {
                        let r = reals()?;
                        pos = Some([r[0], r[1], r[2]]);
                    }
                    ("velocities" | "vel" | "velo", "R") => {
                        let r = reals()?;
                        velocities.push([r[0], r[1], r[2]]);
                    }
                    ("masses" | "mass", "R") => masses.push(reals()?[0]),
                    _ => {}
                }
            }
            frame.numbers.push(z.ok_or_else(|| format!("line {}: no species or Z column", lineno + 1))?);
            frame.positions.push(pos.ok_or_else(|| format!("line {}: no pos column", lineno + 1))?);
        }
        if velocities.len() == n && n > 0 {
            frame.velocities = Some(velocities);
        }
        if masses.len() == n && n > 0 {
            frame.masses = Some(masses);
        }
        frames.push(frame);
    }
    Ok(frames)
}

fn numbers(v: &str) -> Result<Vec<f64>, String> {
    v.split_whitespace().map(|t| t.parse::<f64>().map_err(|_| format!("bad number {t:?}"))).collect()
}

/// key=value pairs of a comment line; values may be "quoted".
fn parse_comment(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if key.is_empty() {
            break;
        }
        let value = if chars.next_if_eq(&'=').is_some() {
            if chars.next_if_eq(&'"').is_some() {
                let v: String = std::iter::from_fn(|| chars.next_if(|c| *c != '"')).collect();
                chars.next();
                v
            } else {
                std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect()
            }
        } else {
            "T".into()
        };
        out.push((key, value));
    }
    out
}

fn parse_properties(p: &str) -> Result<Vec<(String, String, usize)>, String> {
    let parts: Vec<&str> = p.split(':').collect();
    if parts.len() % 3 != 0 {
        return Err(format!("bad Properties {p:?}"));
    }
    parts
        .chunks(3)
        .map(|c| Ok((c[0].to_string(), c[1].to_string(), c[2].parse().map_err(|_| format!("bad Properties {p:?}"))?)))
        .collect()
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
        assert!(parse("2\n\nH 0 0 0\n").is_err());
        assert!(parse("1\n\nQq 0 0 0\n").is_err());
        assert!(parse("x\n").is_err());
    }
}
