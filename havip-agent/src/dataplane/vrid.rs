//! Which VRRP instance of an interface a data-plane call is about: the VRID and the address
//! family, since an IPv4 and an IPv6 instance may share a VRID on one interface (RFC 9568 5.2.3;
//! keepalived runs such pairs). A bare `u8` stands for the IPv4 instance, so the IPv4 callers
//! stay as they were.

use havip_common::{VridKey, addr_family};

/// A VRID of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Vrid {
    /// Virtual router id, 1..=255.
    pub id: u8,
    /// [`addr_family`] of the instance.
    pub family: u8,
}

impl Vrid {
    /// The IPv4 instance `id`.
    #[must_use]
    pub const fn v4(id: u8) -> Self {
        Self {
            id,
            family: addr_family::IPV4,
        }
    }

    /// The IPv6 instance `id`.
    #[must_use]
    pub const fn v6(id: u8) -> Self {
        Self {
            id,
            family: addr_family::IPV6,
        }
    }

    /// The instance of `id` whose addresses are of `ip`'s family.
    #[must_use]
    pub const fn of(id: u8, ip: std::net::IpAddr) -> Self {
        match ip {
            std::net::IpAddr::V4(_) => Self::v4(id),
            std::net::IpAddr::V6(_) => Self::v6(id),
        }
    }

    /// Its key in the per-instance maps on `ifindex`.
    #[must_use]
    pub const fn key(self, ifindex: u32) -> VridKey {
        VridKey::new(ifindex, self.id, self.family)
    }
}

impl From<u8> for Vrid {
    /// A bare VRID is the IPv4 instance.
    fn from(id: u8) -> Self {
        Self::v4(id)
    }
}
