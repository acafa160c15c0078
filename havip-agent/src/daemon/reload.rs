//! SIGHUP: re-read the configuration and apply the difference.
//!
//! The file is read, parsed and checked **off the event loop** ([`start`]: a blocking thread
//! with a [`DEADLINE`]), so an `include` of a FIFO without a writer or a huge file never holds up the
//! election; the loop only receives the result as an input and swaps in a validated
//! configuration ([`apply`]). A load that does not finish in time is logged and abandoned; the
//! running configuration stays. A configuration with no instance at all is refused unless its
//! `allow_no_instances` says so (an emptied or truncated file must not resign every instance).
//!
//! Applying: an instance whose configuration is unchanged keeps its runtime (state, ownership,
//! timers): no transition and no gap for the clients. So does one whose configuration changed
//! only in its authentication (`auth_hmac` keys, `active_key`, mode, anti-replay, the legacy
//! password: a key rotation or a rollout step), which takes the new one in place. A removed or
//! otherwise changed instance resigns like
//! at shutdown (priority-0 advert, revoke, addresses removed) and a changed or new one starts. A
//! configuration whose new instances could not run (unknown interface, script user, ...) is
//! rejected as a whole and the running one stays.

use std::{collections::HashMap, path::PathBuf, time::Duration};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::{
    DaemonError, Input, Options, addr_worker::AddrOp, instance::Runtime, now, tracking::Tracking,
};
use crate::{
    config::{self, Config},
    dataplane::Dataplane,
    events::{Event, InstanceId},
    net::iface,
    notify::{Hub, Notifier},
    track::Tracker,
    vrrp::Event as FsmEvent,
};

/// Longest a reload may take to read and check the file before it is abandoned.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// Why a reload was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file did not load.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// It loaded, but cannot run.
    #[error("{0}")]
    Problem(String),
    /// It has no instance and does not allow that.
    #[error(
        "the new configuration has no instance; set allow_no_instances = true in [global] to \
         stop every instance by a reload"
    )]
    NoInstances,
    /// Reading and checking it did not finish within [`DEADLINE`].
    #[error(
        "reading the configuration did not finish within {0:?} (a FIFO or device in an include?)"
    )]
    Deadline(Duration),
    /// The blocking task failed.
    #[error("the reload task failed: {0}")]
    Task(String),
}

/// A configuration read and checked off the loop.
pub(super) type Prepared = Result<config::Loaded, ReloadError>;

/// The BFD thread takes added, removed and retuned sessions on a reload
/// ([`super::bfd::BfdService::reconfigure`]), but it only runs (and holds UDP 3784) when the
/// start had sessions: a reload that brings the first ones is refused, as a tracker naming a
/// session nobody runs would hold its instance down for good.
fn bfd_can_follow(new: &Config, running: bool) -> Result<(), ReloadError> {
    if running || super::bfd::wanted(new).is_empty() {
        Ok(())
    } else {
        Err(ReloadError::Problem(
            "BFD sessions were added to a configuration that started without any; restart to \
             start BFD (UDP port 3784)"
                .to_owned(),
        ))
    }
}

/// Reads and checks the file (blocking; runs on the blocking pool).
fn prepare(path: &std::path::Path, format: config::Format) -> Prepared {
    let loaded = config::load(path, format)?;
    if loaded.config.instances.is_empty() && !loaded.config.global.allow_no_instances {
        return Err(ReloadError::NoInstances);
    }
    if let Some(problem) = crate::config_cmd::runtime_problems(&loaded.config)
        .into_iter()
        .next()
    {
        return Err(ReloadError::Problem(problem));
    }
    Ok(loaded)
}

/// Starts reading the configuration of `opts` off the loop; its result arrives on `inputs` as
/// [`Input::Reloaded`] within `deadline` (then as [`ReloadError::Deadline`]).
///
/// The read runs on a detached OS thread rather than tokio's blocking pool: a read that never
/// ends (a FIFO without a writer) cannot be cancelled, and the runtime waits for its blocking
/// pool when it shuts down, so a pooled task would also hang the agent's exit.
pub(super) fn start(opts: &Options, deadline: Duration, inputs: mpsc::Sender<Input>) {
    let path: PathBuf = opts.config.clone();
    let format = opts.format;
    info!(path = %path.display(), "SIGHUP: reloading the configuration");
    off_loop(deadline, inputs, move || prepare(&path, format));
}

/// Runs `work` on its own thread and sends its result (or [`ReloadError::Deadline`]) to
/// `inputs` as [`Input::Reloaded`].
fn off_loop(
    deadline: Duration,
    inputs: mpsc::Sender<Input>,
    work: impl FnOnce() -> Prepared + Send + 'static,
) {
    let (done_tx, done_rx) = oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("havip-reload".to_owned())
        .spawn(move || {
            // The receiver is gone when the deadline passed: nothing to tell.
            let _ = done_tx.send(work());
        });
    tokio::spawn(async move {
        let result = match spawned {
            Err(e) => Err(ReloadError::Task(e.to_string())),
            Ok(_) => match tokio::time::timeout(deadline, done_rx).await {
                Ok(Ok(prepared)) => prepared,
                Ok(Err(_)) => Err(ReloadError::Task(
                    "the reload thread ended early".to_owned(),
                )),
                Err(_) => Err(ReloadError::Deadline(deadline)),
            },
        };
        let _ = inputs.send(Input::Reloaded(Box::new(result))).await;
    });
}

/// What the event loop owns that a reload changes.
pub(super) struct Running<'a> {
    /// The configuration in force.
    pub cfg: &'a mut Config,
    /// The instances, in configuration order.
    pub runtimes: &'a mut Vec<Runtime>,
    /// (ifindex, vrid) -> index in `runtimes`.
    pub index: &'a mut HashMap<(u32, crate::dataplane::Vrid), usize>,
    /// Interfaces with the XDP program attached.
    pub ifaces: &'a mut Vec<String>,
    /// The watchers.
    pub tracking: &'a mut Tracking,
    /// The data plane.
    pub dp: &'a mut Dataplane,
    /// The notify subscriber (new instances' scripts are handed to it).
    pub notify: &'a mut Hub,
    /// The next instance id.
    pub next_id: &'a mut InstanceId,
    /// The BFD thread, if the start had sessions.
    pub bfd: Option<&'a super::bfd::BfdService>,
}

/// Checks that every instance of `cfg` that is not already running as configured has its
/// interfaces, without touching anything (cheap lookups; the rest was checked off the loop).
fn precheck(cfg: &Config, running: &[Runtime], old: &Config) -> Result<(), String> {
    for inst in &cfg.instances {
        if old.instances.contains(inst) && running.iter().any(|r| r.name() == inst.name) {
            continue;
        }
        iface::if_index(&inst.interface).map_err(|e| format!("instance {}: {e}", inst.name))?;
        for v in &inst.virtual_ipaddresses {
            if let Some(dev) = &v.dev {
                iface::if_index(dev).map_err(|e| format!("instance {}: {e}", inst.name))?;
            }
        }
    }
    Ok(())
}

/// Whether `cfg` fits the kernel tables, which were sized at start and cannot grow: checked
/// before anything changes. (Retired instances leave the tables before new ones enter, so the
/// new configuration's total is the peak.)
fn fits(dp: &Dataplane, cfg: &Config) -> Result<(), ReloadError> {
    match dp
        .sizes()
        .shortfalls(
            &crate::dataplane::Needs::of(cfg),
            crate::dataplane::sizing::PLACE_LOADED,
        )
        .first()
    {
        Some(short) => Err(ReloadError::Problem(short.to_string())),
        None => Ok(()),
    }
}

/// Whether `a` and `b` differ at most in their authentication (legacy `auth`, `auth_hmac`),
/// which a running instance takes in place ([`Runtime::reauthenticate`]).
fn same_but_auth(a: &config::Instance, b: &config::Instance) -> bool {
    let strip = |i: &config::Instance| config::Instance {
        auth: None,
        auth_hmac: None,
        ..i.clone()
    };
    strip(a) == strip(b)
}

/// The new authentication of every running instance whose configuration changed only there,
/// built before anything changes (reading `file:` keys can fail): name, `auth_hmac`, legacy.
fn reauthentications(
    new: &Config,
    old: &Config,
    running: &[Runtime],
) -> Result<Vec<(String, Reauth)>, ReloadError> {
    let mut out = Vec::new();
    for inst in &new.instances {
        let Some(before) = old.instances.iter().find(|i| i.name == inst.name) else {
            continue;
        };
        // `file:` keys are read again by every reload, as keepalived does, even when the
        // configuration text did not change (the key file may have).
        let reads_files = inst
            .auth_hmac
            .as_ref()
            .is_some_and(|a| a.keys.iter().any(|k| k.key.0.starts_with("file:")));
        if (before == inst && !reads_files)
            || !same_but_auth(before, inst)
            || !running.iter().any(|r| r.name() == inst.name)
        {
            continue;
        }
        let problem = |e: DaemonError| ReloadError::Problem(e.to_string());
        let hmac = super::instance::auth::build(inst).map_err(problem)?;
        let legacy = super::instance::legacy_auth(inst).map_err(problem)?;
        out.push((inst.name.clone(), (hmac, legacy)));
    }
    Ok(out)
}

/// A running instance's new `auth_hmac` state and legacy authentication.
type Reauth = (Option<crate::vrrp::auth_hmac::AuthHmac>, crate::vrrp::Auth);

/// Resigns `r` as at shutdown, then forgets its VIPs and VRID in the kernel.
fn retire(r: &mut Runtime, dp: &mut Dataplane, addr_tx: &mpsc::UnboundedSender<AddrOp>) {
    r.handle(now(), FsmEvent::Shutdown, dp, addr_tx);
    let (ifindex, vrid) = (r.iface.index, r.vrid());
    for v in &r.vips {
        let removed = match v.addr {
            std::net::IpAddr::V4(a) => dp.remove_vip(v.ifindex, a),
            std::net::IpAddr::V6(a) => dp.remove_vip6(v.ifindex, a),
        };
        if let Err(e) = removed {
            warn!(instance = r.name(), error = %e, "removing a VIP from the kernel failed");
        }
    }
    if let Err(e) = dp.remove_vrid(ifindex, vrid) {
        warn!(instance = r.name(), error = %e, "removing a VRID from the kernel failed");
    }
    let id = r.id;
    r.emit(Event::InstanceRemoved { id });
}

/// Applies a prepared configuration; errors leave everything as it was. Returns the events of
/// retired instances (their last ones), which the caller publishes with the others.
#[expect(
    clippy::too_many_lines,
    reason = "one pass over the instances in order: keep, re-authenticate, retire, start"
)]
pub(super) fn apply(
    opts: &Options,
    run: &mut Running<'_>,
    prepared: Prepared,
    addr_tx: &mpsc::UnboundedSender<AddrOp>,
) -> Result<Vec<Event>, ReloadError> {
    let loaded = prepared?;
    for d in &loaded.diagnostics {
        warn!(diagnostic = %d, "configuration");
    }
    let new = loaded.config;
    precheck(&new, run.runtimes, run.cfg).map_err(ReloadError::Problem)?;
    bfd_can_follow(&new, run.bfd.is_some())?;
    fits(run.dp, &new)?;
    let mut reauth = reauthentications(&new, run.cfg, run.runtimes)?;

    let mut retired = Vec::new();
    let mut kept: Vec<Option<Runtime>> = Vec::new();
    let mut removed = Vec::new();
    for mut r in std::mem::take(run.runtimes) {
        let same = run
            .cfg
            .instances
            .iter()
            .find(|i| i.name == r.name())
            .is_some_and(|old| new.instances.contains(old));
        if let Some(at) = reauth.iter().position(|(name, _)| name == r.name()) {
            // Only the authentication changed (a rollout step, a key rotation, a key file
            // rewritten): no transition.
            let (_, (hmac, legacy)) = reauth.swap_remove(at);
            r.reauthenticate(hmac, legacy, run.dp);
            kept.push(Some(r));
        } else if same {
            kept.push(Some(r));
        } else {
            retire(&mut r, run.dp, addr_tx);
            retired.extend(r.drain_events());
            removed.push(r.name().to_owned());
        }
    }

    let mut runtimes = Vec::new();
    let mut started = Vec::new();
    for inst in &new.instances {
        if let Some(slot) = kept
            .iter_mut()
            .find(|k| k.as_ref().is_some_and(|r| r.name() == inst.name))
            && let Some(r) = slot.take()
        {
            runtimes.push(r);
            continue;
        }
        let id = *run.next_id;
        let built = Tracker::new(inst, &new.scripts, &new.sync_groups)
            .map_err(|e| DaemonError::Invalid {
                instance: inst.name.clone(),
                what: e.to_string(),
            })
            .and_then(|tracker| {
                let tracker = tracker.with_bfds(inst, &new.bfd, &new.sync_groups);
                Runtime::new(id, inst, &new.global, tracker, run.dp)
            });
        match built {
            Ok(mut r) => {
                *run.next_id += 1;
                if let Some(n) = r.notifier.take() {
                    run.notify.add_instance(id, n);
                }
                r.announce();
                started.push(runtimes.len());
                runtimes.push(r);
            }
            Err(e) => error!(instance = %inst.name, error = %e, "instance could not start"),
        }
    }

    for r in &runtimes {
        for ifname in r.xdp_interfaces() {
            if !run.ifaces.contains(&ifname) {
                match run.dp.attach(&ifname, opts.xdp_mode) {
                    Ok(_) => run.ifaces.push(ifname),
                    Err(e) => error!(interface = %ifname, error = %e, "XDP attach failed"),
                }
            }
        }
    }
    // Issue #14 item 4: an interface no instance uses any more loses the program.
    let used: Vec<String> = runtimes.iter().flat_map(Runtime::xdp_interfaces).collect();
    run.ifaces.retain(|i| used.contains(i));
    run.dp.detach_unused(&used);
    let states = run.tracking.states.clone();
    match Tracking::restart(&new, &runtimes, states) {
        Ok(t) => *run.tracking = t,
        Err(e) => error!(error = %e, "tracking could not restart; the previous watchers stay"),
    }
    let t = now();
    for &i in &started {
        if let Some(r) = runtimes.get_mut(i) {
            r.clear_addresses(addr_tx);
            r.handle(t, FsmEvent::Startup, run.dp, addr_tx);
        }
    }
    for r in &mut runtimes {
        r.retrack(t, &run.tracking.states, run.dp, addr_tx);
    }
    super::groups::Groups::new(&new).sync_faults(&mut runtimes, t, run.dp, addr_tx);
    *run.index = super::index_of(&runtimes);
    info!(
        kept = runtimes.len() - started.len(),
        started = started.len(),
        removed = ?removed,
        "configuration reloaded"
    );
    *run.runtimes = runtimes;
    *run.cfg = new;
    Ok(retired)
}

/// The sync groups' notifiers of `cfg` (their commands were checked off the loop; one that
/// fails now is logged and left out).
pub(super) fn group_notifiers(cfg: &Config) -> Vec<Notifier> {
    let mut out = Vec::new();
    for g in &cfg.sync_groups {
        match Notifier::for_group(g, &cfg.global) {
            Ok(n) => out.push(n),
            Err(e) => {
                error!(group = %g.name, error = %e, "sync group notify scripts could not be prepared");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("havip-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn a_configuration_without_instances_is_refused_unless_allowed() {
        let empty = file("empty.toml", "");
        assert!(matches!(
            prepare(&empty, config::Format::Toml),
            Err(ReloadError::NoInstances)
        ));
        let allowed = file("allowed.toml", "[global]\nallow_no_instances = true\n");
        let loaded = prepare(&allowed, config::Format::Toml).expect("allowed");
        assert_eq!(loaded.config.instances.len(), 0);
        let _ = std::fs::remove_file(empty);
        let _ = std::fs::remove_file(allowed);
    }

    #[test]
    fn only_an_authentication_change_is_taken_in_place() {
        use crate::config::auth_hmac::{AuthHmacConfig, HmacKeyConfig, KeyValue, ModeConfig};
        let old = config::Instance::new("VI_1", "eth0", 51);
        let hmac = |mode, active| AuthHmacConfig {
            keys: vec![HmacKeyConfig {
                id: active,
                key: KeyValue("hex:00".to_owned()),
            }],
            active_key: active,
            anti_replay: config::auth_hmac::AntiReplayKind::Time,
            time_window: None,
            mode,
        };
        let added = config::Instance {
            auth_hmac: Some(hmac(ModeConfig::ReceiveOnly, 1)),
            ..old.clone()
        };
        assert!(same_but_auth(&old, &added), "adding auth_hmac");
        let rotated = config::Instance {
            auth_hmac: Some(hmac(ModeConfig::Enforce, 2)),
            ..added.clone()
        };
        assert!(same_but_auth(&added, &rotated), "mode and active key");
        let moved = config::Instance {
            priority: 200,
            ..rotated.clone()
        };
        assert!(
            !same_but_auth(&rotated, &moved),
            "another field restarts it"
        );
    }

    #[tokio::test]
    async fn a_read_past_the_deadline_is_reported_and_never_waited_for() {
        let (tx, mut rx) = mpsc::channel(1);
        let started = std::time::Instant::now();
        off_loop(Duration::from_millis(50), tx, || {
            // A read that blocks (a FIFO without a writer) far past the deadline.
            std::thread::sleep(Duration::from_secs(5));
            Err(ReloadError::NoInstances)
        });
        let got = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("the deadline was not kept");
        assert!(
            matches!(got, Some(Input::Reloaded(r)) if matches!(*r, Err(ReloadError::Deadline(_)))),
            "expected a deadline error"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_read_within_the_deadline_delivers_its_result() {
        let (tx, mut rx) = mpsc::channel(1);
        off_loop(Duration::from_secs(5), tx, || Err(ReloadError::NoInstances));
        let got = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("no result");
        assert!(
            matches!(got, Some(Input::Reloaded(r)) if matches!(*r, Err(ReloadError::NoInstances))),
            "expected the work's own result"
        );
    }
}
