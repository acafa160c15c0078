//! `havip-bench scale` on the wire: when every VIP moved, read from frames rather than from ARP
//! sweeps. A packet socket in the bridge's namespace timestamps (in the kernel) every advert
//! entering from node a's port, per VRID, and the first gratuitous ARP for each VIP entering from
//! node b's port. Both implementations send a gratuitous ARP for a VIP as soon as it is theirs
//! (havip after the grant, keepalived after adding the address), so b's first GARP of a VIP is
//! the moment it moved, to within the sender's own delay. Per instance the protocol's bound is
//! a's last advert for its VRID + b's `Master_Down_Interval` (RFC 9568 6.4.2), so the overhead
//! of a takeover is told apart from the phase of the cut.

use std::{
    collections::HashMap,
    net::Ipv4Addr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use crate::{
    failover::{
        timeline::Stamp,
        wire::{drops, open_capture, recv_stamped},
    },
    netns::NetNs,
};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
/// IANA protocol number of VRRP (RFC 9568 5.1.1.4).
const IPPROTO_VRRP: u8 = 112;

/// What one frame is to this capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A VRRP advert (RFC 9568 5.1) for this VRID.
    Advert(u8),
    /// A gratuitous ARP (sender and target address equal) for this address.
    Garp(Ipv4Addr),
}

/// Classifies an Ethernet frame: VRRP advert with its VRID, or gratuitous ARP with its address.
#[must_use]
pub fn classify(frame: &[u8]) -> Option<Kind> {
    let ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    match ethertype {
        ETH_P_IP => {
            let ip = frame.get(14..)?;
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            if ihl < 20 || *ip.get(9)? != IPPROTO_VRRP {
                return None;
            }
            // RFC 9568 5.1: version/type, then the VRID.
            Some(Kind::Advert(*ip.get(ihl + 1)?))
        }
        ETH_P_ARP => {
            let spa: [u8; 4] = frame.get(28..32)?.try_into().ok()?;
            let tpa: [u8; 4] = frame.get(38..42)?.try_into().ok()?;
            (spa == tpa).then(|| Kind::Garp(Ipv4Addr::from(spa)))
        }
        _ => None,
    }
}

/// What the capture saw.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// a's last advert per VRID.
    pub last_advert_a: HashMap<u8, Stamp>,
    /// b's first gratuitous ARP per address.
    pub first_garp_b: HashMap<Ipv4Addr, Stamp>,
    /// Frames the kernel dropped for lack of buffer (set when stopped).
    pub lost: u32,
}

/// The takeover read from a [`Seen`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moved {
    /// From the cut to b's first GARP of the last VIP to move.
    pub all_moved: Duration,
    /// Per instance, its last VIP's first GARP minus its bound (a's last advert +
    /// `Master_Down_Interval`), ms: median over the instances.
    pub over_bound_median_ms: f64,
    /// The same, worst instance.
    pub over_bound_max_ms: f64,
}

/// Reads the takeover from `seen`: `vips` lists each VRID's addresses; `None` while a VIP has
/// not moved or a VRID had no advert before the cut.
#[must_use]
pub fn moved(
    seen: &Seen,
    vips: &[(u8, Vec<Ipv4Addr>)],
    cut: Stamp,
    master_down: Duration,
) -> Option<Moved> {
    let md = i64::try_from(master_down.as_nanos()).ok()?;
    let mut last = cut;
    let mut over = Vec::with_capacity(vips.len());
    for (vrid, addrs) in vips {
        let done = addrs
            .iter()
            .map(|a| seen.first_garp_b.get(a).copied())
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()?;
        let bound = seen.last_advert_a.get(vrid)? + md;
        last = last.max(done);
        // Nanoseconds to ms, exact enough for a table.
        #[expect(clippy::cast_precision_loss, reason = "a few seconds in ns fit an f64")]
        over.push((done - bound) as f64 / 1e6);
    }
    over.sort_by(f64::total_cmp);
    let median = *over.get(over.len() / 2)?;
    let max = *over.last()?;
    Some(Moved {
        all_moved: Duration::from_nanos(u64::try_from(last - cut).ok()?),
        over_bound_median_ms: median,
        over_bound_max_ms: max,
    })
}

/// A running capture on a's and b's bridge ports.
#[derive(Debug)]
pub struct TakeoverCapture {
    seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<anyhow::Result<u32>>>,
}

impl TakeoverCapture {
    /// Starts capturing in `bridge` on `port_a` (adverts) and `port_b` (gratuitous ARPs).
    pub fn start(bridge: &NetNs, port_a: &str, port_b: &str) -> anyhow::Result<Self> {
        let (pa, pb) = (port_a.to_owned(), port_b.to_owned());
        let (fd, ia, ib) = bridge.enter(move || {
            let ia = i32::try_from(havip_agent::net::iface::if_index(&pa)?)?;
            let ib = i32::try_from(havip_agent::net::iface::if_index(&pb)?)?;
            Ok((open_capture()?, ia, ib))
        })?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen_tx, stop_rx) = (Arc::clone(&seen), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while !stop_rx.load(Ordering::Relaxed) {
                let Some((len, ifindex, pkttype, at)) = recv_stamped(&fd, &mut buf)? else {
                    continue;
                };
                if pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                let kind = classify(buf.get(..len).unwrap_or_default());
                let Ok(mut s) = seen_tx.lock() else { break };
                match kind {
                    Some(Kind::Advert(vrid)) if ifindex == ia => {
                        s.last_advert_a.insert(vrid, at);
                    }
                    Some(Kind::Garp(addr)) if ifindex == ib => {
                        s.first_garp_b.entry(addr).or_insert(at);
                    }
                    _ => {}
                }
            }
            drops(&fd)
        });
        Ok(Self {
            seen,
            stop,
            thread: Some(thread),
        })
    }

    /// Whether b has sent a gratuitous ARP for every address in `vips`.
    #[must_use]
    pub fn all_garped(&self, vips: &[Ipv4Addr]) -> bool {
        self.seen
            .lock()
            .is_ok_and(|s| vips.iter().all(|v| s.first_garp_b.contains_key(v)))
    }

    /// Stops the capture and returns what it saw.
    pub fn stop(mut self) -> anyhow::Result<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        let lost = match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("capture thread panicked"))??,
            None => 0,
        };
        let mut seen = self
            .seen
            .lock()
            .map(|s| s.clone())
            .map_err(|_| anyhow::anyhow!("capture state poisoned"))?;
        seen.lost = lost;
        Ok(seen)
    }
}

impl Drop for TakeoverCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vrrp_frame(vrid: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12..14].copy_from_slice(&ETH_P_IP.to_be_bytes());
        f[14] = 0x45;
        f[14 + 9] = IPPROTO_VRRP;
        f[14 + 20] = 0x31;
        f[14 + 21] = vrid;
        f
    }

    fn arp_frame(spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
        let mut f = vec![0u8; 42];
        f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
        f[28..32].copy_from_slice(&spa.octets());
        f[38..42].copy_from_slice(&tpa.octets());
        f
    }

    #[test]
    fn adverts_carry_their_vrid_and_only_gratuitous_arp_counts() {
        let v = Ipv4Addr::new(198, 18, 0, 33);
        assert_eq!(classify(&vrrp_frame(7)), Some(Kind::Advert(7)));
        assert_eq!(classify(&arp_frame(v, v)), Some(Kind::Garp(v)));
        assert_eq!(classify(&arp_frame(Ipv4Addr::new(192, 0, 2, 1), v)), None);
        assert_eq!(classify(&vrrp_frame(7)[..30]), None);
    }

    #[test]
    fn each_instance_is_measured_against_its_own_last_advert() {
        const MS: i64 = 1_000_000;
        let (v1, v2, v3) = (
            Ipv4Addr::new(198, 18, 0, 32),
            Ipv4Addr::new(198, 18, 0, 33),
            Ipv4Addr::new(198, 18, 0, 64),
        );
        let mut seen = Seen::default();
        // VRID 1's last advert 50 ms before the cut, VRID 2's 10 ms before.
        seen.last_advert_a.insert(1, 950 * MS);
        seen.last_advert_a.insert(2, 990 * MS);
        seen.first_garp_b.insert(v1, 1_250 * MS + MS / 2);
        seen.first_garp_b.insert(v2, 1_251 * MS);
        seen.first_garp_b.insert(v3, 1_294 * MS);
        let vips = vec![(1, vec![v1, v2]), (2, vec![v3])];
        let m = moved(&seen, &vips, 1_000 * MS, Duration::from_millis(300)).expect("all moved");
        assert_eq!(m.all_moved, Duration::from_millis(294));
        // VRID 1: 1251 - 1250 = 1 ms over; VRID 2: 1294 - 1290 = 4 ms over.
        assert!((m.over_bound_max_ms - 4.0).abs() < 1e-9, "{m:?}");
        assert!((m.over_bound_median_ms - 4.0).abs() < 1e-9, "{m:?}");
        seen.first_garp_b.remove(&v3);
        assert_eq!(
            moved(&seen, &vips, 1_000 * MS, Duration::from_millis(300)),
            None
        );
    }
}
