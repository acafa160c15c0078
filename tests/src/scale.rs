//! Many instances with many VIPs on two nodes (a load-balancer node: up to 255 VRIDs x 16
//! VIPs): the generated keepalived.conf, a lab where one implementation runs it on both nodes
//! while a client sweeps every VIP with ARP, and the `havip-bench scale` measurement (idle CPU
//! and RSS of both nodes, time until every VIP has moved after a link cut).
//!
//! VIPs come from 198.18.0.0/15: instance `i` (its VRID) owns `198.18.0.0 + 32 i + n`.

use std::{
    collections::HashMap,
    fmt::Write as _,
    net::Ipv4Addr,
    thread::sleep,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use crate::{
    agents::{Vrrp, Workdir},
    failover::{
        run::{Daemon, Implementation, cpu_ns, peak_rss_kib, percent},
        wire::LinkSwitch,
    },
    netns::{Lan, wait_for},
    prober::ArpProber,
    scale_wire::{Moved, TakeoverCapture, moved},
};

/// The client on the lab.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const A_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const B_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
/// Node a's priority: it starts as master.
pub const A_PRIORITY: u8 = 150;
/// Node b's priority: it takes over after the cut.
pub const B_PRIORITY: u8 = 100;
/// ARP requests sent before the replies are read (the sweep enlarges the socket buffer to hold
/// them all).
const SWEEP_BATCH: usize = 1024;
/// A sweep batch is over when no reply came for this long.
const SWEEP_QUIET: Duration = Duration::from_millis(3);

/// How many instances, with how many VIPs each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Instances, VRIDs `1..=instances`.
    pub instances: u8,
    /// VIPs per instance, at most 32.
    pub vips_per_instance: u8,
}

impl Layout {
    /// VIP `n` of instance `vrid`.
    #[must_use]
    pub fn vip(vrid: u8, n: u8) -> Ipv4Addr {
        let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
        Ipv4Addr::from(base + u32::from(vrid) * 32 + u32::from(n % 32))
    }

    /// Every instance's VRID with its VIPs.
    #[must_use]
    pub fn vips_by_vrid(&self) -> Vec<(u8, Vec<Ipv4Addr>)> {
        (1..=self.instances)
            .map(|v| {
                (
                    v,
                    (0..self.vips_per_instance)
                        .map(|n| Self::vip(v, n))
                        .collect(),
                )
            })
            .collect()
    }

    /// Every VIP, instance by instance.
    #[must_use]
    pub fn vips(&self) -> Vec<Ipv4Addr> {
        (1..=self.instances)
            .flat_map(|v| (0..self.vips_per_instance).map(move |n| Self::vip(v, n)))
            .collect()
    }

    /// The keepalived.conf of one node (both implementations read it): every instance on
    /// `eth0`, unicast from `src` to `peer`, `vrrp` adverts.
    #[must_use]
    pub fn keepalived_conf(
        &self,
        router_id: &str,
        vrrp: Vrrp,
        priority: u8,
        state: &str,
        src: Ipv4Addr,
        peer: Ipv4Addr,
    ) -> String {
        let (version, interval) = match vrrp {
            Vrrp::V2 { secs } => (2, secs.to_string()),
            Vrrp::V3 { centis } => (3, format!("{}", f64::from(centis) / 100.0)),
        };
        let mut t = String::new();
        let _ = writeln!(
            t,
            "global_defs {{\n    router_id {router_id}\n    vrrp_version {version}\n}}"
        );
        for vrid in 1..=self.instances {
            let _ = writeln!(t, "vrrp_instance VI_{vrid} {{");
            let _ = writeln!(t, "    state {state}\n    interface eth0");
            let _ = writeln!(t, "    virtual_router_id {vrid}\n    priority {priority}");
            let _ = writeln!(t, "    advert_int {interval}\n    unicast_src_ip {src}");
            let _ = writeln!(t, "    unicast_peer {{\n        {peer}\n    }}");
            let _ = writeln!(t, "    virtual_ipaddress {{");
            for n in 0..self.vips_per_instance {
                let _ = writeln!(t, "        {}/32", Self::vip(vrid, n));
            }
            let _ = writeln!(t, "    }}\n}}");
        }
        t
    }
}

/// Who answered the VIPs in one sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owners {
    /// Answered by node a only.
    pub a: usize,
    /// Answered by node b only.
    pub b: usize,
    /// Answered by more than one MAC.
    pub both: usize,
    /// Not answered.
    pub none: usize,
}

/// Two nodes running one implementation of a [`Layout`], and a client.
pub struct Lab {
    /// The segment: client (0), a (1), b (2).
    pub lan: Lan,
    /// Node a's daemon (the first master).
    a: Option<Daemon>,
    /// Node b's daemon.
    b: Option<Daemon>,
    prober: ArpProber,
    vips: Vec<Ipv4Addr>,
    dir: Workdir,
}

impl Lab {
    /// Builds the lab and starts `imp` on a, waits until a answers every VIP (within
    /// `limit`), then starts b.
    pub fn start(
        imp: Implementation,
        layout: Layout,
        vrrp: Vrrp,
        limit: Duration,
    ) -> anyhow::Result<Self> {
        let mut lan = Lan::new()?;
        lan.add_node("c", 1)?;
        lan.add_node("a", 11)?;
        lan.add_node("b", 12)?;
        let dir = Workdir::new()?;
        let prober = ArpProber::open(&lan.nodes[0].ns, "eth0", CLIENT)?;
        let conf_a = layout.keepalived_conf("scale_a", vrrp, A_PRIORITY, "MASTER", A_IP, B_IP);
        let conf_b = layout.keepalived_conf("scale_b", vrrp, B_PRIORITY, "BACKUP", B_IP, A_IP);
        let a = Daemon::start(imp, &lan, 1, &dir, "a", &conf_a).context("starting a")?;
        let mut lab = Self {
            lan,
            a: Some(a),
            b: None,
            prober,
            vips: layout.vips(),
            dir,
        };
        if lab.wait_owned_by(1, limit)?.is_none() {
            bail!(
                "a did not answer every VIP within {limit:?}: {:?}",
                lab.owners()?
            );
        }
        lab.b =
            Some(Daemon::start(imp, &lab.lan, 2, &lab.dir, "b", &conf_b).context("starting b")?);
        Ok(lab)
    }

    /// Sweeps every VIP once.
    pub fn owners(&self) -> anyhow::Result<Owners> {
        let seen = self.prober.sweep(&self.vips, SWEEP_BATCH, SWEEP_QUIET)?;
        Ok(self.classify(&seen))
    }

    fn classify(&self, seen: &HashMap<Ipv4Addr, Vec<[u8; 6]>>) -> Owners {
        let (mac_a, mac_b) = (self.lan.nodes[1].mac, self.lan.nodes[2].mac);
        let mut o = Owners::default();
        for v in &self.vips {
            match seen.get(v).map(Vec::as_slice) {
                None | Some([]) => o.none += 1,
                Some([m]) if *m == mac_a => o.a += 1,
                Some([m]) if *m == mac_b => o.b += 1,
                Some(_) => o.both += 1,
            }
        }
        o
    }

    /// Sweeps until node `n` (1: a, 2: b) alone has answered every VIP, or `limit` passes;
    /// returns the time from the call to the end of the sweep that saw the last VIP answered.
    /// Each sweep asks only for the VIPs not yet answered by `n` alone, so the sweeps shorten
    /// as VIPs move and the last VIP's move is seen within a short sweep. (Used after the other
    /// node was cut off or before it started, so a VIP once answered by `n` stays with it.)
    pub fn wait_owned_by(&self, n: usize, limit: Duration) -> anyhow::Result<Option<Duration>> {
        let start = Instant::now();
        let mac = self.lan.nodes[n].mac;
        let mut pending = self.vips.clone();
        while start.elapsed() < limit {
            let seen = self.prober.sweep(&pending, SWEEP_BATCH, SWEEP_QUIET)?;
            pending.retain(|v| seen.get(v).is_none_or(|m| m.as_slice() != [mac]));
            if pending.is_empty() {
                return Ok(Some(start.elapsed()));
            }
            sleep(Duration::from_millis(1));
        }
        Ok(None)
    }

    /// How long one sweep of every VIP takes now (the resolution of [`Self::wait_owned_by`]).
    pub fn sweep_time(&self) -> anyhow::Result<Duration> {
        let t = Instant::now();
        self.owners()?;
        Ok(t.elapsed())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // b first, so a's stop (its priority-0 adverts) does not make b take everything over.
        drop(self.b.take());
        drop(self.a.take());
    }
}

/// One `havip-bench scale` measurement.
#[derive(Clone, Debug)]
pub struct ScaleMeasured {
    /// The implementation.
    pub implementation: Implementation,
    /// The layout.
    pub layout: Layout,
    /// The adverts.
    pub vrrp: Vrrp,
    /// CPU of a (master) and b (backup) over the idle period, percent of one core.
    pub cpu_percent: [Option<f64>; 2],
    /// Peak RSS of a and b (all processes of the daemon), KiB.
    pub peak_rss_kib: [Option<u64>; 2],
    /// From the cut to the end of the sweep in which b alone had answered every VIP.
    pub moved_after: Option<Duration>,
    /// b's `Master_Down_Interval`, the protocol's bound for the takeover.
    pub bound: Duration,
    /// How long one sweep of every VIP took (the bound of `moved_after`'s resolution; the
    /// last sweeps ask only for the VIPs not yet moved, and are shorter).
    pub sweep: Duration,
    /// The same takeover read on the wire ([`crate::scale_wire`]): from the cut to b's first
    /// gratuitous ARP of the last VIP, and each instance's overhead over its own bound.
    pub wire: Option<Moved>,
    /// Frames the wire capture lost (should be 0).
    pub wire_lost: u32,
}

impl ScaleMeasured {
    /// One line for the progress output and the table.
    #[must_use]
    pub fn line(&self) -> String {
        let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}%"));
        let mib = |v: Option<u64>| {
            v.map_or("-".to_owned(), |v| {
                format!(
                    "{:.1} MiB",
                    f64::from(u32::try_from(v).unwrap_or(u32::MAX)) / 1024.0
                )
            })
        };
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        let wire = self.wire.map_or_else(
            || "- | -".to_owned(),
            |w| {
                format!(
                    "{} | {:.2} / {:.2} ms",
                    ms(w.all_moved),
                    w.over_bound_median_ms,
                    w.over_bound_max_ms
                )
            },
        );
        format!(
            "| {} | {} x {} | {} / {} | {} / {} | {} | {} | {} | {} |",
            self.implementation.name(),
            self.layout.instances,
            self.layout.vips_per_instance,
            pct(self.cpu_percent[0]),
            pct(self.cpu_percent[1]),
            mib(self.peak_rss_kib[0]),
            mib(self.peak_rss_kib[1]),
            self.moved_after.map_or("not moved".to_owned(), ms),
            ms(self.bound),
            ms(self.sweep),
            wire,
        )
    }

    /// The table header matching [`Self::line`].
    #[must_use]
    pub fn header() -> &'static str {
        "| implementation | instances x VIPs | CPU idle a / b | peak RSS a / b | all VIPs moved after cut | Master_Down_Interval | sweep (resolution) | wire: last VIP's first GARP after cut | wire: over each instance's bound, median / max |\n|---|---|---|---|---|---|---|---|---|"
    }
}

/// Runs one scale measurement: the lab, `idle` of steady state sampled for CPU, a cut of a's
/// link, and sweeps until b answers every VIP (within the bound plus 30 s).
pub fn measure(
    imp: Implementation,
    layout: Layout,
    vrrp: Vrrp,
    idle: Duration,
) -> anyhow::Result<ScaleMeasured> {
    let lab = Lab::start(imp, layout, vrrp, Duration::from_secs(60))?;
    // b hears a few adverts and settles as backup before the idle sample.
    sleep(vrrp.interval() * 3);
    let pids = |d: &Option<Daemon>| d.as_ref().map(Daemon::pids).unwrap_or_default();
    let (pa, pb) = (pids(&lab.a), pids(&lab.b));
    let before = [cpu_ns(&pa), cpu_ns(&pb)];
    let t = Instant::now();
    sleep(idle);
    let wall = t.elapsed();
    let after = [cpu_ns(&pa), cpu_ns(&pb)];
    let cpu_percent = [0, 1].map(|i| {
        after[i]
            .zip(before[i])
            .map(|(x, y)| percent(x.saturating_sub(y), wall))
    });
    let peak = [peak_rss_kib(&pa), peak_rss_kib(&pb)];
    let sweep = lab.sweep_time()?;
    let bound = vrrp.master_down(B_PRIORITY);
    let (port_a, port_b) = (&lab.lan.nodes[1].bridge_port, &lab.lan.nodes[2].bridge_port);
    let capture = TakeoverCapture::start(&lab.lan.bridge, port_a, port_b)?;
    let switch = LinkSwitch::open(&lab.lan.bridge)?;
    // Adverts of every instance before the cut, so each has its own bound.
    sleep(vrrp.interval() * 2);
    let cut = Instant::now();
    let cut_stamp = switch.set(port_a, false)?;
    let moved_sweep = lab.wait_owned_by(2, bound + Duration::from_secs(30))?;
    let moved_after = moved_sweep.map(|_| cut.elapsed());
    // The sweep can end before the last GARP of a VIP it saw answered: wait for them (bounded).
    let all = layout.vips();
    let _ = wait_for(Duration::from_secs(5), Duration::from_millis(10), || {
        capture.all_garped(&all).then_some(())
    });
    let seen = capture.stop()?;
    let wire = moved(&seen, &layout.vips_by_vrid(), cut_stamp, bound);
    Ok(ScaleMeasured {
        implementation: imp,
        layout,
        vrrp,
        cpu_percent,
        peak_rss_kib: peak,
        moved_after,
        bound,
        sweep,
        wire,
        wire_lost: seen.lost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vips_are_distinct_and_inside_the_benchmark_range() {
        let l = Layout {
            instances: 255,
            vips_per_instance: 16,
        };
        let vips = l.vips();
        assert_eq!(vips.len(), 4080);
        let set: std::collections::HashSet<_> = vips.iter().collect();
        assert_eq!(set.len(), 4080);
        for v in vips {
            let o = v.octets();
            assert!(o[0] == 198 && (o[1] == 18 || o[1] == 19), "{v}");
        }
    }

    #[test]
    fn the_conf_has_every_instance_and_vip() {
        let l = Layout {
            instances: 3,
            vips_per_instance: 2,
        };
        let c = l.keepalived_conf("r", Vrrp::V2 { secs: 1 }, 150, "MASTER", A_IP, B_IP);
        assert_eq!(c.matches("vrrp_instance").count(), 3);
        assert!(c.contains("virtual_router_id 3"));
        assert!(c.contains(&format!("{}/32", Layout::vip(3, 1))));
        assert!(c.contains("unicast_peer {\n        192.0.2.12"));
    }
}
