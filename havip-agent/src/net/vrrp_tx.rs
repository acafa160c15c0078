//! Sending VRRP adverts, bound to the interface. IPv4: a raw socket with `IP_HDRINCL`
//! (`IPPROTO_RAW`), so we write the IPv4 header exactly as keepalived does (TOS 0xc0, TTL 255,
//! protocol 112; RFC 9568 5.1.1.3 requires TTL 255). IPv6 (RFC 9568 5.1.2): a raw socket for
//! protocol 112 whose header the kernel writes: bound to the source address (the link-local
//! one, 5.1.2.1), hop limit 255 for unicast and multicast (5.1.2.3), traffic class 0xc0 as
//! keepalived sets it; the VRRP checksum (over the IPv6 pseudo-header, 5.2.8) is the codec's.
//! Neither receives: adverts arrive through the XDP program's ring buffer, and the IPv6 socket
//! (which the kernel would queue adverts to) drops everything with a socket filter.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

/// The VRRP multicast group (RFC 9568 5.1.1.2).
pub const VRRP_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group (RFC 9568 5.1.2.2).
pub const VRRP_GROUP6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// The group of `src`'s family.
#[must_use]
pub const fn group_of(src: IpAddr) -> IpAddr {
    match src {
        IpAddr::V4(_) => IpAddr::V4(VRRP_GROUP),
        IpAddr::V6(_) => IpAddr::V6(VRRP_GROUP6),
    }
}

/// A send-only raw socket on one interface.
#[derive(Debug)]
pub struct VrrpSocket {
    fd: OwnedFd,
    /// IPv6: the interface index, the scope of link-local destinations.
    scope_v6: Option<u32>,
}

/// IPv6 protocol number of VRRP (RFC 9568 5.1.2.4).
const IPPROTO_VRRP: i32 = 112;
/// `IPV6_FREEBIND` (linux/in6.h; not in every libc release).
const IPV6_FREEBIND: i32 = 78;
/// Traffic class keepalived gives adverts (the IPv4 TOS it writes, 0xc0).
const TCLASS: i32 = 0xc0;

fn check(rc: i32) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set_int(fd: &OwnedFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: valid int option.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            u32::try_from(size_of::<i32>()).unwrap_or(4),
        )
    })
}

fn bind_device(fd: &OwnedFd, ifname: &str) -> io::Result<()> {
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
    })
}

fn sockaddr6(addr: Ipv6Addr, scope: u32) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::sa_family_t::try_from(libc::AF_INET6).unwrap_or(10),
        sin6_port: 0,
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr {
            s6_addr: addr.octets(),
        },
        // Link-local addresses need their interface; others ignore it.
        sin6_scope_id: if addr.is_unicast_link_local() || addr.is_multicast() {
            scope
        } else {
            0
        },
    }
}

impl VrrpSocket {
    /// Opens the socket on `ifname` for adverts from `src` (its family picks the socket);
    /// with `join_group`, also joins the VRRP group there so a NIC that filters multicast MACs
    /// passes adverts up to the XDP program.
    pub fn open(ifname: &str, ifindex: u32, src: IpAddr, join_group: bool) -> io::Result<Self> {
        match src {
            IpAddr::V4(_) => Self::open4(ifname, ifindex, join_group),
            IpAddr::V6(src) => Self::open6(ifname, ifindex, src, join_group),
        }
    }

    /// The IPv6 socket (RFC 9568 5.1.2).
    fn open6(ifname: &str, ifindex: u32, src: Ipv6Addr, join_group: bool) -> io::Result<Self> {
        // SAFETY: plain socket(2).
        let raw = unsafe {
            libc::socket(
                libc::AF_INET6,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                IPPROTO_VRRP,
            )
        };
        check(raw)?;
        // SAFETY: fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // Receive nothing: a one-instruction classic BPF filter, `ret #0` (adverts come from
        // the XDP program; a queue behind a socket nobody reads would only hold memory).
        let mut drop_all = [libc::sock_filter {
            code: 0x06, // BPF_RET | BPF_K
            jt: 0,
            jf: 0,
            k: 0,
        }];
        let prog = libc::sock_fprog {
            len: 1,
            filter: drop_all.as_mut_ptr(),
        };
        // SAFETY: valid sock_fprog pointing at one instruction that outlives the call.
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&raw const prog).cast(),
                u32::try_from(size_of::<libc::sock_fprog>()).unwrap_or(16),
            )
        })?;
        bind_device(&fd, ifname)?;
        let idx =
            i32::try_from(ifindex).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // RFC 9568 5.1.2.3: hop limit 255, unicast and multicast alike.
        set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 255)?;
        set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, 255)?;
        set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, idx)?;
        set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, 0)?;
        set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, TCLASS)?;
        // A link-local address is tentative for a second after the link comes up (duplicate
        // address detection): bind it anyway (IPV6_FREEBIND, Linux 4.15), as the address is
        // the interface's own. Best effort: an older kernel binds once the address is valid.
        let _ = set_int(&fd, libc::IPPROTO_IPV6, IPV6_FREEBIND, 1);
        // The checksum covers the source address, so the kernel must use exactly this one.
        let sa = sockaddr6(src, ifindex);
        // SAFETY: valid sockaddr_in6.
        check(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const sa).cast(),
                u32::try_from(size_of::<libc::sockaddr_in6>()).unwrap_or(28),
            )
        })?;
        if join_group {
            let mreq = libc::ipv6_mreq {
                ipv6mr_multiaddr: libc::in6_addr {
                    s6_addr: VRRP_GROUP6.octets(),
                },
                ipv6mr_interface: ifindex,
            };
            // SAFETY: valid ipv6_mreq.
            check(unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::IPPROTO_IPV6,
                    libc::IPV6_ADD_MEMBERSHIP,
                    (&raw const mreq).cast(),
                    u32::try_from(size_of::<libc::ipv6_mreq>()).unwrap_or(20),
                )
            })?;
        }
        Ok(Self {
            fd,
            scope_v6: Some(ifindex),
        })
    }

    /// Whether [`Self::send`] takes the IP header with the message (IPv4) or the message
    /// alone (IPv6: the kernel writes the header).
    #[must_use]
    pub fn needs_header(&self) -> bool {
        self.scope_v6.is_none()
    }

    /// The IPv4 socket.
    fn open4(ifname: &str, ifindex: u32, join_group: bool) -> io::Result<Self> {
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
        bind_device(&fd, ifname)?;
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
        Ok(Self { fd, scope_v6: None })
    }

    /// Sends one advert to `dst`: an IPv4 packet with its header, or an IPv6 VRRP message
    /// (see [`Self::needs_header`]).
    pub fn send(&self, packet: &[u8], dst: IpAddr) -> io::Result<()> {
        let dst = match (dst, self.scope_v6) {
            (IpAddr::V4(dst), None) => dst,
            (IpAddr::V6(dst), Some(scope)) => return self.send6(packet, dst, scope),
            _ => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
        };
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

    fn send6(&self, message: &[u8], dst: Ipv6Addr, scope: u32) -> io::Result<()> {
        let sa = sockaddr6(dst, scope);
        // SAFETY: valid buffer and sockaddr_in6.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                message.as_ptr().cast(),
                message.len(),
                0,
                (&raw const sa).cast(),
                u32::try_from(size_of::<libc::sockaddr_in6>()).unwrap_or(28),
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
