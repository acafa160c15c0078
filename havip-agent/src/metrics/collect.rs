//! The scrape: a prometheus-client [`Collector`] that reads everything at the time of the
//! request (instance atomics, the kernel's maps through the scrape's own handles, `/proc/self`,
//! the hooks) and encodes it. It runs on the metrics thread only.

use std::{
    fmt,
    sync::{Arc, PoisonError},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeGaugeValue, NoLabelSet},
    metrics::MetricType,
    registry::Unit,
};

use super::{
    Shared,
    histogram::HistogramSnapshot,
    hooks::Hooks,
    instance::{
        InstanceShared, InstanceSnapshot, KNOWN_TRANSITIONS, REASONS, STATES, Stage,
        TAKEOVER_REASONS,
    },
    kernel, process,
};
use crate::{clock::monotonic_ns, dataplane::Vrid};

/// Label set of one series.
pub(super) type Labels = Vec<(&'static str, String)>;

/// The name of the label that carries the VRRP instance's name. Not `instance`: Prometheus sets
/// `instance` on every scraped series to the target's address, and would rename ours to
/// `exported_instance`.
pub const INSTANCE_LABEL: &str = "vrrp_instance";

/// The collector registered for each scrape.
#[derive(Debug)]
pub struct Collect(pub Arc<Shared>);

fn instance_labels(s: &InstanceShared) -> Labels {
    vec![
        (INSTANCE_LABEL, s.info.name.clone()),
        ("vrid", s.info.vrid.to_string()),
        ("interface", s.info.interface.clone()),
    ]
}

fn with(mut base: Labels, extra: &[(&'static str, &str)]) -> Labels {
    base.extend(extra.iter().map(|&(k, v)| (k, v.to_owned())));
    base
}

fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

/// One family of gauges; nothing (not even HELP) when `series` is empty.
pub(super) fn gauges<V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: &[(Labels, V)],
) -> fmt::Result {
    if series.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in series {
        // An empty label set would be written as `{}`.
        if labels.is_empty() {
            m.encode_gauge(v)?;
        } else {
            m.encode_family(labels)?.encode_gauge(v)?;
        }
    }
    Ok(())
}

/// One family of counters (`name` without `_total`); nothing when `series` is empty.
pub(super) fn counters(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    series: &[(Labels, u64)],
) -> fmt::Result {
    if series.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Counter)?;
    for (labels, v) in series {
        if labels.is_empty() {
            m.encode_counter::<NoLabelSet, u64, u64>(v, None)?;
        } else {
            m.encode_family(labels)?
                .encode_counter::<NoLabelSet, u64, u64>(v, None)?;
        }
    }
    Ok(())
}

/// One family of histograms in seconds (`name` without `_seconds`).
fn histograms(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, HistogramSnapshot)],
) -> fmt::Result {
    if series.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
    for (labels, h) in series {
        m.encode_family(labels)?
            .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.buckets, None)?;
    }
    Ok(())
}

/// One info family (`name` without `_info`).
fn infos(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, Labels)],
) -> fmt::Result {
    if series.is_empty() {
        return Ok(());
    }
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Info)?;
    for (labels, info) in series {
        m.encode_family(labels)?.encode_info(info)?;
    }
    Ok(())
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

impl Collector for Collect {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let shared = &self.0;
        let instances = shared.instances();
        let snaps: Vec<(&InstanceShared, InstanceSnapshot, Labels)> = instances
            .iter()
            .map(|i| (i.as_ref(), i.snapshot(), instance_labels(i)))
            .collect();
        agent(&mut enc, shared, &snaps)?;
        counters(
            &mut enc,
            "havip_events_dropped",
            "Events the event loop published that a subscriber's full queue dropped, by \
             subscriber (their metrics or reports may be behind)",
            None,
            &shared
                .event_drops()
                .into_iter()
                .map(|(n, v)| (vec![("subscriber", n.to_owned())], v))
                .collect::<Vec<_>>(),
        )?;
        let modes: Vec<(Labels, i64)> = shared
            .dataplane_modes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(ifname, mode)| {
                (
                    vec![("interface", ifname.clone()), ("mode", (*mode).to_owned())],
                    1,
                )
            })
            .collect();
        gauges(
            &mut enc,
            "havip_dataplane_mode",
            "The hook havip's program runs on per interface (1 for the mode in use): xdp \
             (exclusive XDP) or tc (tc ingress beside other XDP programs)",
            None,
            &modes,
        )?;
        election(&mut enc, &snaps)?;
        history(&mut enc, &snaps)?;
        if let Some(reader) = shared.kernel.get() {
            kernel_state(&mut enc, shared, reader, &snaps)?;
        }
        hooks(&mut enc, &shared.hooks)?;
        if let Some(stats) = shared.bfd.get() {
            super::bfd::encode(&mut enc, stats)?;
        }
        process_metrics(&mut enc)
    }
}

fn agent(
    enc: &mut DescriptorEncoder,
    shared: &Shared,
    snaps: &[(&InstanceShared, InstanceSnapshot, Labels)],
) -> fmt::Result {
    let build = vec![
        ("version", shared.build.version.to_owned()),
        ("kernel", shared.build.kernel.clone()),
    ];
    let mut m = enc.encode_descriptor(
        "havip_build",
        "havip agent version and the running kernel release (always 1)",
        None,
        MetricType::Info,
    )?;
    m.encode_info(&build)?;
    let now = monotonic_ns();
    if let Some(age) = shared.health.age_at(now) {
        gauges(
            enc,
            "havip_event_loop_heartbeat_age",
            "Time since the event loop last iterated; it iterates at least every second, so \
             more than a few seconds means the election is stalled (/healthz fails past 5 s)",
            Some(&Unit::Seconds),
            &[(Vec::new(), secs(age))],
        )?;
    }
    histograms(
        enc,
        "havip_timer_lateness",
        "How late the event loop woke after an instance's deadline (advert due, master down): \
         the takeover delay the agent adds to the protocol's bound",
        &[(Vec::new(), shared.timer_lateness.snapshot())],
    )?;
    let ready = shared
        .health
        .ready(
            snaps
                .iter()
                .map(|(i, s, _)| (i.info.name.as_str(), s.state)),
        )
        .is_ok();
    gauges(
        enc,
        "havip_ready",
        "1 when the XDP data plane is attached and every instance has left INIT (/readyz)",
        None,
        &[(Vec::new(), flag(ready))],
    )
}

fn election(
    enc: &mut DescriptorEncoder,
    snaps: &[(&InstanceShared, InstanceSnapshot, Labels)],
) -> fmt::Result {
    let mut state = Vec::new();
    for (_, s, l) in snaps {
        for st in STATES {
            state.push((
                with(l.clone(), &[("state", st.as_str())]),
                flag(s.state == st),
            ));
        }
    }
    gauges(
        enc,
        "havip_instance_state",
        "VRRP state as a state set: one series per state (INIT, BACKUP, MASTER, FAULT), 1 for \
         the current one",
        None,
        &state,
    )?;
    let each = |f: &dyn Fn(&InstanceShared, &InstanceSnapshot) -> i64| -> Vec<(Labels, i64)> {
        snaps.iter().map(|(i, s, l)| (l.clone(), f(i, s))).collect()
    };
    let each_secs = |f: &dyn Fn(&InstanceShared, &InstanceSnapshot) -> f64| -> Vec<(Labels, f64)> {
        snaps.iter().map(|(i, s, l)| (l.clone(), f(i, s))).collect()
    };
    gauges(
        enc,
        "havip_instance_priority",
        "Configured priority",
        None,
        &each(&|i, _| i64::from(i.info.priority)),
    )?;
    gauges(
        enc,
        "havip_instance_effective_priority",
        "Priority advertised and compared now (configured, changed by tracking)",
        None,
        &each(&|_, s| i64::from(s.effective_priority)),
    )?;
    let masters: Vec<(Labels, Labels)> = snaps
        .iter()
        .filter_map(|(_, s, l)| {
            s.master
                .map(|(addr, _)| (l.clone(), vec![("master", addr.to_string())]))
        })
        .collect();
    infos(
        enc,
        "havip_instance_master",
        "The current master's address as this node knows it (itself when MASTER, the sender \
         of the last accepted advert when BACKUP); absent when none is known",
        &masters,
    )?;
    let master_prio: Vec<(Labels, i64)> = snaps
        .iter()
        .filter_map(|(_, s, l)| s.master.map(|(_, p)| (l.clone(), i64::from(p))))
        .collect();
    gauges(
        enc,
        "havip_instance_master_priority",
        "Priority of the current master as this node knows it",
        None,
        &master_prio,
    )?;
    gauges(
        enc,
        "havip_instance_advert_interval",
        "Configured advertisement interval",
        Some(&Unit::Seconds),
        &each_secs(&|i, _| secs(i.info.advert_interval)),
    )?;
    gauges(
        enc,
        "havip_instance_master_advert_interval",
        "Master_Adver_Interval: the interval learned from the master's adverts (v3), else the \
         configured one",
        Some(&Unit::Seconds),
        &each_secs(&|_, s| secs(s.learned_interval)),
    )?;
    gauges(
        enc,
        "havip_instance_master_down_interval",
        "Master_Down_Interval: how long a backup waits without adverts before taking over \
         (3 x Master_Adver_Interval + Skew_Time)",
        Some(&Unit::Seconds),
        &each_secs(&|_, s| secs(s.master_down_interval)),
    )
}

#[expect(
    clippy::too_many_lines,
    reason = "one family after the other, each a few lines; splitting would scatter the list"
)]
fn history(
    enc: &mut DescriptorEncoder,
    snaps: &[(&InstanceShared, InstanceSnapshot, Labels)],
) -> fmt::Result {
    let mut transitions = Vec::new();
    for (i, _, l) in snaps {
        for from in STATES {
            for to in STATES {
                for (r, reason) in REASONS.iter().enumerate() {
                    let n = i.transitions(from, to, r);
                    if n > 0 || KNOWN_TRANSITIONS.contains(&(from, to, r)) {
                        let labels = with(
                            l.clone(),
                            &[
                                ("from", from.as_str()),
                                ("to", to.as_str()),
                                ("reason", reason),
                            ],
                        );
                        transitions.push((labels, n));
                    }
                }
            }
        }
    }
    counters(
        enc,
        "havip_state_transitions",
        "State transitions by from, to and reason",
        None,
        &transitions,
    )?;
    let each = |f: fn(&InstanceSnapshot) -> u64| -> Vec<(Labels, u64)> {
        snaps.iter().map(|(_, s, l)| (l.clone(), f(s))).collect()
    };
    counters(
        enc,
        "havip_adverts_sent",
        "VRRP adverts sent (one per destination)",
        None,
        &each(|s| s.adverts_sent),
    )?;
    counters(
        enc,
        "havip_adverts_received",
        "VRRP adverts for this instance that the XDP program validated and the agent decoded",
        None,
        &each(|s| s.adverts_received),
    )?;
    counters(
        enc,
        "havip_priority_zero_adverts_received",
        "Adverts with priority 0 received (a master resigning)",
        None,
        &each(|s| s.priority_zero_received),
    )?;
    counters(
        enc,
        "havip_garps_sent",
        "Gratuitous ARP frames sent (takeover, refresh, and re-announces for the cloud)",
        None,
        &each(|s| s.garps_sent),
    )?;
    counters(
        enc,
        "havip_garps_suppressed",
        "Gratuitous ARP bursts that a lower-priority advert would have triggered, rate limited",
        None,
        &each(|s| s.garps_suppressed),
    )?;
    counters(
        enc,
        "havip_learned_interval_clamped",
        "Adverts whose interval was above the bound on the learned Master_Adver_Interval (the \
         bound was learned instead)",
        None,
        &each(|s| s.intervals_clamped),
    )?;
    let mut rejected = Vec::new();
    for (i, _, l) in snaps {
        for (reason, n) in i.rejected() {
            rejected.push((with(l.clone(), &[("reason", reason)]), n));
        }
    }
    counters(
        enc,
        "havip_adverts_rejected",
        "Adverts the XDP program passed but the state machine rejected, by reason (RFC 9568 \
         6.4.2/6.4.3 checks: address list, interval, version, authentication, own address...)",
        None,
        &rejected,
    )?;
    let mut auth = Vec::new();
    for (i, _, l) in snaps {
        for (outcome, n) in i.auth_hmac() {
            auth.push((with(l.clone(), &[("outcome", outcome)]), n));
        }
    }
    counters(
        enc,
        "havip_auth_hmac",
        "Adverts checked by keepalived's auth_hmac, by outcome: ok, unsigned (accepted without \
         trailer in permissive or receive-only mode), or why refused (missing, malformed, stale, \
         unknown_key, invalid_hmac, replay, not_peer)",
        None,
        &auth,
    )?;
    let mut takeover = Vec::new();
    for (i, _, l) in snaps {
        for stage in Stage::ALL {
            for (r, reason) in REASONS.iter().enumerate() {
                let Some(h) = i.takeover(stage, r) else {
                    continue;
                };
                if h.count() > 0 || TAKEOVER_REASONS.contains(&r) {
                    let labels = with(
                        l.clone(),
                        &[("stage", stage.as_label()), ("reason", reason)],
                    );
                    takeover.push((labels, h.snapshot()));
                }
            }
        }
    }
    histograms(
        enc,
        "havip_takeover_duration",
        "Time from a takeover's trigger (the Master_Down_Timer expiry as the event loop saw \
         it, or the reception of a priority-0 advert) to ownership granted in the kernel map \
         (stage granted) and to the first gratuitous ARP sent (stage announced)",
        &takeover,
    )?;
    let jitter: Vec<(Labels, HistogramSnapshot)> = snaps
        .iter()
        .map(|(i, _, l)| (l.clone(), i.jitter().snapshot()))
        .collect();
    histograms(
        enc,
        "havip_advert_jitter",
        "Advert receive jitter: distance between the gap since the previous advert from the \
         same sender (kernel receive times) and the interval that advert carries",
        &jitter,
    )
}

/// The kernel's instance of `info`: its VRID in its family.
fn kernel_vrid(info: &crate::events::InstanceInfo) -> Vrid {
    if info.ipv6 {
        Vrid::v6(info.vrid)
    } else {
        Vrid::v4(info.vrid)
    }
}

fn kernel_state(
    enc: &mut DescriptorEncoder,
    shared: &Shared,
    reader: &crate::dataplane::MapReader,
    snaps: &[(&InstanceShared, InstanceSnapshot, Labels)],
) -> fmt::Result {
    let mut owned = Vec::new();
    let mut fenced = Vec::new();
    let mut lease = Vec::new();
    for (i, _, l) in snaps {
        match reader.ownership(i.info.ifindex, kernel_vrid(&i.info)) {
            Ok(Some(o)) => {
                owned.push((l.clone(), flag(o.owned)));
                fenced.push((l.clone(), flag(o.fenced)));
                lease.push((l.clone(), secs(o.lease_remaining)));
            }
            Ok(None) => {}
            Err(_) => shared.kernel_read_error(),
        }
    }
    gauges(
        enc,
        "havip_instance_owned",
        "1 while the kernel answers ARP for the instance's VIPs: grant set, lease running, not \
         fenced (read from the BPF maps at scrape time)",
        None,
        &owned,
    )?;
    gauges(
        enc,
        "havip_instance_fenced",
        "1 when the kernel fenced the current grant on a better advert (fast switch)",
        None,
        &fenced,
    )?;
    gauges(
        enc,
        "havip_instance_lease_remaining",
        "Time left on the kernel ownership lease (0 without a grant or once expired)",
        Some(&Unit::Seconds),
        &lease,
    )?;
    let mut replies = Vec::new();
    let mut dropped = Vec::new();
    for (i, _, l) in snaps {
        for &(vip, ifindex) in &i.info.vips {
            match reader.vip_counters(ifindex, vip) {
                Ok(Some(c)) => {
                    let l = with(l.clone(), &[("vip", &vip.to_string())]);
                    replies.push((l.clone(), c.replied));
                    for (reason, v) in [
                        ("not_owned", c.dropped_not_owned),
                        ("lease_expired", c.dropped_lease_expired),
                        ("fenced", c.dropped_fenced),
                    ] {
                        dropped.push((with(l.clone(), &[("reason", reason)]), v));
                    }
                }
                Ok(None) => {}
                Err(_) => shared.kernel_read_error(),
            }
        }
    }
    counters(
        enc,
        "havip_vip_arp_replies",
        "ARP requests (IPv4 VIP) or Neighbor Solicitations (IPv6 VIP) for this VIP answered by \
         the XDP program",
        None,
        &replies,
    )?;
    counters(
        enc,
        "havip_vip_arp_dropped",
        "ARP requests (IPv4 VIP) or Neighbor Solicitations (IPv6 VIP) for this VIP dropped by \
         the XDP program, by reason: not_owned, lease_expired (answers refused because the \
         ownership lease ran out), fenced",
        None,
        &dropped,
    )?;
    match reader.counters() {
        Ok(c) => {
            for family in kernel::FAMILIES {
                let series: Vec<(Labels, u64)> = kernel::series_of(family)
                    .map(|(index, value)| {
                        let labels = family
                            .label
                            .map(|k| vec![(k, value.to_owned())])
                            .unwrap_or_default();
                        (labels, c.get(index))
                    })
                    .collect();
                counters(enc, family.name, family.help, None, &series)?;
            }
        }
        Err(_) => shared.kernel_read_error(),
    }
    counters(
        enc,
        "havip_kernel_read_errors",
        "BPF map reads that failed during scrapes (their series were left out)",
        None,
        &[(Vec::new(), shared.kernel_read_errors())],
    )
}

fn hooks(enc: &mut DescriptorEncoder, hooks: &Hooks) -> fmt::Result {
    let v = hooks.snapshot();
    let up = |m: &std::collections::BTreeMap<String, bool>, key: &'static str| {
        m.iter()
            .map(|(k, &b)| (vec![(key, k.clone())], flag(b)))
            .collect::<Vec<_>>()
    };
    gauges(
        enc,
        "havip_track_script_up",
        "1 while a track script's result (after rise/fall) is OK",
        None,
        &up(&v.track_scripts, "script"),
    )?;
    let runs = |m: &std::collections::BTreeMap<(String, super::Outcome), u64>| {
        m.iter()
            .map(|((k, o), &n)| {
                (
                    vec![("script", k.clone()), ("outcome", o.as_label().to_owned())],
                    n,
                )
            })
            .collect::<Vec<_>>()
    };
    counters(
        enc,
        "havip_track_script_runs",
        "Track script runs by outcome (success, failure, timeout)",
        None,
        &runs(&v.track_runs),
    )?;
    gauges(
        enc,
        "havip_track_interface_up",
        "1 while a tracked interface is up",
        None,
        &up(&v.track_interfaces, "interface"),
    )?;
    counters(
        enc,
        "havip_notify_runs",
        "Notify script runs by outcome (success, failure, timeout)",
        None,
        &runs(&v.notify_runs),
    )?;
    let reports: Vec<(Labels, u64)> = v
        .cloud_reports
        .iter()
        .map(|((p, i, o), &n)| {
            (
                vec![
                    ("provider", p.clone()),
                    (INSTANCE_LABEL, i.clone()),
                    ("outcome", o.as_label().to_owned()),
                ],
                n,
            )
        })
        .collect();
    counters(
        enc,
        "havip_cloud_reports",
        "Ownership reports to the cloud by outcome (success, failure, timeout)",
        None,
        &reports,
    )?;
    let latency: Vec<(Labels, HistogramSnapshot)> = Hooks::cloud_latency(&v)
        .into_iter()
        .map(|(p, h)| (vec![("provider", p)], h))
        .collect();
    histograms(
        enc,
        "havip_cloud_report_duration",
        "Latency of ownership reports to the cloud, whatever their outcome",
        &latency,
    )
}

fn process_metrics(enc: &mut DescriptorEncoder) -> fmt::Result {
    let p = process::read();
    let one = |v: Option<f64>| v.map(|v| vec![(Labels::new(), v)]).unwrap_or_default();
    #[expect(
        clippy::cast_precision_loss,
        reason = "byte and descriptor counts are exact in f64 far beyond any real value"
    )]
    let int = |v: Option<u64>| one(v.map(|v| v as f64));
    if let Some(cpu) = p.cpu {
        let mut m = enc.encode_descriptor(
            "process_cpu",
            "Total user and system CPU time spent",
            Some(&Unit::Seconds),
            MetricType::Counter,
        )?;
        m.encode_counter::<NoLabelSet, f64, f64>(&cpu.as_secs_f64(), None)?;
    }
    gauges(
        enc,
        "process_resident_memory",
        "Resident memory size",
        Some(&Unit::Bytes),
        &int(p.resident_bytes),
    )?;
    gauges(
        enc,
        "process_virtual_memory",
        "Virtual memory size",
        Some(&Unit::Bytes),
        &int(p.virtual_bytes),
    )?;
    gauges(
        enc,
        "process_open_fds",
        "Open file descriptors",
        None,
        &int(p.open_fds),
    )?;
    gauges(
        enc,
        "process_max_fds",
        "Limit of open file descriptors (soft RLIMIT_NOFILE)",
        None,
        &int(p.max_fds),
    )?;
    gauges(enc, "process_threads", "OS threads", None, &int(p.threads))?;
    gauges(
        enc,
        "process_start_time",
        "Start time of the process since the Unix epoch",
        Some(&Unit::Seconds),
        &one(p.start_time_seconds),
    )
}
