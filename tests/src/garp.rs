//! Gratuitous ARP capture and schedule comparison: an `AF_PACKET` socket in one namespace records
//! every ARP frame with its arrival time on a background thread; [`rounds`] groups a node's
//! gratuitous ARPs for a VIP into bursts, so the schedule of two implementations (keepalived's
//! `garp_master_delay` / `garp_master_refresh` rounds) can be compared as data.

use std::{
    io,
    net::Ipv4Addr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::Context as _;

use crate::netns::NetNs;

const ETH_P_ARP: u16 = 0x0806;
/// The capture thread stops by itself after this long, whatever the test does.
const MAX_CAPTURE: Duration = Duration::from_secs(300);

/// One captured ARP frame.
#[derive(Clone, Debug)]
pub struct Captured {
    /// When it arrived.
    pub at: Instant,
    /// The whole Ethernet frame.
    pub frame: Vec<u8>,
}

/// Records every ARP frame seen on one interface until dropped (or [`MAX_CAPTURE`]).
#[derive(Debug)]
pub struct ArpCapture {
    frames: Arc<Mutex<Vec<Captured>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ArpCapture {
    /// Starts capturing on `ifname` inside `ns`.
    pub fn start(ns: &NetNs, ifname: &str) -> anyhow::Result<Self> {
        let ifname = ifname.to_owned();
        let fd = ns.enter(move || open(&ifname))?;
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (Arc::clone(&frames), Arc::clone(&stop));
        let thread = std::thread::spawn(move || capture(&fd, &f, &s));
        Ok(Self {
            frames,
            stop,
            thread: Some(thread),
        })
    }

    /// Every frame so far.
    #[must_use]
    pub fn frames(&self) -> Vec<Captured> {
        self.frames.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Arrival times of the gratuitous ARPs (any opcode) from `mac` announcing `vip`, at or
    /// after `since`.
    #[must_use]
    pub fn gratuitous(&self, mac: [u8; 6], vip: Ipv4Addr, since: Instant) -> Vec<Instant> {
        self.frames()
            .iter()
            .filter(|c| c.at >= since && is_gratuitous(&c.frame, mac, vip))
            .map(|c| c.at)
            .collect()
    }
}

impl Drop for ArpCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn open(ifname: &str) -> anyhow::Result<OwnedFd> {
    let index = havip_agent::net::iface::if_index(ifname)?;
    // SAFETY: plain socket(2).
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            i32::from(ETH_P_ARP.to_be()),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error()).context("AF_PACKET socket");
    }
    // SAFETY: `raw` is a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: zeroed sockaddr_ll is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = u16::try_from(libc::AF_PACKET)?;
    sll.sll_protocol = ETH_P_ARP.to_be();
    sll.sll_ifindex = i32::try_from(index)?;
    // SAFETY: valid sockaddr_ll of the right size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const sll).cast(),
            u32::try_from(size_of::<libc::sockaddr_ll>())?,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error()).context("bind AF_PACKET");
    }
    Ok(fd)
}

fn capture(fd: &OwnedFd, frames: &Mutex<Vec<Captured>>, stop: &AtomicBool) {
    let end = Instant::now() + MAX_CAPTURE;
    let mut buf = vec![0u8; 1600];
    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; 50 ms so a stop request is seen promptly.
        if unsafe { libc::poll(&raw mut pfd, 1, 50) } <= 0 {
            continue;
        }
        loop {
            // SAFETY: valid writable buffer.
            let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            let Ok(n) = usize::try_from(n) else {
                break;
            };
            let at = Instant::now();
            if let Ok(mut f) = frames.lock() {
                f.push(Captured {
                    at,
                    frame: buf[..n].to_vec(),
                });
            }
        }
    }
}

/// Whether `frame` is a gratuitous ARP (RFC 5227 3: sender and target protocol address both the
/// announced address) from `mac` for `vip`, request or reply.
#[must_use]
pub fn is_gratuitous(frame: &[u8], mac: [u8; 6], vip: Ipv4Addr) -> bool {
    frame.len() >= 42
        && frame[12..14] == ETH_P_ARP.to_be_bytes()
        && frame[22..28] == mac
        && frame[28..32] == vip.octets()
        && frame[38..42] == vip.octets()
}

/// One burst of gratuitous ARPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    /// Start, relative to the first ARP of the schedule.
    pub offset: Duration,
    /// ARPs in the burst.
    pub count: usize,
}

/// Groups `times` (ascending) into rounds: a gap longer than `gap` starts a new round. Only
/// ARPs within `window` of the first are kept, so two schedules are compared over equal spans.
#[must_use]
pub fn rounds(times: &[Instant], gap: Duration, window: Duration) -> Vec<Round> {
    let Some(&first) = times.first() else {
        return Vec::new();
    };
    let mut out: Vec<Round> = Vec::new();
    let mut last = first;
    for &t in times {
        let offset = t.duration_since(first);
        if offset >= window {
            break;
        }
        match out.last_mut() {
            Some(r) if t.duration_since(last) <= gap => r.count += 1,
            _ => out.push(Round { offset, count: 1 }),
        }
        last = t;
    }
    out
}

/// Why two schedules differ, if they do: the same number of rounds, the same count in each, and
/// start offsets within `tolerance` of each other.
#[must_use]
pub fn schedule_mismatch(
    ours: &[Round],
    reference: &[Round],
    tolerance: Duration,
) -> Option<String> {
    if ours.len() != reference.len() {
        return Some(format!(
            "{} rounds against {}: {ours:?} vs {reference:?}",
            ours.len(),
            reference.len()
        ));
    }
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        if a.count != b.count {
            return Some(format!("round {i}: {} ARPs against {}", a.count, b.count));
        }
        if a.offset.abs_diff(b.offset) > tolerance {
            return Some(format!(
                "round {i}: at {:?} against {:?} (tolerance {tolerance:?})",
                a.offset, b.offset
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gratuitous_arps_are_recognised() {
        let mac = [2, 0, 0, 0, 0, 7];
        let vip = Ipv4Addr::new(192, 0, 2, 3);
        let garp = crate::frames::arp(1, mac, vip, [0; 6], vip);
        assert!(is_gratuitous(&garp, mac, vip));
        assert!(
            !is_gratuitous(&garp, [2, 0, 0, 0, 0, 8], vip),
            "other sender"
        );
        let probe = crate::frames::arp(1, mac, Ipv4Addr::new(192, 0, 2, 1), [0; 6], vip);
        assert!(!is_gratuitous(&probe, mac, vip), "a request for the VIP");
        assert!(!is_gratuitous(&garp[..41], mac, vip), "truncated");
    }

    #[test]
    fn bursts_group_into_rounds() {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let times: Vec<Instant> = [0, 1, 2, 1000, 1001, 5200, 10_300, 15_000]
            .into_iter()
            .map(ms)
            .collect();
        let r = rounds(&times, Duration::from_millis(300), Duration::from_secs(14));
        let want = [(0, 3), (1000, 2), (5200, 1), (10_300, 1)].map(|(o, count)| Round {
            offset: Duration::from_millis(o),
            count,
        });
        assert_eq!(r, want);
        let tol = Duration::from_millis(500);
        assert_eq!(schedule_mismatch(&r, &want, tol), None);
        let mut late = want;
        late[2].offset += Duration::from_secs(1);
        assert!(schedule_mismatch(&r, &late, tol).is_some());
        let mut fewer = want;
        fewer[0].count = 5;
        assert!(schedule_mismatch(&r, &fewer, tol).is_some());
        assert!(schedule_mismatch(&r, &want[..3], tol).is_some());
        assert_eq!(rounds(&[], tol, tol), Vec::new());
    }
}
