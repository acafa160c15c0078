//! Child processes (agents, keepalived) that are stopped on drop, with captured logs.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context as _;

/// A running process; killed with `SIGKILL` on drop if still alive. Its `stdout` and `stderr` go
/// to a log file, removed on drop unless a test is failing or `HAVIP_KEEP_LOGS` is set.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    /// Where its output goes.
    pub log: PathBuf,
    name: String,
}

impl Proc {
    /// Spawns `cmd` with output to a temporary log file named after `name`.
    pub fn spawn(name: &str, mut cmd: Command) -> anyhow::Result<Self> {
        let log =
            std::env::temp_dir().join(format!("havip-test-{}-{name}.log", std::process::id()));
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("spawning {name}: {cmd:?}"))?;
        Ok(Self {
            child,
            log,
            name: name.to_owned(),
        })
    }

    /// Its pid.
    #[must_use]
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(0)
    }

    /// Sends `signal`.
    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) of our own child.
        unsafe { libc::kill(self.pid(), signal) };
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; SIGKILL after that.
    pub fn stop(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        self.signal(libc::SIGTERM);
        self.wait(limit).or_else(|| {
            let _ = self.child.kill();
            self.child.wait().ok()
        })
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Its log so far.
    #[must_use]
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.alive() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // Logs of a failing test (dropped while panicking) are kept for the post-mortem, and
        // all of them with HAVIP_KEEP_LOGS set; the rest would only pile up in /tmp.
        if !std::thread::panicking() && std::env::var_os("HAVIP_KEEP_LOGS").is_none() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}
