//! Builds the status snapshot the control socket serves, from the event loop's own state.

use std::collections::BTreeMap;

use super::instance::Runtime;
use crate::{
    clock::monotonic_ns,
    config,
    control::status::{InstanceStatus, Status, TrackedStatus, TransitionStatus},
    dataplane::Dataplane,
    track::States,
};

/// The status of every instance now.
pub(super) fn snapshot(
    cfg: &config::Config,
    runtimes: &[Runtime],
    states: &States,
    dp: &mut Dataplane,
    bfd: &[crate::bfd::Snapshot],
) -> Status {
    let now = monotonic_ns();
    let instances = runtimes
        .iter()
        .map(|r| {
            let params = r.fsm.params();
            InstanceStatus {
                name: params.name.clone(),
                interface: r.iface.name.clone(),
                vrid: params.vrid,
                state: r.fsm.state().as_str().to_owned(),
                priority: params.priority,
                effective_priority: r.fsm.effective_priority(),
                master: r.fsm.master(),
                owned_in_kernel: dp.owned_now(r.iface.index, r.vrid()).unwrap_or(false),
                vips: r
                    .vips
                    .iter()
                    .map(|v| format!("{}/{}", v.addr, v.prefix))
                    .collect(),
                last_transition: r.last.map(|t| TransitionStatus {
                    from: t.from.as_str().to_owned(),
                    to: t.to.as_str().to_owned(),
                    reason: t.reason.to_string(),
                    ago_ms: now.saturating_sub(t.at.as_nanos()) / 1_000_000,
                }),
                tracked: r
                    .tracker
                    .objects()
                    .iter()
                    .map(|t| TrackedStatus {
                        object: t.object.to_string(),
                        weight: t.weight,
                        up: states.up(&t.object),
                    })
                    .collect(),
                adverts_sent: r.adverts_sent,
                garps_sent: r.garps_sent,
            }
        })
        .collect();
    let kernel_counters = dp.counters().map_or_else(
        |_| BTreeMap::new(),
        |c| {
            c.iter()
                .filter(|(_, v)| *v != 0)
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        },
    );
    Status {
        router_id: cfg.global.router_id.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        instances,
        kernel_counters,
        bfd: bfd.iter().map(bfd_status).collect(),
        dataplane: dp
            .hooks()
            .into_iter()
            .map(|(i, m)| (i, m.to_owned()))
            .collect(),
    }
}

fn bfd_status(b: &crate::bfd::Snapshot) -> crate::control::status::BfdStatus {
    let us = |d: std::time::Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    crate::control::status::BfdStatus {
        name: b.name.clone(),
        neighbor: b.neighbor,
        state: b.state.name().to_owned(),
        diag: b.diag.name().to_owned(),
        discriminators: (b.local_discr, b.remote_discr),
        tx_interval_us: us(b.tx_interval),
        rx_interval_us: us(b.rx_interval),
        detection_time_us: b.detection_time.map(us),
    }
}
