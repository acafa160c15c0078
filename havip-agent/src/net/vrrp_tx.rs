//! Sending VRRP adverts: a raw IPv4 socket with `IP_HDRINCL` (`IPPROTO_RAW`), bound to the
//! interface, so we write the IPv4 header exactly as keepalived does (TOS 0xc0, TTL 255, protocol
//! 112; RFC 9568 5.1.1.3 requires TTL 255). It never receives: adverts arrive through the XDP
//! program's ring buffer.

use std::{
    io,
    net::Ipv4Addr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

/// The VRRP multicast group (RFC 9568 5.1.1.2).
pub const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// A send-only raw socket on one interface.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: OwnedFd,
}

fn check(rc: i32) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl VrrpSocket {
    /// Opens the socket on `ifname`; with `join_group`, also joins 224.0.0.18 there so a NIC
    /// that filters multicast MACs passes adverts up to the XDP program.
    pub fn open(ifname: &str, ifindex: u32, join_group: bool) -> io::Result<Self> {
        // SAFETY: plain socket(2).
        let raw = unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::IPPROTO_RAW,
            )
        };
        check(raw)?;
        // SAFETY: fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let name = ifname.as_bytes();
        // SAFETY: valid buffer and length.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                name.as_ptr().cast(),
                u32::try_from(name.len()).unwrap_or(0),
            )
        })?;
        let idx =
            i32::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mreqn = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr {
                s_addr: u32::from(VRRP_GROUP).to_be(),
            },
            imr_address: libc::in_addr { s_addr: 0 },
            imr_ifindex: idx,
        };
        let len = u32::try_from(size_of::<libc::ip_mreqn>()).unwrap_or(12);
        // SAFETY: valid ip_mreqn.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_IF,
                (&raw const mreqn).cast(),
                len,
            )
        })?;
        if join_group {
            // SAFETY: valid ip_mreqn.
            check(unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_ADD_MEMBERSHIP,
                    (&raw const mreqn).cast(),
                    len,
                )
            })?;
        }
        Ok(Self { fd })
    }

    /// Sends one IPv4 packet (header included) to `dst`.
    pub fn send(&self, packet: &[u8], dst: Ipv4Addr) -> io::Result<()> {
        let sin = libc::sockaddr_in {
            sin_family: libc::sa_family_t::try_from(libc::AF_INET).unwrap_or(2),
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(dst).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: valid buffer and sockaddr_in.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&raw const sin).cast(),
                u32::try_from(size_of::<libc::sockaddr_in>()).unwrap_or(16),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
