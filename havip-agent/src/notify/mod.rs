//! Notify scripts (keepalived's `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`
//! and `notify`): run for each state change, in the order of the changes, one instance's scripts
//! one after another in that instance's own task, each bounded by [`TIMEOUT`]. A failing or hung
//! script is logged and never delays the election or another instance.
//!
//! Arguments as keepalived passes them: the specific script gets only the words of its command
//! line; `notify` gets four more: `INSTANCE`, the instance name, the new state (`MASTER`,
//! `BACKUP`, `FAULT`, or `STOP` when the instance stops) and the priority; for a sync group,
//! three: `GROUP`, the group name and the state.

use std::{collections::HashMap, time::Duration};

use tokio::{sync::mpsc, task::JoinHandle};
use tracing::{debug, warn};

use crate::{
    config,
    events::{Event, InstanceId, Subscriber},
    exec::{self, ExecError, Prepared},
    metrics::{Metrics, Outcome},
    vrrp::State,
};

/// Longest a notify script may run before its process group is killed.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Prepared notify commands of one instance.
#[derive(Clone, Debug, Default)]
struct Scripts {
    master: Option<Prepared>,
    backup: Option<Prepared>,
    fault: Option<Prepared>,
    stop: Option<Prepared>,
    generic: Option<Prepared>,
}

/// Whose scripts: the first argument keepalived gives `notify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `INSTANCE name STATE priority`.
    Instance,
    /// `GROUP name STATE`.
    Group,
}

/// One command to run.
type Job = (Prepared, Vec<String>);

/// The notify side of one instance.
#[derive(Debug)]
pub struct Notifier {
    kind: Kind,
    name: String,
    scripts: Scripts,
    tx: Option<mpsc::UnboundedSender<Job>>,
    worker: Option<JoinHandle<()>>,
    metrics: Option<Metrics>,
}

impl Notifier {
    /// Prepares the instance's notify commands (user lookup and script security are checked
    /// here, so a bad command is a configuration error).
    pub fn new(inst: &config::Instance, global: &config::Global) -> Result<Self, ExecError> {
        let commands = [
            &inst.notify_master,
            &inst.notify_backup,
            &inst.notify_fault,
            &inst.notify_stop,
            &inst.notify,
        ];
        Self::prepare(Kind::Instance, &inst.name, commands, global)
    }

    /// Prepares a sync group's notify commands; `notify` gets `GROUP name STATE`.
    pub fn for_group(
        group: &config::SyncGroup,
        global: &config::Global,
    ) -> Result<Self, ExecError> {
        let commands = [
            &group.notify_master,
            &group.notify_backup,
            &group.notify_fault,
            &group.notify_stop,
            &group.notify,
        ];
        Self::prepare(Kind::Group, &group.name, commands, global)
    }

    fn prepare(
        kind: Kind,
        name: &str,
        [master, backup, fault, stop, generic]: [&Option<config::Command>; 5],
        global: &config::Global,
    ) -> Result<Self, ExecError> {
        let prep = |c: &Option<config::Command>| -> Result<Option<Prepared>, ExecError> {
            c.as_ref()
                .map(|c| {
                    exec::prepare_with_defaults(
                        &c.command,
                        c.user.as_deref(),
                        c.group.as_deref(),
                        global,
                    )
                })
                .transpose()
        };
        Ok(Self {
            kind,
            name: name.to_owned(),
            scripts: Scripts {
                master: prep(master)?,
                backup: prep(backup)?,
                fault: prep(fault)?,
                stop: prep(stop)?,
                generic: prep(generic)?,
            },
            tx: None,
            worker: None,
            metrics: None,
        })
    }

    /// Counts every run in `metrics` (`havip_notify_runs_total`) from now on.
    pub fn export_to(&mut self, metrics: Metrics) {
        self.metrics = Some(metrics);
    }

    /// The instance or group name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether any script is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        let s = &self.scripts;
        s.master.is_none()
            && s.backup.is_none()
            && s.fault.is_none()
            && s.stop.is_none()
            && s.generic.is_none()
    }

    /// Queues the scripts for a change to `to` at `priority`.
    pub fn changed(&mut self, to: State, priority: u8) {
        let (specific, word) = match to {
            State::Master => (&self.scripts.master, "MASTER"),
            State::Backup => (&self.scripts.backup, "BACKUP"),
            State::Fault => (&self.scripts.fault, "FAULT"),
            State::Initialize => (&self.scripts.stop, "STOP"),
        };
        let mut jobs: Vec<Job> = Vec::new();
        if let Some(cmd) = specific {
            jobs.push((cmd.clone(), Vec::new()));
        }
        if let Some(cmd) = &self.scripts.generic {
            let args = match self.kind {
                Kind::Instance => vec![
                    "INSTANCE".to_owned(),
                    self.name.clone(),
                    word.to_owned(),
                    priority.to_string(),
                ],
                Kind::Group => vec!["GROUP".to_owned(), self.name.clone(), word.to_owned()],
            };
            jobs.push((cmd.clone(), args));
        }
        if jobs.is_empty() {
            return;
        }
        let tx = self.tx.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            self.worker = Some(tokio::spawn(run(
                self.name.clone(),
                rx,
                self.metrics.clone(),
            )));
            tx
        });
        for job in jobs {
            let _ = tx.send(job);
        }
    }

    /// Lets the queued scripts finish, waiting at most `limit`.
    pub async fn finish(&mut self, limit: Duration) {
        self.tx = None;
        if let Some(worker) = self.worker.take()
            && tokio::time::timeout(limit, worker).await.is_err()
        {
            warn!(instance = %self.name, "notify scripts still running at exit");
        }
    }
}

/// The notify subscriber: every instance's and sync group's [`Notifier`], fed by the daemon's
/// state-change events. Publishing only queues the scripts on the notifier's own task (in the
/// order of the changes), so it never waits for one to run.
#[derive(Debug, Default)]
pub struct Hub {
    instances: HashMap<InstanceId, Notifier>,
    groups: HashMap<String, Notifier>,
    metrics: Option<Metrics>,
}

impl Hub {
    /// A hub whose scripts' runs are counted in `metrics` (`havip_notify_runs_total`).
    #[must_use]
    pub fn new(metrics: Option<Metrics>) -> Self {
        Self {
            metrics,
            ..Self::default()
        }
    }

    /// Runs `notifier`'s scripts for the state changes of instance `id`.
    pub fn add_instance(&mut self, id: InstanceId, mut notifier: Notifier) {
        if let Some(m) = &self.metrics {
            notifier.export_to(m.clone());
        }
        if !notifier.is_empty() {
            self.instances.insert(id, notifier);
        }
    }

    /// Replaces the sync groups' notifiers (keyed by group name); the scripts already queued for
    /// the old ones still run.
    pub fn set_groups(&mut self, groups: Vec<Notifier>) {
        let metrics = self.metrics.clone();
        self.groups = groups
            .into_iter()
            .filter(|n| !n.is_empty())
            .map(|mut n| {
                if let Some(m) = &metrics {
                    n.export_to(m.clone());
                }
                (n.name().to_owned(), n)
            })
            .collect();
    }

    /// Lets every queued script finish (at shutdown), waiting at most `limit` for each notifier.
    pub async fn finish(&mut self, limit: Duration) {
        for n in self.instances.values_mut() {
            n.finish(limit).await;
        }
        for n in self.groups.values_mut() {
            n.finish(limit).await;
        }
    }
}

impl Subscriber for Hub {
    fn publish(&mut self, event: &Event) {
        match event {
            Event::StateChanged {
                id, to, priority, ..
            } => {
                if let Some(n) = self.instances.get_mut(id) {
                    n.changed(*to, *priority);
                }
            }
            Event::GroupStateChanged { group, state } => {
                if let Some(n) = self.groups.get_mut(group) {
                    n.changed(*state, 0);
                }
            }
            // Dropping the notifier lets its task run what is queued (the STOP scripts), then end.
            Event::InstanceRemoved { id } => {
                self.instances.remove(id);
            }
            _ => {}
        }
    }
}

async fn run(instance: String, mut rx: mpsc::UnboundedReceiver<Job>, metrics: Option<Metrics>) {
    while let Some((cmd, args)) = rx.recv().await {
        let out = exec::run(&cmd, &args, TIMEOUT).await;
        let line = cmd.argv.join(" ");
        if let Some(m) = &metrics {
            let outcome = if out.success() {
                Outcome::Success
            } else if out.timed_out {
                Outcome::Timeout
            } else {
                Outcome::Failure
            };
            m.notify_run(cmd.argv.first().map_or("", String::as_str), outcome);
        }
        if out.success() {
            debug!(%instance, command = %line, ?args, output = %out.output, "notify script ran");
        } else {
            warn!(
                %instance,
                command = %line,
                ?args,
                code = ?out.code,
                timed_out = out.timed_out,
                error = ?out.spawn_error,
                output = %out.output,
                "notify script failed"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scripts_run_in_order_with_keepalived_arguments() {
        let dir = std::env::temp_dir().join(format!("havip-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("log");
        let cmd = |word: &str| {
            Some(config::Command::new(format!(
                "/bin/sh -c 'echo \"$*\" >> {}' sh {word}",
                log.display()
            )))
        };
        let mut inst = config::Instance::new("VI_1", "eth0", 51);
        inst.notify_master = cmd("master");
        inst.notify_stop = cmd("stop");
        inst.notify = cmd("any");
        let mut n = Notifier::new(&inst, &config::Global::default()).expect("notifier");
        assert!(!n.is_empty());
        n.changed(State::Backup, 100);
        n.changed(State::Master, 100);
        n.changed(State::Initialize, 100);
        n.finish(Duration::from_secs(10)).await;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "any INSTANCE VI_1 BACKUP 100",
                "master",
                "any INSTANCE VI_1 MASTER 100",
                "stop",
                "any INSTANCE VI_1 STOP 100",
            ]
        );
    }

    #[tokio::test]
    async fn the_hub_runs_an_instances_scripts_for_its_events_only() {
        let dir = std::env::temp_dir().join(format!("havip-notify-hub-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let log = dir.join("log");
        let mut inst = config::Instance::new("VI_1", "eth0", 51);
        inst.notify = Some(config::Command::new(format!(
            "/bin/sh -c 'echo \"$*\" >> {}' sh",
            log.display()
        )));
        let mut hub = Hub::default();
        hub.add_instance(
            3,
            Notifier::new(&inst, &config::Global::default()).expect("notifier"),
        );
        let change = |id, to| Event::StateChanged {
            id,
            at_ns: 0,
            from: State::Backup,
            to,
            reason: crate::vrrp::Reason::MasterDown,
            priority: 90,
            master: None,
        };
        hub.publish(&change(3, State::Master));
        hub.publish(&change(4, State::Fault));
        hub.publish(&change(3, State::Backup));
        hub.finish(Duration::from_secs(10)).await;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            ["INSTANCE VI_1 MASTER 90", "INSTANCE VI_1 BACKUP 90"]
        );
    }

    #[test]
    fn a_bad_command_is_a_configuration_error() {
        let mut inst = config::Instance::new("VI_1", "eth0", 51);
        inst.notify_master = Some(config::Command {
            command: "/bin/true".into(),
            user: Some("no-such-user-havip".into()),
            group: None,
        });
        assert!(Notifier::new(&inst, &config::Global::default()).is_err());
    }
}
