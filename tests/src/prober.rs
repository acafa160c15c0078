//! An ARP prober over `AF_PACKET`: asks "who has VIP" on an interface and records which MACs
//! answer, over time. Collecting *every* reply to each probe is what lets a test see two owners.

use std::{
    io,
    net::Ipv4Addr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use anyhow::Context as _;

use crate::netns::NetNs;

const ETH_P_ARP: u16 = 0x0806;

/// One probe: when it was sent and the distinct MACs that answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Time since the prober's start.
    pub at: Duration,
    /// Distinct MACs that answered, in order of arrival.
    pub macs: Vec<[u8; 6]>,
}

/// A raw ARP socket bound to one interface in one namespace.
#[derive(Debug)]
pub struct ArpProber {
    fd: OwnedFd,
    ifindex: i32,
    mac: [u8; 6],
    src_ip: Ipv4Addr,
    start: Instant,
}

impl ArpProber {
    /// Opens a prober on `ifname` inside `ns`, sending from `src_ip`.
    pub fn open(ns: &NetNs, ifname: &str, src_ip: Ipv4Addr) -> anyhow::Result<Self> {
        let ifname = ifname.to_owned();
        let (fd, ifindex, mac) = ns.enter(move || {
            let index = havip_agent::net::iface::if_index(&ifname)?;
            let mac = havip_agent::net::iface::mac_of(&ifname)?;
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
            Ok((fd, i32::try_from(index)?, mac))
        })?;
        Ok(Self {
            fd,
            ifindex,
            mac,
            src_ip,
            start: Instant::now(),
        })
    }

    /// Broadcasts one ARP request for `target` and collects every reply for `window`.
    pub fn probe(&self, target: Ipv4Addr, window: Duration) -> anyhow::Result<Sample> {
        self.drain();
        let at = self.start.elapsed();
        let frame = request(self.mac, self.src_ip, target);
        // SAFETY: zeroed sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = u16::try_from(libc::AF_PACKET)?;
        sll.sll_protocol = ETH_P_ARP.to_be();
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        // SAFETY: valid buffer and address.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const sll).cast(),
                u32::try_from(size_of::<libc::sockaddr_ll>())?,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error()).context("sendto ARP request");
        }
        let deadline = Instant::now() + window;
        let mut macs = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if !self.wait_readable(left) {
                break;
            }
            while let Some(buf) = self.recv() {
                if let Some(mac) = parse_reply(&buf, target, self.src_ip)
                    && !macs.contains(&mac)
                {
                    macs.push(mac);
                }
            }
        }
        Ok(Sample { at, macs })
    }

    /// Probes `target` every `interval` for `total`, returning every sample.
    pub fn watch(
        &self,
        target: Ipv4Addr,
        interval: Duration,
        total: Duration,
    ) -> anyhow::Result<Vec<Sample>> {
        let end = Instant::now() + total;
        let mut out = Vec::new();
        while Instant::now() < end {
            out.push(self.probe(target, interval)?);
        }
        Ok(out)
    }

    /// Asks for every address of `targets` (in batches of `batch` requests, so the replies
    /// never overrun the socket's buffer) and collects every reply until `quiet` passes without
    /// one: address -> the distinct MACs that answered it. Unanswered addresses are absent.
    pub fn sweep(
        &self,
        targets: &[Ipv4Addr],
        batch: usize,
        quiet: Duration,
    ) -> anyhow::Result<std::collections::HashMap<Ipv4Addr, Vec<[u8; 6]>>> {
        // Room for a whole batch of replies (root may exceed rmem_max); without it the default
        // buffer holds a few hundred and the batch size would have to stay below that.
        let size: libc::c_int = 8 << 20;
        // SAFETY: setsockopt(2) with a valid int option of its size; failure only means a
        // smaller buffer, which the batch size still bounds.
        unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&raw const size).cast(),
                u32::try_from(size_of::<libc::c_int>())?,
            );
        }
        self.drain();
        let mut seen: std::collections::HashMap<Ipv4Addr, Vec<[u8; 6]>> =
            std::collections::HashMap::new();
        for chunk in targets.chunks(batch.max(1)) {
            for &t in chunk {
                self.send(&request(self.mac, self.src_ip, t))?;
            }
            while self.wait_readable(quiet) {
                while let Some(buf) = self.recv() {
                    if let Some((from, mac)) = parse_any_reply(&buf, self.src_ip) {
                        let macs = seen.entry(from).or_default();
                        if !macs.contains(&mac) {
                            macs.push(mac);
                        }
                    }
                }
            }
        }
        Ok(seen)
    }

    fn send(&self, frame: &[u8]) -> anyhow::Result<()> {
        // SAFETY: zeroed sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = u16::try_from(libc::AF_PACKET)?;
        sll.sll_protocol = ETH_P_ARP.to_be();
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        // SAFETY: valid buffer and address.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const sll).cast(),
                u32::try_from(size_of::<libc::sockaddr_ll>())?,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error()).context("sendto ARP request");
        }
        Ok(())
    }

    fn wait_readable(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(timeout.as_millis())
            .unwrap_or(i32::MAX)
            .max(1);
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&raw mut pfd, 1, ms) > 0 }
    }

    fn recv(&self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 1600];
        // SAFETY: valid writable buffer.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let n = usize::try_from(n).ok()?;
        buf.truncate(n);
        Some(buf)
    }

    fn drain(&self) {
        while self.recv().is_some() {}
    }
}

/// An Ethernet + ARP request frame (RFC 826) from `mac`/`src` asking for `target`.
#[must_use]
pub fn request(mac: [u8; 6], src: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// The sender MAC of an ARP reply from `target` to `us`, if `buf` is one.
#[must_use]
pub fn parse_reply(buf: &[u8], target: Ipv4Addr, us: Ipv4Addr) -> Option<[u8; 6]> {
    if buf.len() < 42 || buf[12..14] != ETH_P_ARP.to_be_bytes() || buf[20..22] != [0, 2] {
        return None;
    }
    let sha: [u8; 6] = buf[22..28].try_into().ok()?;
    let spa: [u8; 4] = buf[28..32].try_into().ok()?;
    let tpa: [u8; 4] = buf[38..42].try_into().ok()?;
    (spa == target.octets() && tpa == us.octets()).then_some(sha)
}

/// The sender address and MAC of an ARP reply to `us`, if `buf` is one.
#[must_use]
pub fn parse_any_reply(buf: &[u8], us: Ipv4Addr) -> Option<(Ipv4Addr, [u8; 6])> {
    let spa: [u8; 4] = buf.get(28..32)?.try_into().ok()?;
    let from = Ipv4Addr::from(spa);
    parse_reply(buf, from, us).map(|mac| (from, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_parsing() {
        let me = [2, 0, 0, 0, 0, 1];
        let src = Ipv4Addr::new(192, 0, 2, 1);
        let vip = Ipv4Addr::new(192, 0, 2, 200);
        let req = request(me, src, vip);
        assert_eq!(req.len(), 42);
        assert_eq!(
            parse_reply(&req, vip, src),
            None,
            "a request is not a reply"
        );
        let mut rep = req.clone();
        rep[20..22].copy_from_slice(&[0, 2]);
        rep[22..28].copy_from_slice(&[2, 0, 0, 0, 0, 9]);
        rep[28..32].copy_from_slice(&vip.octets());
        rep[38..42].copy_from_slice(&src.octets());
        assert_eq!(parse_reply(&rep, vip, src), Some([2, 0, 0, 0, 0, 9]));
        assert_eq!(parse_reply(&rep[..41], vip, src), None);
        assert_eq!(parse_any_reply(&rep, src), Some((vip, [2, 0, 0, 0, 0, 9])));
        assert_eq!(parse_any_reply(&req, src), None);
    }
}
