//! A Neighbor Discovery prober over `AF_PACKET`, the IPv6 twin of [`crate::prober::ArpProber`]:
//! sends a Neighbor Solicitation for a VIP and records every MAC that answers with a Neighbor
//! Advertisement. Collecting every answer to each probe is what lets a test see two owners.

use std::{
    io,
    net::Ipv6Addr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use anyhow::Context as _;

use crate::{frames6, netns::NetNs, prober::Sample};

const ETH_P_IPV6: u16 = 0x86dd;

/// A raw IPv6 socket bound to one interface in one namespace.
#[derive(Debug)]
pub struct NdpProber {
    fd: OwnedFd,
    ifindex: i32,
    mac: [u8; 6],
    src_ip: Ipv6Addr,
    start: Instant,
}

impl NdpProber {
    /// Opens a prober on `ifname` (whose MAC is `mac`) inside `ns`, soliciting from `src_ip`.
    /// The MAC is passed in: a thread that entered the namespace still sees the host's sysfs.
    pub fn open(ns: &NetNs, ifname: &str, mac: [u8; 6], src_ip: Ipv6Addr) -> anyhow::Result<Self> {
        let ifname = ifname.to_owned();
        let (fd, ifindex) = ns.enter(move || {
            let index = havip_agent::net::iface::if_index(&ifname)?;
            // SAFETY: plain socket(2).
            let raw = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                    i32::from(ETH_P_IPV6.to_be()),
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
            sll.sll_protocol = ETH_P_IPV6.to_be();
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
            Ok((fd, i32::try_from(index)?))
        })?;
        Ok(Self {
            fd,
            ifindex,
            mac,
            src_ip,
            start: Instant::now(),
        })
    }

    /// Sends one Neighbor Solicitation for `target` and collects every advertisement for it
    /// addressed to the prober for `window`.
    pub fn probe(&self, target: Ipv6Addr, window: Duration) -> anyhow::Result<Sample> {
        while self.recv().is_some() {}
        let at = self.start.elapsed();
        let frame = frames6::solicitation_from(self.mac, self.src_ip, target);
        // SAFETY: zeroed sockaddr_ll is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = u16::try_from(libc::AF_PACKET)?;
        sll.sll_protocol = ETH_P_IPV6.to_be();
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
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
            return Err(io::Error::last_os_error()).context("sendto Neighbor Solicitation");
        }
        let deadline = Instant::now() + window;
        let mut macs = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if !self.wait_readable(left) {
                break;
            }
            while let Some(buf) = self.recv() {
                if let Some(mac) = frames6::parse_advertisement(&buf, target, self.src_ip)
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
        target: Ipv6Addr,
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
}
