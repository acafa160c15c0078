//! Interface facts from the kernel: index, MAC address, driver name.

use std::{
    ffi::CString,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

/// Errors looking up an interface.
#[derive(Debug, thiserror::Error)]
pub enum IfaceError {
    /// The name is not a valid interface name.
    #[error("invalid interface name {name:?}")]
    BadName {
        /// The name given.
        name: String,
    },
    /// No such interface in this network namespace.
    #[error("no interface named {name:?} in this network namespace")]
    NotFound {
        /// The name given.
        name: String,
    },
    /// Reading the interface's MAC failed.
    #[error("cannot read the MAC address of {name}: {source}")]
    Mac {
        /// The interface.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// A resolved interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Its name.
    pub name: String,
    /// Its index.
    pub index: u32,
    /// Its MAC address.
    pub mac: [u8; 6],
}

impl Interface {
    /// Looks `name` up in the current network namespace.
    pub fn by_name(name: &str) -> Result<Self, IfaceError> {
        let index = if_index(name)?;
        let mac = mac_of(name)?;
        Ok(Self {
            name: name.to_owned(),
            index,
            mac,
        })
    }
}

/// The index of interface `name`.
pub fn if_index(name: &str) -> Result<u32, IfaceError> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('/') {
        return Err(IfaceError::BadName {
            name: name.to_owned(),
        });
    }
    let c = CString::new(name).map_err(|_| IfaceError::BadName {
        name: name.to_owned(),
    })?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if index == 0 {
        return Err(IfaceError::NotFound {
            name: name.to_owned(),
        });
    }
    Ok(index)
}

/// The MAC address of interface `name`, from sysfs.
pub fn mac_of(name: &str) -> Result<[u8; 6], IfaceError> {
    let path = format!("/sys/class/net/{name}/address");
    let text = std::fs::read_to_string(&path).map_err(|source| IfaceError::Mac {
        name: name.to_owned(),
        source,
    })?;
    parse_mac(text.trim()).ok_or_else(|| IfaceError::Mac {
        name: name.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidData, format!("bad MAC {text:?}")),
    })
}

/// Parses `aa:bb:cc:dd:ee:ff`.
#[must_use]
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
#[must_use]
pub fn format_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The kernel driver behind `name` (`veth`, `virtio_net`, ...), via `ETHTOOL_GDRVINFO`.
pub fn driver_of(name: &str) -> io::Result<String> {
    const ETHTOOL_GDRVINFO: u32 = 0x0000_0003;
    #[repr(C)]
    struct DrvInfo {
        cmd: u32,
        driver: [u8; 32],
        version: [u8; 32],
        fw_version: [u8; 32],
        bus_info: [u8; 32],
        erom_version: [u8; 32],
        reserved2: [u8; 12],
        n_priv_flags: u32,
        n_stats: u32,
        testinfo_len: u32,
        eedump_len: u32,
        regdump_len: u32,
    }
    #[repr(C)]
    struct IfReq {
        name: [u8; libc::IFNAMSIZ],
        data: *mut DrvInfo,
        pad: [u8; 16],
    }
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "name too long"));
    }
    let mut info = DrvInfo {
        cmd: ETHTOOL_GDRVINFO,
        driver: [0; 32],
        version: [0; 32],
        fw_version: [0; 32],
        bus_info: [0; 32],
        erom_version: [0; 32],
        reserved2: [0; 12],
        n_priv_flags: 0,
        n_stats: 0,
        testinfo_len: 0,
        eedump_len: 0,
        regdump_len: 0,
    };
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        data: &raw mut info,
        pad: [0; 16],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: plain socket call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `req` is a valid ifreq whose data points at a valid ethtool_drvinfo.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, &raw mut req) };
    let err = io::Error::last_os_error();
    // SAFETY: `fd` is ours.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(err);
    }
    let end = info.driver.iter().position(|&b| b == 0).unwrap_or(32);
    Ok(String::from_utf8_lossy(&info.driver[..end]).into_owned())
}

/// The first IPv4 address configured on `name`, if any (the VRRP primary address by default).
pub fn primary_ipv4(name: &str) -> io::Result<Option<Ipv4Addr>> {
    first_addr(name, |a| match a {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    })
}

/// The first link-local (`fe80::/10`) IPv6 address of `name`, if any: the source of an IPv6
/// instance's adverts by default (RFC 9568 5.1.2.1: "the IPv6 link-local address of the
/// interface over which the packet is transmitted"; keepalived does the same).
pub fn link_local_ipv6(name: &str) -> io::Result<Option<Ipv6Addr>> {
    first_addr(name, |a| match a {
        IpAddr::V6(a) if a.is_unicast_link_local() => Some(a),
        _ => None,
    })
}

/// The first address of `name` (in the kernel's order) that `pick` accepts, as it returns it.
fn first_addr<T>(name: &str, pick: impl Fn(IpAddr) -> Option<T>) -> io::Result<Option<T>> {
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `ifap` is a valid out-pointer; freed below.
    if unsafe { libc::getifaddrs(&raw mut ifap) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = None;
    let mut cur = ifap;
    while !cur.is_null() {
        // SAFETY: `cur` walks the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: non-null, NUL-terminated name from the kernel.
        let ifname = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if ifname.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: non-null sockaddr.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        let addr = if family == libc::AF_INET {
            // SAFETY: family is AF_INET so this is a sockaddr_in.
            let sin = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in>() };
            IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
        } else if family == libc::AF_INET6 {
            // SAFETY: family is AF_INET6 so this is a sockaddr_in6.
            let sin6 = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in6>() };
            IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
        } else {
            continue;
        };
        if let Some(v) = pick(addr) {
            found = Some(v);
            break;
        }
    }
    // SAFETY: `ifap` came from getifaddrs.
    unsafe { libc::freeifaddrs(ifap) };
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trip_and_rejects() {
        let mac = parse_mac("02:00:5e:00:01:33").expect("valid");
        assert_eq!(mac, [2, 0, 0x5e, 0, 1, 0x33]);
        assert_eq!(format_mac(mac), "02:00:5e:00:01:33");
        assert_eq!(parse_mac("02:00:5e:00:01"), None);
        assert_eq!(parse_mac("02:00:5e:00:01:33:44"), None);
        assert_eq!(parse_mac("zz:00:5e:00:01:33"), None);
    }

    #[test]
    fn bad_names_are_errors() {
        assert!(matches!(if_index(""), Err(IfaceError::BadName { .. })));
        assert!(matches!(if_index("a/b"), Err(IfaceError::BadName { .. })));
        assert!(matches!(
            if_index("havip-no-such-if"),
            Err(IfaceError::BadName { .. } | IfaceError::NotFound { .. })
        ));
    }
}
