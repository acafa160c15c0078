//! `vrrp_script` health checks: each script runs in its own task on its interval, bounded by
//! its timeout, and reports a state change only after `fall` failures or `rise` successes in a
//! row (keepalived.conf(5), `vrrp_script`). The event loop is never blocked by a script.

use std::time::Duration;

use tokio::{sync::mpsc, task::JoinHandle, time::MissedTickBehavior};
use tracing::{debug, info, warn};

use super::TrackEvent;
use crate::{
    config,
    exec::{self, ExecError, Prepared},
};

/// A script ready to run.
#[derive(Clone, Debug)]
pub struct Check {
    /// The `vrrp_script` name.
    pub name: String,
    cmd: Prepared,
    interval: Duration,
    timeout: Duration,
    rise: u32,
    fall: u32,
    /// Its state before the first run (`!init_fail`).
    pub initial: bool,
}

impl Check {
    /// Prepares script `name` (user lookup and `enable_script_security` happen here, so a bad
    /// script is a configuration error, not a runtime surprise).
    pub fn new(
        name: &str,
        script: &config::Script,
        global: &config::Global,
    ) -> Result<Self, ExecError> {
        let cmd = exec::prepare_with_defaults(
            &script.script,
            script.user.as_deref(),
            script.group.as_deref(),
            global,
        )?;
        Ok(Self {
            name: name.to_owned(),
            cmd,
            interval: script.interval.max(Duration::from_millis(10)),
            timeout: script.effective_timeout().max(Duration::from_millis(10)),
            rise: script.rise.max(1),
            fall: script.fall.max(1),
            initial: !script.init_fail,
        })
    }

    /// Runs the check until the receiver of `tx` is gone.
    pub fn spawn(self, tx: mpsc::UnboundedSender<TrackEvent>) -> JoinHandle<()> {
        tokio::spawn(self.run(tx))
    }

    async fn run(self, tx: mpsc::UnboundedSender<TrackEvent>) {
        let mut hysteresis = Hysteresis::new(self.initial, self.rise, self.fall);
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if tx.is_closed() {
                return;
            }
            let out = exec::run(&self.cmd, &[], self.timeout).await;
            let success = out.success();
            if !success {
                debug!(
                    script = %self.name,
                    code = ?out.code,
                    timed_out = out.timed_out,
                    error = ?out.spawn_error,
                    output = %out.output,
                    "track script failed"
                );
            }
            if let Some(ok) = hysteresis.record(success) {
                if ok {
                    info!(script = %self.name, "track script is up");
                } else {
                    warn!(
                        script = %self.name,
                        code = ?out.code,
                        timed_out = out.timed_out,
                        error = ?out.spawn_error,
                        output = %out.output,
                        "track script is down"
                    );
                }
                let ev = TrackEvent::Script {
                    name: self.name.clone(),
                    ok,
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
        }
    }
}

/// keepalived's rise/fall counting.
#[derive(Clone, Copy, Debug)]
struct Hysteresis {
    ok: bool,
    streak: u32,
    rise: u32,
    fall: u32,
}

impl Hysteresis {
    fn new(ok: bool, rise: u32, fall: u32) -> Self {
        Self {
            ok,
            streak: 0,
            rise,
            fall,
        }
    }

    /// Records one result; returns the new state when it changes.
    fn record(&mut self, success: bool) -> Option<bool> {
        if success == self.ok {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if success { self.rise } else { self.fall };
        if self.streak >= needed {
            self.ok = success;
            self.streak = 0;
            Some(success)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fall_and_rise_need_consecutive_results() {
        let mut h = Hysteresis::new(true, 2, 3);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(true), None, "a success resets the failure streak");
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), Some(false), "third failure in a row");
        assert_eq!(h.record(false), None, "already down");
        assert_eq!(h.record(true), None);
        assert_eq!(h.record(true), Some(true), "second success in a row");
    }

    #[test]
    fn init_fail_starts_down() {
        let mut h = Hysteresis::new(false, 1, 1);
        assert_eq!(h.record(true), Some(true));
    }

    #[tokio::test]
    async fn a_failing_script_reports_down_after_fall() {
        let mut s = config::Script::new("/bin/sh -c 'exit 1'");
        s.interval = Duration::from_millis(20);
        s.fall = 2;
        let check = Check::new("chk", &s, &config::Global::default()).expect("check");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = check.spawn(tx);
        let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("in time");
        task.abort();
        assert_eq!(
            ev,
            Some(TrackEvent::Script {
                name: "chk".into(),
                ok: false
            })
        );
    }
}
