//! SIGHUP: re-read the configuration and apply the difference. An instance whose configuration
//! is unchanged keeps its runtime (state, ownership, timers): no transition and no gap for the
//! clients. A removed or changed instance resigns like at shutdown (priority-0 advert, revoke,
//! addresses removed) and a changed or new one starts. A configuration that does not load, or
//! whose new instances could not run (unknown interface, script user, ...), is rejected as a
//! whole and the running one stays.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::{
    DaemonError, Options, addr_worker::AddrOp, instance::Runtime, now, tracking::Tracking,
};
use crate::{
    config::{self, Config},
    dataplane::Dataplane,
    metrics::{InstanceInfo, Metrics},
    net::iface,
    track::Tracker,
    vrrp::Event,
};

/// What the event loop owns that a reload changes.
pub(super) struct Running<'a> {
    /// The configuration in force.
    pub cfg: &'a mut Config,
    /// The instances, in configuration order.
    pub runtimes: &'a mut Vec<Runtime>,
    /// (ifindex, vrid) -> index in `runtimes`.
    pub index: &'a mut HashMap<(u32, u8), usize>,
    /// Interfaces with the XDP program attached.
    pub ifaces: &'a mut Vec<String>,
    /// The watchers.
    pub tracking: &'a mut Tracking,
    /// The data plane.
    pub dp: &'a mut Dataplane,
    /// The metrics registry (instances are registered and removed with the configuration).
    pub metrics: &'a Metrics,
}

/// Checks that every instance of `cfg` that is not already running as configured could start,
/// without touching anything.
fn precheck(cfg: &Config, running: &[Runtime], old: &Config) -> Result<(), String> {
    for inst in &cfg.instances {
        if old.instances.contains(inst) && running.iter().any(|r| r.name() == inst.name) {
            continue;
        }
        iface::if_index(&inst.interface).map_err(|e| format!("instance {}: {e}", inst.name))?;
    }
    match crate::config_cmd::runtime_problems(cfg).into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// Resigns `r` as at shutdown, then forgets its VIPs and VRID in the kernel.
fn retire(r: &mut Runtime, dp: &mut Dataplane, addr_tx: &mpsc::UnboundedSender<AddrOp>) {
    r.handle(now(), Event::Shutdown, dp, addr_tx);
    let (ifindex, vrid) = (r.iface.index, r.fsm.params().vrid);
    for v in &r.vips {
        if let Err(e) = dp.remove_vip(v.ifindex, v.addr) {
            warn!(instance = r.name(), error = %e, "removing a VIP from the kernel failed");
        }
    }
    if let Err(e) = dp.remove_vrid(ifindex, vrid) {
        warn!(instance = r.name(), error = %e, "removing a VRID from the kernel failed");
    }
}

/// Re-reads the configuration and applies it; errors leave everything as it was.
pub(super) fn reload(
    opts: &Options,
    run: &mut Running<'_>,
    addr_tx: &mpsc::UnboundedSender<AddrOp>,
) {
    info!(path = %opts.config.display(), "SIGHUP: reloading the configuration");
    let loaded = match config::load(&opts.config, opts.format) {
        Ok(l) => l,
        Err(e) => {
            error!(error = %e, "reload rejected: the running configuration stays");
            return;
        }
    };
    for d in &loaded.diagnostics {
        warn!(diagnostic = %d, "configuration");
    }
    let new = loaded.config;
    if let Err(e) = precheck(&new, run.runtimes, run.cfg) {
        error!(error = %e, "reload rejected: the running configuration stays");
        return;
    }

    let mut kept: Vec<Option<Runtime>> = Vec::new();
    let mut removed = Vec::new();
    for mut r in std::mem::take(run.runtimes) {
        let same = run
            .cfg
            .instances
            .iter()
            .find(|i| i.name == r.name())
            .is_some_and(|old| new.instances.contains(old));
        if same {
            kept.push(Some(r));
        } else {
            retire(&mut r, run.dp, addr_tx);
            run.metrics.unregister_instance(&r.metrics);
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
        let built = Tracker::new(inst, &new.scripts, &new.sync_groups)
            .map_err(|e| DaemonError::Invalid {
                instance: inst.name.clone(),
                what: e.to_string(),
            })
            .and_then(|tracker| Runtime::new(inst, &new.global, tracker, run.dp));
        match built {
            Ok(mut r) => {
                r.metrics = run.metrics.register_instance(InstanceInfo::of(&r));
                r.notifier.export_to(run.metrics.clone());
                started.push(runtimes.len());
                runtimes.push(r);
            }
            Err(e) => error!(instance = %inst.name, error = %e, "instance could not start"),
        }
    }

    for r in &runtimes {
        if !run.ifaces.contains(&r.iface.name) {
            match run.dp.attach(&r.iface.name, opts.xdp_mode) {
                Ok(_) => run.ifaces.push(r.iface.name.clone()),
                Err(e) => error!(interface = %r.iface.name, error = %e, "XDP attach failed"),
            }
        }
    }
    let states = run.tracking.states.clone();
    match Tracking::restart(&new, &runtimes, states) {
        Ok(t) => *run.tracking = t,
        Err(e) => error!(error = %e, "tracking could not restart; the previous watchers stay"),
    }
    let t = now();
    for &i in &started {
        if let Some(r) = runtimes.get_mut(i) {
            r.clear_addresses(addr_tx);
            r.handle(t, Event::Startup, run.dp, addr_tx);
        }
    }
    for r in &mut runtimes {
        r.retrack(t, &run.tracking.states, run.dp, addr_tx);
    }
    super::groups::sync_faults(&new, &mut runtimes, t, run.dp, addr_tx);
    *run.index = runtimes
        .iter()
        .enumerate()
        .map(|(i, r)| ((r.iface.index, r.fsm.params().vrid), i))
        .collect();
    info!(
        kept = runtimes.len() - started.len(),
        started = started.len(),
        removed = ?removed,
        "configuration reloaded"
    );
    *run.runtimes = runtimes;
    *run.cfg = new;
}
