//! The election rule, once: which adverts are accepted (RFC 9568 7.1, RFC 3768 7.1, and what
//! keepalived's `vrrp_check_packet` adds) and which accepted advert ends mastership (RFC 9568
//! 6.4.3). The XDP program and the agent's state machine both call these functions with the same
//! [`VridState`], so the kernel fences on exactly the adverts the state machine acts on: an advert
//! one of them rejects is rejected by both, counted, and never fences.
//!
//! Checks that need the bytes on the wire and nothing of the configuration (IPv4 header checksum,
//! fragments, VRRP checksum, truncation) stay with each side's parser: the kernel counts them, the
//! agent's codec refuses to decode such a message.
//!
//! One rule for both families: addresses are [`Addr`]s (IPv4 mapped), and the instance's
//! [`VridState::family`] says which group, which address size and which multicast test apply.
//!
//! Plain `const fn`s on integers and byte arrays: `no_std`, no allocation, verifier friendly.

// The XDP program calls these: a call the compiler leaves out of line becomes a BPF
// subprogram, and the loader then brings the whole `.text` section along with it.
#![expect(
    clippy::inline_always,
    reason = "helpers of the XDP program's fast path, kept inside its one function"
)]

use crate::{
    AUTH_TRAILER_LEN, Addr, VridState, addr_family, auth_type, counter, v4_mapped, vrid_flags,
};

/// The VRRP IPv4 multicast group, 224.0.0.18 (RFC 9568 5.1.1.2), mapped.
pub const VRRP_GROUP: Addr = v4_mapped([224, 0, 0, 18]);
/// The VRRP IPv6 multicast group, `ff02::12` (RFC 9568 5.1.2.2).
pub const VRRP_GROUP6: Addr = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
/// Priority of the address owner (RFC 9568 5.2.4).
pub const PRIORITY_OWNER: u8 = 255;
/// Priority a leaving master advertises (RFC 9568 5.2.4).
pub const PRIORITY_SHUTDOWN: u8 = 0;
/// The only VRRP message type (RFC 9568 5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Fixed VRRP header length.
pub const HEADER_LEN: u32 = 8;
/// Length of the v2 authentication data after the addresses (RFC 3768 5.3.10).
pub const V2_AUTH_LEN: u32 = 8;
/// The largest address count whose advert fits [`crate::MAX_VRRP_LEN`] (v3, no auth data).
pub const MAX_ADDRESSES: u32 = 30;
const _: () = assert!(expected_len(addr_family::IPV4, 3, 30) as usize == crate::MAX_VRRP_LEN);
/// The largest IPv6 address count whose advert fits [`crate::MAX_VRRP_LEN`].
pub const MAX_ADDRESSES6: u8 = 7;
const _: () =
    assert!(expected_len(addr_family::IPV6, 3, MAX_ADDRESSES6) as usize <= crate::MAX_VRRP_LEN);

/// Why an advert is rejected. Each reason is one kernel counter ([`Reject::counter`]) and, in the
/// agent, one `AdvertRejected` variant with the same label ([`Reject::label`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// IPv4 TTL or IPv6 hop limit is not 255 (RFC 9568 7.1, RFC 3768 7.1).
    Ttl,
    /// Version differs from the instance's (RFC 9568 7.1).
    Version,
    /// Type is not ADVERTISEMENT (RFC 9568 5.2.2).
    Type,
    /// Message length disagrees with the address count (RFC 9568 7.1: "MUST verify that the
    /// received packet contains the complete VRRP packet").
    Length,
    /// Our own advert (source is our primary address).
    Own,
    /// Source is not one of the unicast peers (keepalived `unicast_peer`).
    UnknownPeer,
    /// A multicast destination on an instance with unicast peers (keepalived
    /// `vrrp_check_packet`: "Expected unicast packet but received multicast packet").
    MulticastOnUnicast,
    /// Destination is neither our address (unicast) nor the group, 224.0.0.18 or `ff02::12`
    /// (multicast).
    Destination,
    /// v2 authentication type or data differs (RFC 3768 7.1).
    Auth,
    /// v2 advert interval differs from ours (RFC 3768 7.1: MUST discard), or the interval is
    /// zero (either version).
    Interval,
    /// Address list differs and the sender is not the owner (RFC 9568 7.1, RFC 3768 7.1), or a
    /// v3 advert lists none.
    Addresses,
}

impl Reject {
    /// Every reason, in the order the checks run.
    pub const ALL: [Self; 11] = [
        Self::Ttl,
        Self::Version,
        Self::Type,
        Self::Length,
        Self::Own,
        Self::UnknownPeer,
        Self::MulticastOnUnicast,
        Self::Destination,
        Self::Auth,
        Self::Interval,
        Self::Addresses,
    ];

    /// The kernel counter of this reason.
    pub const fn counter(self) -> u32 {
        match self {
            Self::Ttl => counter::VRRP_DROP_TTL,
            Self::Version => counter::VRRP_DROP_VERSION,
            Self::Type => counter::VRRP_DROP_TYPE,
            Self::Length => counter::VRRP_DROP_LENGTH,
            Self::Own => counter::VRRP_DROP_OWN,
            Self::UnknownPeer => counter::VRRP_DROP_UNKNOWN_PEER,
            Self::MulticastOnUnicast => counter::VRRP_DROP_MULTICAST_ON_UNICAST,
            Self::Destination => counter::VRRP_DROP_DESTINATION,
            Self::Auth => counter::VRRP_DROP_AUTH,
            Self::Interval => counter::VRRP_DROP_INTERVAL,
            Self::Addresses => counter::VRRP_DROP_ADDRESSES,
        }
    }

    /// The label of this reason: the kernel counter's label in its metric family.
    pub const fn label(self) -> &'static str {
        counter::SERIES[self.counter() as usize].label
    }
}

/// What the rule reads of one received advert. The kernel fills it from the frame, the agent
/// from the decoded advert and the IP header facts the kernel delivered with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Received {
    /// IP source ([`Addr`], in the instance's family).
    pub src: Addr,
    /// IP destination ([`Addr`], in the instance's family).
    pub dst: Addr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// VRRP version nibble.
    pub version: u8,
    /// VRRP type nibble.
    pub kind: u8,
    /// Priority.
    pub priority: u8,
    /// Count of addresses field.
    pub naddr: u8,
    /// v2 Auth Type byte (0 for v3).
    pub auth_type: u8,
    /// Advert interval as on the wire: v2 seconds, v3 centiseconds.
    pub adver_int: u16,
    /// VRRP message length as received (IP total length minus the IP header).
    pub len: u32,
    /// v2 authentication data (zero for v3).
    pub auth_data: [u8; 8],
    /// [`addr_digest`] of the advert's addresses.
    pub addr_digest: u64,
    /// Whether the source is in the instance's unicast peer list (ignored without one).
    pub peer_allowed: bool,
}

/// Expected VRRP message length for `version` with `naddr` addresses of `family` (RFC 9568
/// 5.2.9: 4 bytes per IPv4 and 16 per IPv6 address; v2 is IPv4 only).
#[inline(always)]
pub const fn expected_len(family: u8, version: u8, naddr: u8) -> u32 {
    let auth = if version == 2 { V2_AUTH_LEN } else { 0 };
    let size = if family == addr_family::IPV6 { 16 } else { 4 };
    HEADER_LEN + naddr as u32 * size + auth
}

/// [`AUTH_TRAILER_LEN`] as the rule's length type.
#[expect(clippy::cast_possible_truncation, reason = "28 fits any integer")]
const TRAILER: u32 = AUTH_TRAILER_LEN as u32;

/// Whether the instance takes adverts with an `auth_hmac` trailer ([`vrid_flags::AUTH_HMAC`]).
#[inline(always)]
pub const fn has_trailer_room(local: &VridState) -> bool {
    local.flags & vrid_flags::AUTH_HMAC != 0
}

/// Whether `addr` of `family` is multicast: IPv4 224.0.0.0/4 (mapped), IPv6 `ff00::/8`.
#[inline(always)]
pub const fn is_multicast(family: u8, addr: Addr) -> bool {
    if family == addr_family::IPV6 {
        addr[0] == 0xff
    } else {
        addr[12] & 0xf0 == 0xe0
    }
}

/// The VRRP group of `family` (RFC 9568 5.1.1.2, 5.1.2.2).
#[inline(always)]
pub const fn group(family: u8) -> Addr {
    if family == addr_family::IPV6 {
        VRRP_GROUP6
    } else {
        VRRP_GROUP
    }
}

/// The checks that need only the fixed header and the IP facts, in order: TTL, version, type,
/// length, own address, peer list, destination ([`check_fixed`] then [`check_source`]).
/// [`check_advert`] runs them first.
#[inline(always)]
pub const fn check_header(local: &VridState, rx: &Received) -> Result<(), Reject> {
    match check_fixed(local, rx) {
        Ok(()) => check_source(local, rx),
        Err(e) => Err(e),
    }
}

/// The first header checks, on fields of the frame alone: TTL, version, type, length, own
/// address. The kernel runs them before anything that costs a map lookup or a checksum, so a
/// stray advert (wrong TTL, version, length) is dropped for the price of a few comparisons.
/// [`Received::peer_allowed`] is not read.
#[inline(always)]
pub const fn check_fixed(local: &VridState, rx: &Received) -> Result<(), Reject> {
    // RFC 9568 7.1 / RFC 3768 7.1: the IPv4 TTL or IPv6 hop limit MUST be 255.
    if rx.ttl != 255 {
        return Err(Reject::Ttl);
    }
    // RFC 9568 7.1: the version MUST be the one configured (keepalived `version`).
    if rx.version != local.version {
        return Err(Reject::Version);
    }
    // RFC 9568 5.2.2: only ADVERTISEMENT is defined.
    if rx.kind != TYPE_ADVERTISEMENT {
        return Err(Reject::Type);
    }
    // RFC 9568 7.1: the packet MUST contain the complete message, fixed fields and addresses;
    // with `auth_hmac` (keepalived extension) it may be followed by the 28-byte trailer, which
    // keepalived assumes exactly when the length is the announced one plus 28.
    let expected = expected_len(local.family, rx.version, rx.naddr);
    if rx.len != expected && !(has_trailer_room(local) && rx.len == expected + TRAILER) {
        return Err(Reject::Length);
    }
    if eq16(rx.src, local.primary_addr) {
        return Err(Reject::Own);
    }
    Ok(())
}

/// The header checks on who sent the advert and to where: peer list, multicast on a unicast
/// instance, destination. They follow [`check_fixed`]; the kernel looks the source up in its
/// peer table only between the two, when the fixed fields already passed.
#[inline(always)]
pub const fn check_source(local: &VridState, rx: &Received) -> Result<(), Reject> {
    let unicast = local.flags & vrid_flags::UNICAST_PEERS != 0;
    // keepalived `unicast_peer`: with a peer list, adverts from anyone else are ignored.
    if unicast && !rx.peer_allowed {
        return Err(Reject::UnknownPeer);
    }
    // keepalived `vrrp_check_packet`: multicast iff no unicast peers; and the destination is
    // ours (unicast) or the VRRP group (RFC 9568 5.1.1.2, 5.1.2.2).
    if unicast {
        if is_multicast(local.family, rx.dst) {
            return Err(Reject::MulticastOnUnicast);
        }
        if !eq16(rx.dst, local.primary_addr) {
            return Err(Reject::Destination);
        }
    } else if !eq16(rx.dst, group(local.family)) {
        return Err(Reject::Destination);
    }
    Ok(())
}

/// The checks that need the whole message, in order: v2 authentication, v2 interval, address
/// list. The kernel runs them before the checksums, which it computes only for an advert that
/// every rule accepts (a frame with a bad checksum and another fault is counted under the
/// other fault).
#[inline(always)]
pub const fn check_content(local: &VridState, rx: &Received) -> Result<(), Reject> {
    if local.version == 2 {
        // RFC 3768 7.1: MUST perform the authentication of the configured Auth Type
        // (RFC 2338 5.3.6 simple text password, kept by keepalived).
        if rx.auth_type != local.auth_type {
            return Err(Reject::Auth);
        }
        if local.auth_type == auth_type::SIMPLE
            && u64::from_ne_bytes(rx.auth_data) != u64::from_ne_bytes(local.auth_data)
        {
            return Err(Reject::Auth);
        }
        // RFC 3768 7.1: MUST verify that the Adver Interval matches the configured one, else
        // discard (keepalived: "to prevent concurrent VRID running").
        if rx.adver_int != local.adver_int {
            return Err(Reject::Interval);
        }
    }
    // A zero (Max) Adver Int has no meaning (RFC 9568 5.2.7); the agent's codec refuses it, so
    // the kernel must not fence on it either.
    if rx.adver_int == 0 {
        return Err(Reject::Interval);
    }
    // RFC 9568 5.2.5: a v3 advert carries at least one address (the codec refuses none), even
    // from the owner, whose list is otherwise free.
    if rx.version == 3 && rx.naddr == 0 {
        return Err(Reject::Addresses);
    }
    // RFC 9568 7.1 / RFC 3768 7.1: MAY verify the addresses; on mismatch MUST drop unless the
    // sender is the address owner (priority 255).
    if rx.priority != PRIORITY_OWNER
        && (rx.naddr != local.naddr || rx.addr_digest != local.addr_digest)
    {
        return Err(Reject::Addresses);
    }
    Ok(())
}

/// Every acceptance check, in the order both sides apply them.
#[inline(always)]
pub const fn check_advert(local: &VridState, rx: &Received) -> Result<(), Reject> {
    match check_header(local, rx) {
        Ok(()) => check_content(local, rx),
        Err(e) => Err(e),
    }
}

/// RFC 9568 6.4.3 (Master): an accepted advert ends mastership if its priority is greater, or
/// equal with a greater primary address (compared as unsigned integers in network order; two
/// IPv4 addresses compare as their mapped forms do). Priority 0 never does: the master answers
/// it with an advert.
#[inline(always)]
pub const fn preempts(local_priority: u8, local_addr: Addr, priority: u8, src: Addr) -> bool {
    priority != PRIORITY_SHUTDOWN
        && (priority > local_priority || (priority == local_priority && greater(src, local_addr)))
}

/// The two big-endian 64-bit halves of `a` (two register compares in BPF, not a 128-bit one).
#[inline(always)]
const fn halves(a: Addr) -> (u64, u64) {
    (
        u64::from_be_bytes([a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]]),
        u64::from_be_bytes([a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15]]),
    )
}

/// Whether `a` > `b` as unsigned 128-bit integers in network order.
#[inline(always)]
const fn greater(a: Addr, b: Addr) -> bool {
    let (ah, al) = halves(a);
    let (bh, bl) = halves(b);
    ah > bh || (ah == bh && al > bl)
}

/// The kernel's fast switch: a granted instance is fenced by an advert that passes every check
/// and preempts it. The state machine leaves MASTER on exactly these adverts, except on an
/// `auth_hmac` instance ([`vrid_flags::AUTH_HMAC`]): there the kernel never fences, since it
/// cannot check the HMAC, and the agent ends ownership once the advert has verified.
#[inline(always)]
pub const fn fences(local: &VridState, rx: &Received) -> bool {
    local.grant_epoch != 0
        && !has_trailer_room(local)
        && check_advert(local, rx).is_ok()
        && preempts(local.priority, local.primary_addr, rx.priority, rx.src)
}

/// The splitmix64 finalizer.
#[inline(always)]
const fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One address's contribution to [`addr_digest`]: the splitmix64 finalizer chained over the
/// address's two halves, so that different lists of a few addresses give different sums.
#[inline(always)]
pub const fn addr_mix(addr: Addr) -> u64 {
    let (hi, lo) = halves(addr);
    addr_mix_halves(hi, lo)
}

/// [`addr_mix`] of the address whose big-endian halves are `hi` and `lo` (what the kernel reads
/// from an advert without building the 16-byte array).
#[inline(always)]
pub const fn addr_mix_halves(hi: u64, lo: u64) -> u64 {
    mix64(mix64(hi) ^ lo)
}

/// Order-independent digest of an address list: the wrapping sum of [`addr_mix`]. With the
/// count it stands for "the same set of addresses" (RFC 9568 7.1 compares lists, not orders).
/// Not a cryptographic commitment: a sender that can forge adverts past the peer list and
/// authentication does not need a collision.
pub const fn addr_digest(addrs: &[Addr]) -> u64 {
    let mut sum = 0u64;
    let mut i = 0;
    while i < addrs.len() {
        sum = sum.wrapping_add(addr_mix(addrs[i]));
        i += 1;
    }
    sum
}

#[inline(always)]
const fn eq16(a: Addr, b: Addr) -> bool {
    let (ah, al) = halves(a);
    let (bh, bl) = halves(b);
    ah == bh && al == bl
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: Addr = v4_mapped([192, 0, 2, 12]);
    const PEER: Addr = v4_mapped([192, 0, 2, 11]);
    const VIP: Addr = v4_mapped([192, 0, 2, 200]);
    const OURS6: Addr = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12];
    const PEER6: Addr = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11];
    const VIP6: Addr = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc8,
    ];

    fn local(version: u8, unicast: bool) -> VridState {
        VridState {
            grant_epoch: 1,
            lease_until_ns: u64::MAX,
            primary_addr: OURS,
            priority: 100,
            version,
            flags: if unicast {
                vrid_flags::UNICAST_PEERS
            } else {
                0
            },
            adver_int: if version == 2 { 1 } else { 100 },
            naddr: 1,
            addr_digest: addr_digest(&[VIP]),
            family: addr_family::IPV4,
            ..VridState::default()
        }
    }

    fn rx(version: u8, priority: u8) -> Received {
        Received {
            src: PEER,
            dst: OURS,
            ttl: 255,
            version,
            kind: 1,
            priority,
            naddr: 1,
            auth_type: 0,
            adver_int: if version == 2 { 1 } else { 100 },
            len: expected_len(addr_family::IPV4, version, 1),
            auth_data: [0; 8],
            addr_digest: addr_digest(&[VIP]),
            peer_allowed: true,
        }
    }

    #[test]
    #[expect(clippy::too_many_lines, reason = "a table of cases")]
    fn each_check_has_its_reason() {
        let l = local(3, true);
        assert_eq!(check_advert(&l, &rx(3, 90)), Ok(()));
        let cases: [(Received, Reject); 11] = [
            (
                Received {
                    ttl: 254,
                    ..rx(3, 90)
                },
                Reject::Ttl,
            ),
            (
                Received {
                    version: 2,
                    ..rx(3, 90)
                },
                Reject::Version,
            ),
            (
                Received {
                    kind: 2,
                    ..rx(3, 90)
                },
                Reject::Type,
            ),
            (
                Received {
                    len: 16,
                    ..rx(3, 90)
                },
                Reject::Length,
            ),
            (
                Received {
                    src: OURS,
                    ..rx(3, 90)
                },
                Reject::Own,
            ),
            (
                Received {
                    peer_allowed: false,
                    ..rx(3, 90)
                },
                Reject::UnknownPeer,
            ),
            (
                Received {
                    dst: VRRP_GROUP,
                    ..rx(3, 90)
                },
                Reject::MulticastOnUnicast,
            ),
            (
                Received {
                    dst: PEER,
                    ..rx(3, 90)
                },
                Reject::Destination,
            ),
            (
                Received {
                    naddr: 2,
                    len: 16,
                    ..rx(3, 90)
                },
                Reject::Addresses,
            ),
            (
                Received {
                    addr_digest: addr_digest(&[v4_mapped([192, 0, 2, 201])]),
                    ..rx(3, 90)
                },
                Reject::Addresses,
            ),
            (
                Received {
                    adver_int: 200,
                    ..rx(3, 90)
                },
                Reject::Addresses,
            ),
        ];
        for (i, (r, want)) in cases.iter().enumerate() {
            let got = check_advert(&l, r);
            if i == cases.len() - 1 {
                // v3 intervals may differ (RFC 9568 7.1 has no such check): accepted.
                assert_eq!(got, Ok(()), "case {i}");
            } else {
                assert_eq!(got, Err(*want), "case {i}");
            }
        }
        // Multicast instance: only the group is a valid destination.
        let m = local(3, false);
        let to_group = Received {
            dst: VRRP_GROUP,
            peer_allowed: false,
            ..rx(3, 90)
        };
        assert_eq!(check_advert(&m, &to_group), Ok(()));
        assert_eq!(
            check_advert(
                &m,
                &Received {
                    peer_allowed: false,
                    ..rx(3, 90)
                }
            ),
            Err(Reject::Destination)
        );
    }

    #[test]
    fn header_checks_split_in_two_without_changing_a_verdict() {
        // The kernel runs `check_fixed` before it looks the source up in the peer table: the
        // fixed checks must not depend on that lookup, and the two halves in sequence must
        // give exactly `check_header`'s verdict.
        let l = local(3, true);
        let stray = Received {
            ttl: 254,
            peer_allowed: false,
            ..rx(3, 90)
        };
        assert_eq!(check_fixed(&l, &stray), Err(Reject::Ttl));
        assert_eq!(check_header(&l, &stray), Err(Reject::Ttl));
        let unknown = Received {
            peer_allowed: false,
            ..rx(3, 90)
        };
        assert_eq!(check_fixed(&l, &unknown), Ok(()));
        assert_eq!(check_source(&l, &unknown), Err(Reject::UnknownPeer));
        for r in [
            rx(3, 90),
            stray,
            unknown,
            Received {
                kind: 2,
                ..rx(3, 90)
            },
            Received {
                src: OURS,
                ..rx(3, 90)
            },
            Received {
                dst: VRRP_GROUP,
                ..rx(3, 90)
            },
            Received {
                dst: PEER,
                ..rx(3, 90)
            },
            Received {
                version: 2,
                ..rx(3, 90)
            },
        ] {
            let split = match check_fixed(&l, &r) {
                Ok(()) => check_source(&l, &r),
                Err(e) => Err(e),
            };
            assert_eq!(split, check_header(&l, &r), "{r:?}");
            let fixed_only = Received {
                peer_allowed: !r.peer_allowed,
                ..r
            };
            assert_eq!(check_fixed(&l, &r), check_fixed(&l, &fixed_only));
        }
    }

    #[test]
    fn v2_checks_interval_and_auth() {
        let mut l = local(2, true);
        assert_eq!(check_advert(&l, &rx(2, 90)), Ok(()));
        assert_eq!(
            check_advert(
                &l,
                &Received {
                    adver_int: 2,
                    ..rx(2, 90)
                }
            ),
            Err(Reject::Interval)
        );
        assert_eq!(
            check_advert(
                &l,
                &Received {
                    auth_type: 1,
                    ..rx(2, 90)
                }
            ),
            Err(Reject::Auth)
        );
        l.auth_type = auth_type::SIMPLE;
        l.auth_data = *b"secret\0\0";
        let good = Received {
            auth_type: 1,
            auth_data: *b"secret\0\0",
            ..rx(2, 90)
        };
        assert_eq!(check_advert(&l, &good), Ok(()));
        let bad = Received {
            auth_data: *b"secreT\0\0",
            ..good
        };
        assert_eq!(check_advert(&l, &bad), Err(Reject::Auth));
    }

    #[test]
    fn owner_may_list_other_addresses() {
        let l = local(3, true);
        let other = Received {
            addr_digest: 7,
            ..rx(3, PRIORITY_OWNER)
        };
        assert_eq!(check_advert(&l, &other), Ok(()));
        assert!(fences(&l, &other));
        let not_owner = Received {
            priority: 254,
            ..other
        };
        assert_eq!(check_advert(&l, &not_owner), Err(Reject::Addresses));
        assert!(!fences(&l, &not_owner), "a rejected advert never fences");
    }

    #[test]
    fn preemption_is_rfc_9568_6_4_3() {
        assert!(preempts(100, OURS, 101, PEER), "higher priority");
        assert!(!preempts(100, OURS, 99, [255; 16]), "lower priority");
        assert!(
            !preempts(100, OURS, 100, PEER),
            "equal priority, lower address"
        );
        assert!(
            preempts(100, OURS, 100, v4_mapped([192, 0, 2, 13])),
            "equal priority, higher address"
        );
        assert!(!preempts(100, OURS, 100, OURS), "equal address");
        assert!(!preempts(0, OURS, 0, [255; 16]), "priority 0 never");
        // Addresses compare as numbers in network order, not byte by byte in memory order.
        assert!(preempts(
            100,
            v4_mapped([10, 0, 0, 255]),
            100,
            v4_mapped([10, 0, 1, 0])
        ));
        // IPv6: the whole 128 bits, the first differing byte decides.
        let mut low = OURS6;
        low[8] = 1;
        assert!(preempts(100, OURS6, 100, low), "higher in the upper half");
        assert!(!preempts(100, low, 100, OURS6));
    }

    #[test]
    fn what_the_agent_cannot_decode_never_fences() {
        // The agent's codec refuses a zero interval and a v3 advert without addresses; the
        // kernel must drop them too, or it would fence on adverts the agent never sees.
        let l = local(3, true);
        let zero = Received {
            adver_int: 0,
            ..rx(3, 150)
        };
        assert_eq!(check_advert(&l, &zero), Err(Reject::Interval));
        assert!(!fences(&l, &zero));
        let none = Received {
            naddr: 0,
            len: 8,
            addr_digest: 0,
            ..rx(3, PRIORITY_OWNER)
        };
        assert_eq!(check_advert(&l, &none), Err(Reject::Addresses));
        assert!(!fences(&l, &none));
        let v2 = local(2, true);
        let zero2 = Received {
            adver_int: 0,
            ..rx(2, 150)
        };
        let l0 = VridState { adver_int: 0, ..v2 };
        assert_eq!(check_advert(&l0, &zero2), Err(Reject::Interval));
    }

    #[test]
    fn fence_needs_a_grant() {
        let mut l = local(3, true);
        assert!(fences(&l, &rx(3, 150)));
        l.grant_epoch = 0;
        assert!(!fences(&l, &rx(3, 150)));
    }

    #[test]
    fn auth_hmac_takes_the_trailer_length_and_never_fences() {
        let plain = local(3, true);
        let auth = VridState {
            flags: plain.flags | vrid_flags::AUTH_HMAC,
            ..plain
        };
        let signed = Received {
            len: expected_len(addr_family::IPV4, 3, 1) + TRAILER,
            ..rx(3, PRIORITY_OWNER)
        };
        // keepalived without auth_hmac drops a signed advert as too long.
        assert_eq!(check_advert(&plain, &signed), Err(Reject::Length));
        assert_eq!(check_advert(&auth, &signed), Ok(()));
        // Unsigned adverts stay acceptable (permissive, receive-only); other lengths do not.
        assert_eq!(check_advert(&auth, &rx(3, PRIORITY_OWNER)), Ok(()));
        let odd = Received {
            len: expected_len(addr_family::IPV4, 3, 1) + 4,
            ..rx(3, PRIORITY_OWNER)
        };
        assert_eq!(check_advert(&auth, &odd), Err(Reject::Length));
        // The fast switch is the agent's once it verified the HMAC.
        assert!(fences(&plain, &rx(3, PRIORITY_OWNER)));
        assert!(!fences(&auth, &rx(3, PRIORITY_OWNER)));
        assert!(!fences(&auth, &signed));
        let l2 = VridState {
            flags: vrid_flags::AUTH_HMAC,
            ..local(2, false)
        };
        let s2 = Received {
            len: expected_len(addr_family::IPV4, 2, 1) + TRAILER,
            dst: VRRP_GROUP,
            ..rx(2, 150)
        };
        assert_eq!(check_advert(&l2, &s2), Ok(()), "v2: after the 8 auth bytes");
    }

    #[test]
    fn digest_ignores_order_and_sees_content() {
        let a = v4_mapped([192, 0, 2, 200]);
        let b = v4_mapped([192, 0, 2, 201]);
        assert_eq!(addr_digest(&[a, b]), addr_digest(&[b, a]));
        assert_ne!(addr_digest(&[a, b]), addr_digest(&[a, a]));
        assert_ne!(addr_digest(&[a]), addr_digest(&[b]));
        assert_ne!(addr_digest(&[a]), 0);
        let mut c = VIP6;
        c[0] ^= 1;
        assert_ne!(
            addr_digest(&[VIP6]),
            addr_digest(&[c]),
            "the upper half counts"
        );
        assert_ne!(addr_digest(&[VIP6]), addr_digest(&[VIP]));
    }

    fn local6(unicast: bool) -> VridState {
        VridState {
            primary_addr: OURS6,
            family: addr_family::IPV6,
            addr_digest: addr_digest(&[VIP6]),
            ..local(3, unicast)
        }
    }

    fn rx6(priority: u8) -> Received {
        Received {
            src: PEER6,
            dst: OURS6,
            len: expected_len(addr_family::IPV6, 3, 1),
            addr_digest: addr_digest(&[VIP6]),
            ..rx(3, priority)
        }
    }

    #[test]
    fn ipv6_instances_follow_the_same_rule() {
        let l = local6(true);
        assert_eq!(check_advert(&l, &rx6(90)), Ok(()));
        assert!(fences(&l, &rx6(150)));
        assert!(!fences(&l, &rx6(90)));
        // RFC 9568 5.2.9: 16 bytes per address, so the IPv4 length is wrong here.
        let short = Received {
            len: expected_len(addr_family::IPV4, 3, 1),
            ..rx6(90)
        };
        assert_eq!(check_advert(&l, &short), Err(Reject::Length));
        let hop = Received { ttl: 64, ..rx6(90) };
        assert_eq!(check_advert(&l, &hop), Err(Reject::Ttl));
        let own = Received {
            src: OURS6,
            ..rx6(90)
        };
        assert_eq!(check_advert(&l, &own), Err(Reject::Own));
        let mcast = Received {
            dst: VRRP_GROUP6,
            ..rx6(90)
        };
        assert_eq!(check_advert(&l, &mcast), Err(Reject::MulticastOnUnicast));
        // Multicast instance: ff02::12 is the only destination; 224.0.0.18 is not a group here.
        let m = local6(false);
        assert_eq!(check_advert(&m, &mcast), Ok(()));
        let v4_group = Received {
            dst: VRRP_GROUP,
            ..rx6(90)
        };
        assert_eq!(check_advert(&m, &v4_group), Err(Reject::Destination));
        let other = Received {
            addr_digest: addr_digest(&[VIP]),
            ..rx6(90)
        };
        assert_eq!(check_advert(&l, &other), Err(Reject::Addresses));
    }

    #[test]
    fn labels_come_from_the_counter_table() {
        assert_eq!(Reject::Addresses.label(), "addresses");
        assert_eq!(Reject::Interval.label(), "interval");
        assert_eq!(Reject::MulticastOnUnicast.label(), "multicast_on_unicast");
        assert_eq!(
            counter::SERIES[Reject::Ttl.counter() as usize].family,
            counter::family::ADVERTS_DROPPED
        );
    }
}
