//! Watches a bridge for gratuitous ARP (sender IP = target IP), as the VPC does to move a HAVIP.

use std::{
    io,
    net::Ipv4Addr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use anyhow::Context as _;

use crate::netns::NetNs;

const ETH_P_ARP: u16 = 0x0806;

/// The sniffer thread; stopped and joined on drop.
#[derive(Debug)]
pub struct Sniffer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sniffer {
    /// Calls `seen(mac, ip)` for every gratuitous ARP on `ifname` of `ns`.
    pub fn start(
        ns: &NetNs,
        ifname: &str,
        seen: impl Fn([u8; 6], Ipv4Addr) + Send + 'static,
    ) -> anyhow::Result<Self> {
        let ifname = ifname.to_owned();
        let fd = ns.enter(move || open(&ifname))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                // SAFETY: valid fd and buffer; SO_RCVTIMEO bounds the wait.
                let n =
                    unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
                let Ok(n) = usize::try_from(n) else { continue };
                if let Some((mac, ip)) = gratuitous(&buf[..n]) {
                    seen(mac, ip);
                }
            }
        });
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Sniffer {
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
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ARP.to_be()),
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error()).context("AF_PACKET socket");
    }
    // SAFETY: fresh fd we own.
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
    let timeout = libc::timeval {
        tv_sec: 0,
        tv_usec: i64::try_from(Duration::from_millis(100).as_micros())?,
    };
    // SAFETY: valid option value of the right size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            u32::try_from(size_of::<libc::timeval>())?,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error()).context("SO_RCVTIMEO");
    }
    Ok(fd)
}

/// `(sender MAC, IP)` of a gratuitous ARP frame (request or reply with sender IP = target IP).
#[must_use]
pub fn gratuitous(f: &[u8]) -> Option<([u8; 6], Ipv4Addr)> {
    if f.len() < 42 || f[12..14] != [0x08, 0x06] || f[14..20] != [0, 1, 0x08, 0, 6, 4] {
        return None;
    }
    let (sender, target) = (&f[28..32], &f[38..42]);
    if sender != target {
        return None;
    }
    let mac: [u8; 6] = f[22..28].try_into().ok()?;
    let ip: [u8; 4] = sender.try_into().ok()?;
    Some((mac, Ipv4Addr::from(ip)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_the_agents_announcement_only() {
        let vip = Ipv4Addr::new(192, 0, 2, 200);
        let mac = [2, 0, 0, 0, 0, 1];
        let garp = havip_agent::net::garp::frame(mac, vip);
        assert_eq!(gratuitous(&garp), Some((mac, vip)));
        let mut request = garp;
        request[28..32].copy_from_slice(&[192, 0, 2, 1]);
        assert_eq!(gratuitous(&request), None);
        assert_eq!(gratuitous(&garp[..41]), None);
    }
}
