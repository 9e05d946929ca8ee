//! CPU-time clocks of the benches and timing examples: on a shared, loaded
//! machine they show the work done, where wall time also shows the waiting.

#![allow(dead_code)] // each bench or example uses one of them

use std::time::Duration;

/// CPU time of the whole process (all threads).
pub fn process_cpu_time() -> Duration {
    cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time of the calling thread.
pub fn thread_cpu_time() -> Duration {
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a valid out-pointer.
    let rc = unsafe { libc::clock_gettime(clock, &mut t) };
    assert_eq!(rc, 0, "clock_gettime({clock}) failed");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
