//! Tells the operator, in the log, what the XDP program dropped that points at a problem: adverts
//! refused by the shared acceptance rule (a peer with another VIP list or interval, a spoofer, a
//! wrong destination...) and ARP naming a VIP in a form the program does not answer (odd
//! hardware type or lengths, VLAN tags), and BFD packets of a configured neighbor that failed
//! the kernel's checks (TTL, discriminator...). The agent never sees those frames, so without this
//! the only trace would be a Prometheus series.
//!
//! It runs on a thread of its own with its own map handles, so the election loop never waits on
//! it: the counters are read once a second and at most one WARN line is written per
//! [`PERIOD`], summing everything dropped since the previous line.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use havip_common::counter::{self, family};
use tracing::warn;

use crate::dataplane::{Counters, MapReader};

/// How often the counters are read.
const POLL: Duration = Duration::from_secs(1);
/// At most one line per period; what is dropped in between goes into the next line.
pub const PERIOD: Duration = Duration::from_secs(10);

/// Whether an increase of counter `index` deserves a WARN line. ARP dropped because another
/// node owns the VIP (or the lease ran out, or a fence) is the normal life of a backup.
fn noteworthy(index: usize) -> bool {
    counter::SERIES.get(index).is_some_and(|s| {
        s.family == family::ADVERTS_DROPPED
            || s.family == family::BFD_DROPPED
            || (s.family == family::ARP_DROPPED && matches!(s.label, "unsupported" | "vlan"))
    })
}

/// Adds the noteworthy increases from `before` to `after` into `pending` (indexed like the
/// counters).
fn accumulate(before: &Counters, after: &Counters, pending: &mut [u64]) {
    for (i, slot) in pending.iter_mut().enumerate() {
        if noteworthy(i) {
            // A counter never goes back while the program is loaded; saturate if it ever did.
            *slot += after.0[i].saturating_sub(before.0[i]);
        }
    }
}

/// `name=count` for every nonzero entry of `pending`, in counter order.
fn summary(pending: &[u64]) -> String {
    pending
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n != 0)
        .map(|(i, n)| format!("{}={n}", counter::NAMES[i]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The watcher; stops when dropped.
pub struct KernelDrops {
    stop: Arc<AtomicBool>,
}

impl KernelDrops {
    /// Starts watching through `reader` (its own duplicated map handles).
    pub fn start(reader: MapReader) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("havip-drops".to_owned())
            .spawn(move || watch(&reader, &flag))?;
        Ok(Self { stop })
    }
}

impl Drop for KernelDrops {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn watch(reader: &MapReader, stop: &AtomicBool) {
    let Ok(mut last) = reader.counters() else {
        warn!("kernel counters unreadable: dropped adverts will not be logged");
        return;
    };
    let mut pending = vec![0u64; counter::COUNT as usize];
    let mut logged: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL);
        let Ok(now) = reader.counters() else { continue };
        accumulate(&last, &now, &mut pending);
        last = now;
        let due = logged.is_none_or(|t| t.elapsed() >= PERIOD);
        if due && pending.iter().any(|&n| n != 0) {
            warn!(
                dropped = %summary(&pending),
                "the XDP program dropped adverts or ARP naming a VIP (havip_xdp_adverts_dropped_total, havip_xdp_arp_dropped_total)"
            );
            pending.fill(0);
            logged = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(set: &[(u32, u64)]) -> Counters {
        let mut c = Counters([0; counter::COUNT as usize]);
        for &(i, v) in set {
            c.0[i as usize] = v;
        }
        c
    }

    #[test]
    fn only_drops_that_point_at_a_problem_are_summed() {
        let before = counters(&[(counter::VRRP_DROP_ADDRESSES, 3)]);
        let after = counters(&[
            (counter::VRRP_DROP_ADDRESSES, 10),
            (counter::ARP_DROP_NOT_OWNED, 50),
            (counter::ARP_DROP_UNSUPPORTED, 2),
            (counter::VLAN_DROP_VIP, 1),
            (counter::VRRP_ACCEPTED, 100),
        ]);
        let mut pending = vec![0; counter::COUNT as usize];
        accumulate(&before, &after, &mut pending);
        accumulate(&after, &after, &mut pending);
        let mut got: Vec<String> = summary(&pending).split(' ').map(str::to_owned).collect();
        got.sort();
        assert_eq!(
            got,
            [
                "arp_drop_unsupported=2",
                "vlan_drop_vip=1",
                "vrrp_drop_addresses=7"
            ]
        );
        assert!(summary(&pending).contains("vrrp_drop_addresses=7"));
        assert!(!summary(&pending).contains("not_owned"));
        assert!(!summary(&pending).contains("accepted"));
    }
}
