//! The benchmark's eyes and hands on the wire: a packet socket in the bridge's namespace that
//! timestamps (in the kernel, `SO_TIMESTAMPNS`) every frame entering the client's and the two
//! nodes' bridge ports, the client's paced ARP probes, and a link switch that cuts a port with
//! one `ioctl` so the fault's timestamp is the moment the link goes down.

use std::{
    io,
    net::Ipv4Addr,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{Context as _, bail};

use super::timeline::{Frame, Port, Seen, Stamp};
use crate::{agents::FrameSender, netns::NetNs, prober};

const ETH_P_ALL: u16 = 0x0003;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
/// IANA protocol number of VRRP (RFC 9568 5.1.1.4).
const IPPROTO_VRRP: u8 = 112;

/// Classifies one Ethernet frame for the benchmark: adverts (RFC 9568 5.1), gratuitous ARP for
/// `vip`, and ARP between `client` and `vip` (RFC 826). Anything else (or anything too short) is
/// `None`.
#[must_use]
pub fn classify(frame: &[u8], vip: Ipv4Addr, client: Ipv4Addr) -> Option<Seen> {
    let ethertype = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    match ethertype {
        ETH_P_IP => {
            let ip = frame.get(14..)?;
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            if ihl < 20 || *ip.get(9)? != IPPROTO_VRRP {
                return None;
            }
            // RFC 9568 5.1: version/type, VRID, priority.
            let priority = *ip.get(ihl + 2)?;
            Some(Seen::Advert { priority })
        }
        ETH_P_ARP => {
            let op = frame.get(20..22)?;
            let spa: [u8; 4] = frame.get(28..32)?.try_into().ok()?;
            let tpa: [u8; 4] = frame.get(38..42)?.try_into().ok()?;
            let (vip, client) = (vip.octets(), client.octets());
            if spa == vip && tpa == vip {
                Some(Seen::Garp)
            } else if op == [0, 2] && spa == vip && tpa == client {
                Some(Seen::Answer)
            } else if op == [0, 1] && spa == client && tpa == vip {
                Some(Seen::Probe)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// A running capture: a thread appending classified frames until [`Capture::stop`].
#[derive(Debug)]
pub struct Capture {
    frames: Arc<Mutex<Vec<Frame>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<anyhow::Result<u32>>>,
}

impl Capture {
    /// Starts capturing in `bridge` (the bridge's namespace) on the ports named in `ports`.
    pub fn start(
        bridge: &NetNs,
        ports: [(Port, String); 3],
        vip: Ipv4Addr,
        client: Ipv4Addr,
    ) -> anyhow::Result<Self> {
        let (fd, index) = bridge.enter(move || {
            let mut index = Vec::new();
            for (port, name) in &ports {
                let i = havip_agent::net::iface::if_index(name)?;
                index.push((i32::try_from(i)?, *port));
            }
            Ok((open_capture()?, index))
        })?;
        let frames = Arc::new(Mutex::new(Vec::with_capacity(1 << 16)));
        let stop = Arc::new(AtomicBool::new(false));
        let (frames_tx, stop_rx) = (Arc::clone(&frames), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 128];
            while !stop_rx.load(Ordering::Relaxed) {
                let Some((len, ifindex, pkttype, at)) = recv_stamped(&fd, &mut buf)? else {
                    continue;
                };
                // Frames leaving a port were counted where they entered.
                if pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                let Some(port) = index.iter().find(|(i, _)| *i == ifindex).map(|(_, p)| *p) else {
                    continue;
                };
                if let Some(seen) = classify(buf.get(..len).unwrap_or_default(), vip, client)
                    && let Ok(mut v) = frames_tx.lock()
                {
                    v.push(Frame { at, port, seen });
                }
            }
            drops(&fd)
        });
        Ok(Self {
            frames,
            stop,
            thread: Some(thread),
        })
    }

    /// Takes the frames captured so far (the capture goes on with an empty list).
    #[must_use]
    pub fn take(&self) -> Vec<Frame> {
        self.frames
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// Whether `port` sent a frame `seen` after `after`.
    #[must_use]
    pub fn saw(&self, port: Port, seen: Seen, after: Stamp) -> bool {
        self.frames.lock().is_ok_and(|v| {
            v.iter()
                .rev()
                .take_while(|f| f.at > after)
                .any(|f| f.port == port && f.seen == seen)
        })
    }

    /// Stops the thread; returns the number of frames the kernel dropped for lack of buffer.
    pub fn stop(&mut self) -> anyhow::Result<u32> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("capture thread panicked"))?,
            None => Ok(0),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// An `AF_PACKET` socket for every protocol, with kernel timestamps, a large buffer and a
/// receive timeout (so the thread sees its stop flag).
pub(crate) fn open_capture() -> anyhow::Result<OwnedFd> {
    // SAFETY: plain socket(2).
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ALL.to_be()),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error()).context("AF_PACKET socket");
    }
    // SAFETY: a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    let buf: libc::c_int = 16 << 20;
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: 50_000,
    };
    setsockopt(&fd, libc::SO_TIMESTAMPNS, &one)?;
    // Root may exceed rmem_max; a failure only means the default size.
    let _ = setsockopt(&fd, libc::SO_RCVBUFFORCE, &buf);
    setsockopt(&fd, libc::SO_RCVTIMEO, &timeout)?;
    Ok(fd)
}

fn setsockopt<T>(fd: &OwnedFd, opt: libc::c_int, value: &T) -> anyhow::Result<()> {
    // SAFETY: `value` points to a live T of the size we pass.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            std::ptr::from_ref(value).cast(),
            u32::try_from(size_of::<T>())?,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error()).with_context(|| format!("setsockopt {opt}"));
    }
    Ok(())
}

/// One frame: (length copied, ifindex, packet type, kernel timestamp), or `None` on timeout.
pub(crate) fn recv_stamped(
    fd: &OwnedFd,
    buf: &mut [u8],
) -> anyhow::Result<Option<(usize, i32, u8, Stamp)>> {
    // SAFETY: zeroed sockaddr_ll and msghdr are valid out-parameters.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut sll).cast();
    msg.msg_namelen = u32::try_from(size_of::<libc::sockaddr_ll>())?;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control);
    // SAFETY: every pointer in `msg` is live for the call.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &raw mut msg, 0) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted => {
                Ok(None)
            }
            _ => Err(e).context("recvmsg"),
        };
    }
    let len = usize::try_from(n)?.min(buf.len());
    let mut at = None;
    // SAFETY: walking the control buffer the kernel filled, with the libc macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                at = Some(ts.tv_sec * 1_000_000_000 + ts.tv_nsec);
            }
            c = libc::CMSG_NXTHDR(&raw const msg, c);
        }
    }
    let Some(at) = at else {
        bail!("a captured frame came without its kernel timestamp");
    };
    Ok(Some((len, sll.sll_ifindex, sll.sll_pkttype, at)))
}

/// Frames the kernel dropped on this socket (`PACKET_STATISTICS`, reset by reading).
pub(crate) fn drops(fd: &OwnedFd) -> anyhow::Result<u32> {
    let mut stats = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = u32::try_from(size_of::<libc::tpacket_stats>())?;
    // SAFETY: valid out-pointer and its length.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            (&raw mut stats).cast(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error()).context("PACKET_STATISTICS");
    }
    Ok(stats.tp_drops)
}

/// Now on `CLOCK_REALTIME`, the clock of the capture's timestamps.
#[must_use]
pub fn now() -> Stamp {
    // SAFETY: zeroed timespec is a valid out-parameter.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &raw mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// The client's ARP probes for the VIP, sent every `every` on absolute `CLOCK_MONOTONIC`
/// deadlines (so a late wake-up does not shift every later probe). The interval can be changed
/// while it runs ([`Pacer::set_every`]): the bench probes slowly over the steady state and fast
/// from the fault on, where the first answer of the new master is measured. The thread's timer
/// slack is 1 ns (the default 50 us would blur a 100 us period).
#[derive(Debug)]
pub struct Pacer {
    stop: Arc<AtomicBool>,
    every_ns: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Pacer {
    /// Starts probing `vip` from `client` on `ifname` in `ns`.
    pub fn start(
        ns: &NetNs,
        ifname: &str,
        client: Ipv4Addr,
        vip: Ipv4Addr,
        every: Duration,
    ) -> anyhow::Result<Self> {
        let sender = FrameSender::open(ns, ifname)?;
        let frame = prober::request(sender.mac, client, vip);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_rx = Arc::clone(&stop);
        let every_ns = Arc::new(AtomicU64::new(
            u64::try_from(every.as_nanos()).context("probe interval")?,
        ));
        let every_rx = Arc::clone(&every_ns);
        let thread = std::thread::spawn(move || {
            // SAFETY: prctl(2) on the calling thread; a failure leaves the default slack.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1_u64, 0_u64, 0_u64, 0_u64) };
            // SAFETY: zeroed timespec is a valid out-parameter.
            let mut next: libc::timespec = unsafe { std::mem::zeroed() };
            // SAFETY: valid pointer.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut next) };
            while !stop_rx.load(Ordering::Relaxed) {
                // A failed send shows up as a missing probe in the capture.
                let _ = sender.send(&frame);
                let step = every_rx.load(Ordering::Relaxed);
                next.tv_nsec += libc::c_long::try_from(step).unwrap_or(1_000_000);
                while next.tv_nsec >= 1_000_000_000 {
                    next.tv_nsec -= 1_000_000_000;
                    next.tv_sec += 1;
                }
                // SAFETY: valid timespec; absolute sleep on the monotonic clock.
                unsafe {
                    libc::clock_nanosleep(
                        libc::CLOCK_MONOTONIC,
                        libc::TIMER_ABSTIME,
                        &raw const next,
                        std::ptr::null_mut(),
                    );
                }
            }
        });
        Ok(Self {
            stop,
            every_ns,
            thread: Some(thread),
        })
    }

    /// Probes every `every` from the next probe on.
    pub fn set_every(&self, every: Duration) {
        let ns = u64::try_from(every.as_nanos()).unwrap_or(u64::MAX);
        self.every_ns.store(ns, Ordering::Relaxed);
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sets a link of a namespace up or down with `SIOCSIFFLAGS` on a socket opened in that
/// namespace (an ioctl acts in its socket's namespace, whichever thread calls it).
#[derive(Debug)]
pub struct LinkSwitch {
    fd: OwnedFd,
}

impl LinkSwitch {
    /// A switch for links of `ns`.
    pub fn open(ns: &NetNs) -> anyhow::Result<Self> {
        let fd = ns.enter(|| {
            // SAFETY: plain socket(2).
            let raw =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
            if raw < 0 {
                return Err(io::Error::last_os_error()).context("AF_INET socket");
            }
            // SAFETY: a fresh fd we own.
            Ok(unsafe { OwnedFd::from_raw_fd(raw) })
        })?;
        Ok(Self { fd })
    }

    /// Sets `ifname` up or down; returns the time taken just before the change.
    pub fn set(&self, ifname: &str, up: bool) -> anyhow::Result<Stamp> {
        // SAFETY: zeroed ifreq is valid.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        let name = ifname.as_bytes();
        anyhow::ensure!(
            name.len() < req.ifr_name.len(),
            "interface name {ifname:?} too long"
        );
        for (d, s) in req.ifr_name.iter_mut().zip(name) {
            *d = libc::c_char::from_ne_bytes([*s]);
        }
        // SAFETY: valid ifreq for SIOCGIFFLAGS.
        if unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SIOCGIFFLAGS, &raw mut req) } != 0 {
            return Err(io::Error::last_os_error()).context("SIOCGIFFLAGS");
        }
        // SAFETY: the kernel filled the flags member of the union.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        let up_flag = libc::c_short::try_from(libc::IFF_UP)?;
        req.ifr_ifru.ifru_flags = if up {
            flags | up_flag
        } else {
            flags & !up_flag
        };
        let at = now();
        // SAFETY: valid ifreq for SIOCSIFFLAGS.
        if unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SIOCSIFFLAGS, &raw mut req) } != 0 {
            return Err(io::Error::last_os_error()).context("SIOCSIFFLAGS");
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 200);
    const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    fn arp(op: u8, spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
        let mut f = prober::request([2, 0, 0, 0, 0, 9], spa, tpa);
        f[21] = op;
        f
    }

    #[test]
    fn adverts_arp_and_garp_are_told_apart() {
        // keepalived's advert as captured (TOOLCHAIN.md), behind an Ethernet header.
        let mut advert = vec![0u8; 14];
        advert[12..14].copy_from_slice(&[0x08, 0x00]);
        advert.extend_from_slice(&[
            0x45, 0xc0, 0x00, 0x28, 0x00, 0x02, 0x00, 0x00, 0xff, 0x70, 0x36, 0x8c, 0xc0, 0x00,
            0x02, 0x0b, 0xc0, 0x00, 0x02, 0x0c, 0x21, 0x33, 0x96, 0x01, 0x00, 0x01, 0x86, 0x01,
            0xc0, 0x00, 0x02, 0xc8,
        ]);
        assert_eq!(
            classify(&advert, VIP, CLIENT),
            Some(Seen::Advert { priority: 150 })
        );
        assert_eq!(
            classify(&advert[..36], VIP, CLIENT),
            None,
            "cut before the priority"
        );
        let mut udp = advert.clone();
        udp[14 + 9] = 17;
        assert_eq!(classify(&udp, VIP, CLIENT), None);

        assert_eq!(
            classify(&arp(1, CLIENT, VIP), VIP, CLIENT),
            Some(Seen::Probe)
        );
        assert_eq!(
            classify(&arp(2, VIP, CLIENT), VIP, CLIENT),
            Some(Seen::Answer)
        );
        assert_eq!(classify(&arp(1, VIP, VIP), VIP, CLIENT), Some(Seen::Garp));
        assert_eq!(classify(&arp(2, VIP, VIP), VIP, CLIENT), Some(Seen::Garp));
        let other = Ipv4Addr::new(192, 0, 2, 11);
        assert_eq!(classify(&arp(2, other, CLIENT), VIP, CLIENT), None);
        assert_eq!(classify(&arp(1, CLIENT, other), VIP, CLIENT), None);
        assert_eq!(classify(&arp(2, VIP, CLIENT)[..41], VIP, CLIENT), None);
        assert_eq!(classify(&[], VIP, CLIENT), None);
    }
}
