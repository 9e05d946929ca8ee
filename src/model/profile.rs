//! Per-stage wall times of one evaluation, returned as data when
//! `Request::profile` asks for them (the library never prints them).

use std::time::Instant;

/// Wall time of one stage of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// What ran ("forward: convolution", ...); a stage run once per block
    /// holds the sum over blocks.
    pub name: &'static str,
    /// Seconds.
    pub seconds: f64,
}

/// Per-stage wall times of one evaluation, in the order the stages first ran;
/// empty unless asked for (`Request::profile`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    /// The stages; together they cover the whole evaluation.
    pub stages: Vec<Stage>,
}

impl Profile {
    /// Sum of the stages' times, seconds.
    pub fn total(&self) -> f64 {
        self.stages.iter().map(|s| s.seconds).sum()
    }

    /// The stages as a table, one line each: name, milliseconds, share.
    pub fn table(&self) -> String {
        let total = self.total();
        let mut text = String::new();
        for s in &self.stages {
            let share = if total > 0.0 { 100.0 * s.seconds / total } else { 0.0 };
            text += &format!("  {:<36} {:9.3} ms {:5.1}%\n", s.name, s.seconds * 1e3, share);
        }
        text + &format!("  {:<36} {:9.3} ms\n", "total", total * 1e3)
    }
}

/// Charges wall time to stages, or does nothing when off.
pub(crate) struct Stopwatch {
    last: Option<Instant>,
    profile: Profile,
}

impl Stopwatch {
    /// A stopwatch started now when `on`, else one that records nothing.
    pub fn new(on: bool) -> Self {
        Stopwatch { last: on.then(Instant::now), profile: Profile::default() }
    }

    /// Charges the time since the last lap (or the start) to `stage`.
    pub fn lap(&mut self, stage: &'static str) {
        let Some(last) = self.last else { return };
        let now = Instant::now();
        let seconds = (now - last).as_secs_f64();
        match self.profile.stages.iter_mut().find(|s| s.name == stage) {
            Some(s) => s.seconds += seconds,
            None => self.profile.stages.push(Stage { name: stage, seconds }),
        }
        self.last = Some(now);
    }

    /// The stages so far.
    pub fn finish(self) -> Profile {
        self.profile
    }
}
