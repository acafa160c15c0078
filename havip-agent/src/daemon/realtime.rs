//! Real-time settings of the election thread (`[global] rt_priority`, `lock_memory`; keepalived's
//! `vrrp_rt_priority`, `vrrp_no_swap`): on a saturated host a normal thread can wait several
//! milliseconds for a CPU, long enough at 10 ms adverts for a backup to declare the master dead.
//!
//! - `rt_priority`: the thread running the event loop switches to `SCHED_FIFO` at that priority,
//!   so it runs as soon as its timer or an advert wakes it, ahead of every normal thread. With
//!   `SCHED_RESET_ON_FORK`, threads and processes it starts later (tokio's blocking pool, notify
//!   and track scripts) return to normal scheduling: only the election is privileged.
//! - `lock_memory`: `mlockall(MCL_CURRENT | MCL_FUTURE)`, so no page the election touches is
//!   ever paged out and read back (milliseconds from disk) in the middle of a takeover.
//!
//! A refusal (no `CAP_SYS_NICE` / `LimitRTPRIO`, no `CAP_IPC_LOCK` / `LimitMEMLOCK`) is a warning,
//! not a failure: the election works without them, as keepalived's does.

use nix::{
    errno::Errno,
    sys::mman::{MlockAllFlags, mlockall},
};
use tracing::{info, warn};

use crate::config::{Global, RtPriority};

/// Applies `global`'s real-time settings to the calling thread (the event loop's) and the
/// process; logs what was done and what was refused.
pub(super) fn apply(global: &Global) {
    if global.lock_memory {
        match lock_memory() {
            Ok(()) => info!("memory locked (lock_memory)"),
            Err(e) => warn!(
                error = %e,
                "lock_memory: mlockall refused; memory stays swappable (needs CAP_IPC_LOCK or \
                 LimitMEMLOCK=infinity)"
            ),
        }
    }
    if let Some(priority) = global.rt_priority {
        match set_fifo(priority) {
            Ok(()) => info!(
                priority = priority.get(),
                "election thread runs under SCHED_FIFO (rt_priority)"
            ),
            Err(e) => warn!(
                priority = priority.get(),
                error = %e,
                "rt_priority: SCHED_FIFO refused; the election runs under normal scheduling \
                 (needs CAP_SYS_NICE or LimitRTPRIO)"
            ),
        }
    }
}

/// Locks every current and future page of the process in memory.
fn lock_memory() -> Result<(), Errno> {
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE)
}

/// Switches the calling thread to `SCHED_FIFO` at `priority`; threads and processes it creates
/// afterwards start under normal scheduling (`SCHED_RESET_ON_FORK`, Linux 2.6.32).
pub(super) fn set_fifo(priority: RtPriority) -> Result<(), Errno> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority.get()),
    };
    // SAFETY: `param` is a valid sched_param; pid 0 is the calling thread.
    let rc = unsafe {
        libc::sched_setscheduler(
            0,
            libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK,
            &raw const param,
        )
    };
    Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::set_fifo;
    use crate::config::RtPriority;

    /// The calling thread's policy, with the reset-on-fork flag if set.
    fn policy() -> i32 {
        // SAFETY: no arguments beyond the calling thread's id.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn fifo_applies_to_the_loop_thread_only_and_not_to_threads_it_starts() {
        let prio = RtPriority::try_from(1).expect("in range");
        // A throw-away thread plays the loop, so the test harness keeps normal scheduling.
        let outcome = std::thread::spawn(move || {
            set_fifo(prio)?;
            let child = std::thread::spawn(policy).join().expect("child thread");
            Ok::<_, nix::errno::Errno>((policy(), child))
        })
        .join()
        .expect("loop thread");
        match outcome {
            Ok((own, child)) => {
                assert_eq!(own, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK);
                assert_eq!(
                    child,
                    libc::SCHED_OTHER,
                    "a later thread inherited SCHED_FIFO"
                );
            }
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("skipped: SCHED_FIFO not permitted here ({e})");
            }
            Err(e) => panic!("SCHED_FIFO refused under CI (needs root): {e}"),
        }
    }
}
