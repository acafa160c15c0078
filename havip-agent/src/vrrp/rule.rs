//! The agent's side of the shared election rule (`havip_common::rule`): what the kernel is told
//! about an instance ([`VridConfig`], turned into the [`VridState`] the XDP program checks
//! against), and the same [`VridState`] and [`Received`] facts built for the state machine, so
//! that [`crate::vrrp::Instance::check_advert`] and the XDP program call one function on one input.

use std::net::{IpAddr, Ipv6Addr};

use havip_common::{
    Addr, VridState, addr_family, auth_type,
    rule::{self, Received},
    vrid_flags,
};

use super::packet::{AdvertInterval, AdvertRepr, Auth, ChecksumMode};
use super::params::InstanceParams;

/// What the kernel needs to know about one VRRP instance, besides ownership: everything the
/// shared acceptance rule reads on the local side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VridConfig {
    /// This node's primary address on the interface (tie-break, own-advert detection, the
    /// destination of unicast adverts).
    pub primary_addr: IpAddr,
    /// Priority this node advertises now.
    pub priority: u8,
    /// VRRP version, 2 or 3.
    pub version: u8,
    /// Only accept adverts from [`crate::dataplane::Dataplane::allow_peer`] addresses, sent to
    /// `primary_addr` (not multicast).
    pub unicast_peers: bool,
    /// v3 checksum without the pseudo-header (keepalived `v3_checksum_as_v2`).
    pub v3_checksum_as_v2: bool,
    /// v2 simple password (keepalived `auth_type PASS`), up to 8 bytes.
    pub auth_pass: Option<[u8; 8]>,
    /// The configured advert interval as on the wire: v2 seconds, v3 centiseconds (v2 adverts
    /// must carry the same, RFC 3768 7.1).
    pub advert_interval: u16,
    /// The virtual addresses (adverts must list the same set unless sent by the owner).
    pub vips: Vec<IpAddr>,
    /// keepalived `auth_hmac`: adverts may carry the trailer, and the kernel never fences
    /// (the agent verifies, then revokes); `vrid_flags::AUTH_HMAC`.
    pub auth_hmac: bool,
}

impl VridConfig {
    /// The kernel's view of an instance with these parameters, advertising `priority`.
    #[must_use]
    pub fn from_params(params: &InstanceParams, priority: u8) -> Self {
        Self {
            primary_addr: params.primary_addr,
            priority,
            version: params.version.number(),
            unicast_peers: !params.unicast_peers.is_empty(),
            v3_checksum_as_v2: params.checksum_mode == ChecksumMode::V3AsV2,
            auth_pass: match params.auth {
                Auth::Simple(p) => Some(p),
                Auth::None => None,
            },
            advert_interval: AdvertInterval::from_duration(params.version, params.advert_interval)
                .map_or(0, wire_interval),
            vips: params.vips.clone(),
            // Not a state machine parameter: the daemon sets it from the configuration.
            auth_hmac: false,
        }
    }

    /// The local side of the rule: a [`VridState`] without grant or lease (those the data plane
    /// keeps). The one place configuration becomes what the rule compares against.
    #[must_use]
    pub fn state(&self) -> VridState {
        let mut flags = 0;
        if self.unicast_peers {
            flags |= vrid_flags::UNICAST_PEERS;
        }
        if self.v3_checksum_as_v2 {
            flags |= vrid_flags::V3_CHECKSUM_AS_V2;
        }
        if self.auth_hmac {
            flags |= vrid_flags::AUTH_HMAC;
        }
        let vips: Vec<Addr> = self.vips.iter().copied().map(abi_addr).collect();
        VridState {
            lease_until_ns: 0,
            grant_epoch: 0,
            addr_digest: rule::addr_digest(&vips),
            primary_addr: abi_addr(self.primary_addr),
            priority: self.priority,
            version: self.version,
            flags,
            auth_type: if self.auth_pass.is_some() {
                auth_type::SIMPLE
            } else {
                auth_type::NONE
            },
            auth_data: self.auth_pass.unwrap_or_default(),
            adver_int: self.advert_interval,
            // More than 255 addresses cannot be configured (ParamsError::TooManyVips); saturate
            // rather than wrap so such a list could never match an advert.
            naddr: u8::try_from(self.vips.len()).unwrap_or(u8::MAX),
            family: family_of(self.primary_addr),
            pad: [0; 8],
        }
    }
}

/// `ip` as the ABI stores it ([`havip_common::Addr`]): IPv6 as is, IPv4 mapped.
#[must_use]
pub fn abi_addr(ip: IpAddr) -> Addr {
    match ip {
        IpAddr::V4(a) => havip_common::v4_mapped(a.octets()),
        IpAddr::V6(a) => a.octets(),
    }
}

/// The address an ABI [`Addr`] stands for: an IPv4-mapped one is the IPv4 address (no IPv6
/// instance uses a mapped address: the config refuses one).
#[must_use]
pub fn ip_from_abi(a: Addr) -> IpAddr {
    let v6 = Ipv6Addr::from(a);
    v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
}

/// The ABI [`addr_family`] of `ip`.
#[must_use]
pub const fn family_of(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => addr_family::IPV4,
        IpAddr::V6(_) => addr_family::IPV6,
    }
}

/// An interval's value as on the wire (v2 seconds, v3 centiseconds).
#[must_use]
pub fn wire_interval(interval: AdvertInterval) -> u16 {
    match interval {
        AdvertInterval::Seconds(s) => u16::from(s.0),
        AdvertInterval::Centiseconds(cs) => cs.get(),
    }
}

/// The rule's facts about a decoded advert received from `src` to `dst` with IP `ttl`;
/// `peers` is the instance's unicast peer list. The codec already checked the type (it decodes
/// advertisements only) and the length.
#[must_use]
pub fn received(
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    advert: &AdvertRepr,
    peers: &[IpAddr],
) -> Received {
    // The codec decodes the addresses of the family it was given, so the list is all of the
    // instance's family; the rule digests their ABI forms as the kernel does.
    let addrs: Vec<Addr> = advert.addresses.iter().copied().map(abi_addr).collect();
    let (auth_type, auth_data) = match advert.auth {
        Auth::None => (auth_type::NONE, [0; 8]),
        Auth::Simple(p) => (auth_type::SIMPLE, p),
    };
    Received {
        src: abi_addr(src),
        dst: abi_addr(dst),
        ttl,
        version: advert.version.number(),
        kind: rule::TYPE_ADVERTISEMENT,
        priority: advert.priority,
        naddr: u8::try_from(advert.addresses.len()).unwrap_or(u8::MAX),
        auth_type,
        adver_int: wire_interval(advert.interval),
        len: u32::try_from(advert.buffer_len()).unwrap_or(u32::MAX),
        auth_data,
        addr_digest: rule::addr_digest(&addrs),
        peer_allowed: peers.contains(&src),
    }
}
