//! The tracking side of the daemon: starts the link watcher and one task per tracked
//! `vrrp_script`, keeps the latest state of every tracked object, and hands changes to the event
//! loop, which re-evaluates the instances (see [`crate::track`]).

use std::collections::BTreeSet;

use tokio::{sync::mpsc, task::JoinHandle};
use tracing::{error, warn};

use super::{DaemonError, instance::Runtime};
use crate::{
    config,
    net::iface,
    track::{self, Object, States, TrackEvent, script::Check},
};

/// Watchers and the states they reported.
pub(super) struct Tracking {
    /// Latest state of every tracked object.
    pub states: States,
    rx: mpsc::UnboundedReceiver<TrackEvent>,
    tasks: Vec<JoinHandle<()>>,
}

impl Tracking {
    /// Starts the watchers the instances need. Scripts that no instance tracks are not run
    /// (as in keepalived).
    pub fn start(cfg: &config::Config, runtimes: &[Runtime]) -> Result<Self, DaemonError> {
        Self::restart(cfg, runtimes, States::default())
    }

    /// Like [`Tracking::start`], keeping the states already known (a reload must not reset a
    /// failing script to healthy, or an instance would change priority twice).
    pub fn restart(
        cfg: &config::Config,
        runtimes: &[Runtime],
        mut states: States,
    ) -> Result<Self, DaemonError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        let mut scripts = BTreeSet::new();
        for r in runtimes {
            for t in r.tracker.objects() {
                match &t.object {
                    Object::Script(name) => {
                        scripts.insert(name.clone());
                    }
                    // An interface that does not exist is down until it appears.
                    Object::Interface(name) if iface::if_index(name).is_err() => {
                        warn!(instance = r.name(), interface = %name, "tracked interface does not exist: down");
                        states.apply(&TrackEvent::Link {
                            ifindex: 0,
                            name: name.clone(),
                            up: false,
                        });
                    }
                    Object::Interface(_) => {}
                    // Sessions run on the BFD thread (super::bfd); down until first Up.
                    Object::Bfd(name) => states.seed_bfd(name),
                }
            }
        }
        for name in scripts {
            let Some(script) = cfg.scripts.get(&name) else {
                continue;
            };
            let check =
                Check::new(&name, script, &cfg.global).map_err(|e| DaemonError::Invalid {
                    instance: format!("vrrp_script {name}"),
                    what: e.to_string(),
                })?;
            states.seed_script(&name, check.initial);
            tasks.push(check.spawn(tx.clone()));
        }
        let needs_links = runtimes.iter().any(|r| {
            r.tracker
                .objects()
                .iter()
                .any(|t| matches!(t.object, Object::Interface(_)))
        });
        if needs_links {
            tasks.push(tokio::spawn(async move {
                if let Err(e) = track::link::watch(tx).await {
                    error!(error = %e, "interface tracking stopped: link changes are no longer seen");
                }
            }));
        }
        Ok(Self { states, rx, tasks })
    }

    /// The next change of a tracked object (records it first), or `None` once nothing watches.
    pub async fn next(&mut self) -> Option<TrackEvent> {
        loop {
            let ev = self.rx.recv().await?;
            if self.states.apply(&ev) {
                return Some(ev);
            }
        }
    }
}

impl Drop for Tracking {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
