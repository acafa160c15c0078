//! `havip-agent stop`: stops the running agent, with or without keeping its VIPs for the next
//! start (issue #14).
//!
//! The agent is found through its control socket: the kernel reports the pid of the process
//! listening on a Unix socket (`SO_PEERCRED`), so no pid file has to be trusted. The command
//! then sends that pid the signal the agent already handles (`SIGTERM`: resign cleanly;
//! `SIGUSR2`: planned restart, ownership kept under a bounded lease) and waits for the process
//! to be gone, so that a start that follows never runs beside it.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use tokio::net::UnixStream;

/// Why `stop` did not stop an agent.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// Nothing listens on the control socket: no agent runs (or it runs with another
    /// `--control-socket`).
    #[error("no agent is running: nothing listens on {} ({source})", path.display())]
    NotRunning {
        /// The socket tried.
        path: PathBuf,
        /// Why connecting failed.
        #[source]
        source: std::io::Error,
    },
    /// The kernel did not report the listener's pid.
    #[error("the process listening on {} has no pid visible here", path.display())]
    NoPid {
        /// The socket.
        path: PathBuf,
    },
    /// Reading the listener's credentials failed.
    #[error("reading the credentials of the agent on {}: {source}", path.display())]
    Credentials {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Sending the signal failed (e.g. not allowed).
    #[error("sending {signal} to the agent (pid {pid}): {source}")]
    Signal {
        /// The agent's pid.
        pid: i32,
        /// The signal's name.
        signal: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The agent was signalled but still runs.
    #[error("the agent (pid {pid}) still runs {waited:?} after {signal}")]
    StillRunning {
        /// The agent's pid.
        pid: i32,
        /// The signal sent.
        signal: &'static str,
        /// How long we waited.
        waited: Duration,
    },
}

/// The signal that asks for a stop of this kind, and its name.
#[must_use]
pub fn signal_for(keep_ownership: bool) -> (libc::c_int, &'static str) {
    if keep_ownership {
        (libc::SIGUSR2, "SIGUSR2")
    } else {
        (libc::SIGTERM, "SIGTERM")
    }
}

/// The pid of the agent listening on `path`.
pub async fn agent_pid(path: &Path) -> Result<i32, StopError> {
    let connect = tokio::time::timeout(Duration::from_secs(2), UnixStream::connect(path)).await;
    let stream = match connect {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => {
            return Err(StopError::NotRunning {
                path: path.to_path_buf(),
                source,
            });
        }
        Err(_) => {
            return Err(StopError::NotRunning {
                path: path.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::TimedOut),
            });
        }
    };
    let cred = stream
        .peer_cred()
        .map_err(|source| StopError::Credentials {
            path: path.to_path_buf(),
            source,
        })?;
    // A pid of 0 is what the kernel reports for a listener in a pid namespace we cannot see.
    cred.pid()
        .filter(|p| *p > 0)
        .ok_or_else(|| StopError::NoPid {
            path: path.to_path_buf(),
        })
}

/// Stops the agent listening on `path` (keeping its ownership for the next start when
/// `keep_ownership`) and waits up to `wait` for it to exit; returns its pid.
pub async fn stop(path: &Path, keep_ownership: bool, wait: Duration) -> Result<i32, StopError> {
    let pid = agent_pid(path).await?;
    let (sig, signal) = signal_for(keep_ownership);
    // SAFETY: kill(2) has no memory effects; the pid is the socket's listener, just read.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(StopError::Signal {
            pid,
            signal,
            source: std::io::Error::last_os_error(),
        });
    }
    match wait_exit(pid, wait).await {
        Ok(()) => Ok(pid),
        Err(_) => Err(StopError::StillRunning {
            pid,
            signal,
            waited: wait,
        }),
    }
}

/// The prepared start of `run --takeover`: asks the agent listening on `path` to stop for a
/// restart (it keeps its VIPs) and waits, up to `wait`, until it has handed over: it closes its
/// control socket right after its last advert, before the slower rest of its exit. Returns its
/// pid (wait for its exit with [`wait_exit`] before taking the ports it holds), or `None` when
/// no agent runs there.
pub async fn take_over(path: &Path, wait: Duration) -> Result<Option<i32>, StopError> {
    let pid = match agent_pid(path).await {
        Ok(pid) => pid,
        Err(StopError::NotRunning { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (sig, signal) = signal_for(true);
    // SAFETY: kill(2) has no memory effects; the pid is the socket's listener, just read.
    if unsafe { libc::kill(pid, sig) } != 0 {
        return Err(StopError::Signal {
            pid,
            signal,
            source: std::io::Error::last_os_error(),
        });
    }
    let start = Instant::now();
    while start.elapsed() < wait {
        if std::os::unix::net::UnixStream::connect(path).is_err() || !alive(pid) {
            return Ok(Some(pid));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(StopError::StillRunning {
        pid,
        signal,
        waited: wait,
    })
}

/// Waits up to `wait` for `pid` to exit.
pub async fn wait_exit(pid: i32, wait: Duration) -> Result<(), StopError> {
    let start = Instant::now();
    while start.elapsed() < wait {
        if !alive(pid) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(StopError::StillRunning {
        pid,
        signal: "SIGUSR2",
        waited: wait,
    })
}

/// Whether `pid` is a running process (a zombie has finished: its parent only has not reaped
/// it yet). A zombie leader whose other threads are still exiting counts as running: the
/// process still holds its sockets and maps, and its parent cannot reap it yet.
#[must_use]
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain spaces.
    let state = stat
        .rfind(')')
        .and_then(|i| stat.get(i + 1..))
        .and_then(|rest| rest.split_whitespace().next());
    if !matches!(state, Some("Z" | "X") | None) {
        return true;
    }
    let leader = pid.to_string();
    std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|tasks| {
        tasks
            .filter_map(Result::ok)
            .any(|t| t.file_name().to_str() != Some(leader.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_of_stop_picks_the_signal() {
        assert_eq!(signal_for(true), (libc::SIGUSR2, "SIGUSR2"));
        assert_eq!(signal_for(false), (libc::SIGTERM, "SIGTERM"));
    }

    #[test]
    fn this_process_is_alive_and_a_finished_child_is_not() {
        assert!(alive(i32::try_from(std::process::id()).unwrap_or(i32::MAX)));
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = i32::try_from(child.id()).expect("pid");
        // Not reaped yet: a zombie once it exits.
        let gone = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(5));
            !alive(pid)
        });
        assert!(gone, "an exited child counts as alive");
        let _ = child.wait();
        assert!(!alive(pid));
    }

    #[tokio::test]
    async fn no_listener_is_not_running() {
        let dir = std::env::temp_dir().join(format!("havip-stop-{}", std::process::id()));
        let err = stop(&dir.join("none.sock"), true, Duration::from_millis(10))
            .await
            .expect_err("nothing listens");
        assert!(matches!(err, StopError::NotRunning { .. }), "{err}");
        assert!(err.to_string().starts_with("no agent is running"), "{err}");
    }

    #[tokio::test]
    async fn the_listener_is_found_by_its_credentials() {
        let dir = std::env::temp_dir().join(format!("havip-stop-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("agent.sock");
        let _ = std::fs::remove_file(&path);
        let _listener = tokio::net::UnixListener::bind(&path).expect("bind");
        let pid = agent_pid(&path).await.expect("pid");
        assert_eq!(u32::try_from(pid).ok(), Some(std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
