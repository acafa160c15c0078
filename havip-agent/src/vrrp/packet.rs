//! VRRP advertisement wire format: version 2 (RFC 3768, IPv4 only) and version 3 (RFC 9568, IPv4
//! and IPv6).
//!
//! The address family is a parameter of the codec, not a second codec: the view carries its
//! [`Family`] (it fixes the size of an address), and [`AdvertRepr::parse`] / [`AdvertRepr::emit`]
//! take the IP header's source and destination, whose family is the advert's.
//!
//! Two layers, as in smoltcp's `wire` module:
//! - [`Packet`] is a zero-copy view over one VRRP message (the IP payload; the IP header is the
//!   I/O layer's business). [`Packet::new_checked`] verifies the length against the version, the
//!   family and the address count. **After `new_checked` succeeds, no accessor panics**, whatever the bytes are;
//!   accessors on an unchecked view do not panic either, they return zeros past the end.
//! - [`AdvertRepr`] is the plain owned form, with [`AdvertRepr::parse`], [`AdvertRepr::emit`] and
//!   [`AdvertRepr::buffer_len`].
//!
//! Units are in the types: a v2 interval is [`Seconds`] (`u8`), a v3 interval is [`Centiseconds`]
//! (12 bits); both convert to [`Duration`].
//!
//! Checksums (RFC 1071 one's-complement sum): v2 covers the VRRP message (RFC 3768 5.3.8). v3 over
//! IPv4 covers an IPv4 pseudo-header (source, destination, zero, protocol 112, VRRP length) and
//! the message ([`ChecksumMode::PseudoHeader`], RFC 9568 5.2.8 as keepalived reads it by default,
//! and what tcpdump and Wireshark check); [`ChecksumMode::V3AsV2`] leaves the pseudo-header out,
//! as keepalived's `v3_checksum_as_v2` does for peers (Cisco, Juniper) that apply 5.2.8's
//! pseudo-header to IPv6 only. keepalived's manual recommends the latter for RFC 9568 compliance.
//! Over IPv6 the checksum always covers the RFC 8200 8.1 pseudo-header (source, destination,
//! 32-bit upper-layer length, three zero bytes, next header 112), whatever the mode: RFC 9568 5.2.8
//! requires it there and keepalived has no IPv6 switch for it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// IPv4 protocol number of VRRP (RFC 3768 5.2.4, RFC 9568 5.1.1.4).
pub const PROTOCOL: u8 = 112;
/// IPv4 TTL of every advert; receivers drop others (RFC 3768 5.2.3, RFC 9568 5.1.1.3).
pub const TTL: u8 = 255;
/// IPv4 TOS byte keepalived sends (`IPTOS_PREC_INTERNETCONTROL`).
pub const TOS: u8 = 0xc0;
/// The IPv4 multicast group of VRRP (RFC 3768 5.2.2, RFC 9568 5.1.1.2).
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 link-local multicast group of VRRP, `ff02::12` (RFC 9568 5.1.2.2).
pub const MULTICAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// IPv6 hop limit of every advert; receivers drop others (RFC 9568 5.1.2.3).
pub const HOP_LIMIT: u8 = 255;
/// Length of the fixed IPv6 header [`ipv6_header`] builds (no extension headers).
pub const IPV6_HEADER_LEN: usize = 40;
/// Length of the fixed VRRP header (both versions).
pub const HEADER_LEN: usize = 8;
/// Length of the v2 authentication data trailer (RFC 3768 5.3.10).
pub const AUTH_DATA_LEN: usize = 8;
/// Length of the IPv4 header [`ipv4_header`] builds (no options).
pub const IPV4_HEADER_LEN: usize = 20;
/// The only VRRP message type (RFC 3768 5.3.2, RFC 9568 5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;

/// Offset of the checksum field in the VRRP header.
const CHECKSUM_OFFSET: usize = 6;
/// v2 Auth Type: no authentication (RFC 3768 5.3.6.1).
const AUTH_TYPE_NONE: u8 = 0;
/// v2 Auth Type 1: reserved by RFC 3768 5.3.6.2 (simple text password in RFC 2338);
/// keepalived's `auth_type PASS`.
const AUTH_TYPE_SIMPLE: u8 = 1;

/// A VRRP message could not be decoded. Every variant carries what was read, for one log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the header, or than the header's address count announces.
    #[error("VRRP message truncated: {len} bytes, need {needed}")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes the header requires.
        needed: usize,
    },
    /// Version field neither 2 nor 3.
    #[error("unsupported VRRP version {version}")]
    BadVersion {
        /// The version nibble received.
        version: u8,
    },
    /// Type field not ADVERTISEMENT (1).
    #[error("VRID {vrid}: unknown VRRP message type {type_}")]
    BadType {
        /// Virtual router id of the message.
        vrid: u8,
        /// The type nibble received.
        type_: u8,
    },
    /// More bytes than the header's address count announces.
    #[error("VRID {vrid}: VRRP message is {len} bytes, its header announces {expected}")]
    BadLength {
        /// Virtual router id of the message.
        vrid: u8,
        /// Bytes received.
        len: usize,
        /// Bytes the header announces.
        expected: usize,
    },
    /// Checksum field does not match the message.
    #[error("VRID {vrid}: bad VRRP checksum {got:#06x}, computed {expected:#06x}")]
    BadChecksum {
        /// Virtual router id of the message.
        vrid: u8,
        /// Checksum field received.
        got: u16,
        /// Checksum computed over the message.
        expected: u16,
    },
    /// VRID 0 is not a valid virtual router (RFC 3768 5.3.3, RFC 9568 5.2.3: 1..=255).
    #[error("VRRP message with VRID 0")]
    ZeroVrid,
    /// A v3 advert without addresses (RFC 9568 5.2.5: the minimum count is 1).
    #[error("VRID {vrid}: VRRPv3 advert without addresses")]
    NoAddresses {
        /// Virtual router id of the message.
        vrid: u8,
    },
    /// Advertisement interval 0: it would make the master-down interval zero.
    #[error("VRID {vrid}: VRRPv{version} advert with interval 0")]
    ZeroInterval {
        /// Virtual router id of the message.
        vrid: u8,
        /// VRRP version number of the message.
        version: u8,
    },
    /// v2 Auth Type other than 0 (none) or 1 (simple password); 2 (IP AH) is not supported.
    #[error("VRID {vrid}: unsupported VRRPv2 auth type {auth_type}")]
    UnsupportedAuth {
        /// Virtual router id of the message.
        vrid: u8,
        /// The Auth Type byte received.
        auth_type: u8,
    },
    /// A version 2 message over IPv6: version 2 is defined for IPv4 only (RFC 3768 1; RFC 9568 1).
    #[error("VRID {vrid}: VRRPv2 advert over IPv6")]
    V2OverIpv6 {
        /// Virtual router id of the message.
        vrid: u8,
    },
    /// The IP source and destination given to the decoder are not of one family (a caller bug,
    /// refused rather than guessed).
    #[error("IP source {src} and destination {dst} are not of one family")]
    FamilyMismatch {
        /// Source given.
        src: IpAddr,
        /// Destination given.
        dst: IpAddr,
    },
}

/// An [`AdvertRepr`] cannot be written, or an IPv4 header cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The output buffer is shorter than [`AdvertRepr::buffer_len`].
    #[error("buffer of {len} bytes, need {needed}")]
    BufferTooSmall {
        /// Length of the buffer given.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// VRID 0 cannot be sent.
    #[error("VRID 0 cannot be sent")]
    ZeroVrid,
    /// More than 255 addresses do not fit the count field.
    #[error("VRID {vrid}: {count} addresses do not fit one advert (max 255)")]
    TooManyAddresses {
        /// Virtual router id.
        vrid: u8,
        /// Number of addresses.
        count: usize,
    },
    /// A v3 advert needs at least one address (RFC 9568 5.2.5).
    #[error("VRID {vrid}: VRRPv3 advert without addresses")]
    NoAddresses {
        /// Virtual router id.
        vrid: u8,
    },
    /// The interval's unit does not belong to the version (seconds are v2, centiseconds v3).
    #[error("VRID {vrid}: interval unit does not match VRRPv{version}")]
    IntervalVersionMismatch {
        /// Virtual router id.
        vrid: u8,
        /// VRRP version number of the repr.
        version: u8,
    },
    /// Interval 0 cannot be sent (the decoder refuses it).
    #[error("VRID {vrid}: interval 0 cannot be sent")]
    ZeroInterval {
        /// Virtual router id.
        vrid: u8,
    },
    /// VRRP v3 has no authentication (RFC 9568 removed it).
    #[error("VRID {vrid}: VRRPv3 has no authentication")]
    AuthInV3 {
        /// Virtual router id.
        vrid: u8,
    },
    /// IP total (or payload) length would exceed 65535.
    #[error("IP payload of {len} bytes is too long")]
    PayloadTooLong {
        /// Payload length given.
        len: usize,
    },
    /// Version 2 cannot be sent over IPv6 (RFC 3768 is IPv4 only).
    #[error("VRID {vrid}: VRRPv2 cannot be sent over IPv6")]
    V2OverIpv6 {
        /// Virtual router id.
        vrid: u8,
    },
    /// An address, or the IP destination, is not of the source's family: one advert carries
    /// one family (RFC 9568 5.2.9).
    #[error("VRID {vrid}: {addr} is not of the family of the source {src}")]
    FamilyMismatch {
        /// Virtual router id.
        vrid: u8,
        /// The IP source (the advert's family).
        src: IpAddr,
        /// The address of the other family.
        addr: IpAddr,
    },
}

/// The IP family an advert travels over, which is the family of every address it lists
/// (RFC 9568 5.2.5: "`IPvX` Addr").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Family {
    /// IPv4: 4-byte addresses, protocol 112 in the IPv4 header.
    #[default]
    V4,
    /// IPv6: 16-byte addresses, next header 112; version 3 only.
    V6,
}

impl Family {
    /// The family of `addr`.
    pub const fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Self::V4,
            IpAddr::V6(_) => Self::V6,
        }
    }

    /// Bytes of one address in the advert's list.
    pub const fn addr_len(self) -> usize {
        match self {
            Self::V4 => 4,
            Self::V6 => 16,
        }
    }

    /// The VRRP multicast group of this family (RFC 9568 5.1.1.2, 5.1.2.2).
    pub const fn multicast_group(self) -> IpAddr {
        match self {
            Self::V4 => IpAddr::V4(MULTICAST_GROUP),
            Self::V6 => IpAddr::V6(MULTICAST_GROUP_V6),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        })
    }
}

/// The family shared by `src` and `dst`, or `None` if they differ.
fn family_of(src: IpAddr, dst: IpAddr) -> Option<Family> {
    let family = Family::of(src);
    (family == Family::of(dst)).then_some(family)
}

/// VRRP protocol version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRP version 2, RFC 3768 (IPv4, intervals in seconds, optional simple password).
    V2,
    /// VRRP version 3, RFC 9568 (intervals in centiseconds, no authentication).
    V3,
}

impl Version {
    /// The number in the version field.
    pub const fn number(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }
}

impl TryFrom<u8> for Version {
    type Error = DecodeError;

    fn try_from(version: u8) -> Result<Self, Self::Error> {
        match version {
            2 => Ok(Self::V2),
            3 => Ok(Self::V3),
            version => Err(DecodeError::BadVersion { version }),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VRRPv{}", self.number())
    }
}

/// A v2 advertisement interval: whole seconds (RFC 3768 5.3.7, default 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Seconds(pub u8);

impl Seconds {
    /// As a [`Duration`].
    pub const fn to_duration(self) -> Duration {
        Duration::from_secs(self.0 as u64)
    }

    /// `d` if it is a whole number of seconds in `0..=255`.
    pub fn from_duration(d: Duration) -> Option<Self> {
        if d.subsec_nanos() != 0 {
            return None;
        }
        u8::try_from(d.as_secs()).ok().map(Self)
    }
}

/// A v3 (maximum) advertisement interval: centiseconds in 12 bits, `0..=4095` (RFC 9568 5.2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Centiseconds(u16);

impl Centiseconds {
    /// The largest interval the 12-bit field holds: 40.95 s.
    pub const MAX: Self = Self(0x0fff);

    /// `cs` centiseconds, if it fits 12 bits.
    pub const fn new(cs: u16) -> Option<Self> {
        if cs <= Self::MAX.0 {
            Some(Self(cs))
        } else {
            None
        }
    }

    /// The value in centiseconds.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// As a [`Duration`].
    pub const fn to_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }

    /// `d` if it is a whole number of centiseconds that fits 12 bits.
    pub fn from_duration(d: Duration) -> Option<Self> {
        if !d.as_nanos().is_multiple_of(10_000_000) {
            return None;
        }
        u16::try_from(d.as_millis() / 10).ok().and_then(Self::new)
    }
}

/// An advertisement interval with its unit, which is also its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdvertInterval {
    /// VRRP v2 Adver Int.
    Seconds(Seconds),
    /// VRRP v3 Max Adver Int.
    Centiseconds(Centiseconds),
}

impl AdvertInterval {
    /// As a [`Duration`].
    pub const fn to_duration(self) -> Duration {
        match self {
            Self::Seconds(s) => s.to_duration(),
            Self::Centiseconds(cs) => cs.to_duration(),
        }
    }

    /// The VRRP version this unit belongs to.
    pub const fn version(self) -> Version {
        match self {
            Self::Seconds(_) => Version::V2,
            Self::Centiseconds(_) => Version::V3,
        }
    }

    /// Whether the interval is zero.
    pub const fn is_zero(self) -> bool {
        match self {
            Self::Seconds(s) => s.0 == 0,
            Self::Centiseconds(cs) => cs.0 == 0,
        }
    }

    /// `d` in the unit of `version`, if it is exactly representable there.
    pub fn from_duration(version: Version, d: Duration) -> Option<Self> {
        match version {
            Version::V2 => Seconds::from_duration(d).map(Self::Seconds),
            Version::V3 => Centiseconds::from_duration(d).map(Self::Centiseconds),
        }
    }
}

/// VRRP v2 authentication (RFC 3768 5.3.6). VRRP v3 has none.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// Auth Type 0.
    #[default]
    None,
    /// Auth Type 1: an 8-byte password in clear text, zero padded (keepalived `auth_type PASS`).
    Simple([u8; AUTH_DATA_LEN]),
}

impl Auth {
    /// A simple password of at most 8 bytes, zero padded as keepalived sends it.
    pub fn simple(password: &[u8]) -> Option<Self> {
        let mut data = [0; AUTH_DATA_LEN];
        data.get_mut(..password.len())?.copy_from_slice(password);
        Some(Self::Simple(data))
    }

    const fn type_code(&self) -> u8 {
        match self {
            Self::None => AUTH_TYPE_NONE,
            Self::Simple(_) => AUTH_TYPE_SIMPLE,
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep passwords out of logs.
        match self {
            Self::None => f.write_str("None"),
            Self::Simple(_) => f.write_str("Simple(<redacted>)"),
        }
    }
}

/// How the v3 checksum is computed over IPv4. Ignored for v2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ChecksumMode {
    /// IPv4 pseudo-header plus message (RFC 9568 5.2.8 as keepalived reads it; its default).
    #[default]
    PseudoHeader,
    /// Message only, as in v2 (keepalived `v3_checksum_as_v2`).
    V3AsV2,
}

/// A read-only (or, with a mutable buffer, writable) view of one VRRP message.
///
/// RFC 3768 5.1 (v2):
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Adver Int   |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (1)                        |
/// |                            .....                              |
/// |                         IP Address (n)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (1)                   |
/// |                     Authentication Data (2)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// RFC 9568 5.1 (v3):
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |(rsvd) |     Max Adver Int     |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       IPvX Address(es)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The addresses are 4 bytes each over IPv4 and 16 over IPv6 (RFC 9568 5.2.9), so the view knows
/// its [`Family`].
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    family: Family,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view without any check. Accessors return zeros past the end of the buffer.
    pub const fn new_unchecked(buffer: T, family: Family) -> Self {
        Self { buffer, family }
    }

    /// A view of a buffer that holds exactly one VRRP message of a known version, received over
    /// `family`.
    pub fn new_checked(buffer: T, family: Family) -> Result<Self, DecodeError> {
        let packet = Self::new_unchecked(buffer, family);
        packet.check_len()?;
        Ok(packet)
    }

    /// The family the view reads addresses of.
    pub const fn family(&self) -> Family {
        self.family
    }

    /// Checks that the buffer holds the fixed header, a known version, and exactly the addresses
    /// (and, for v2, the authentication data) the header announces (RFC 3768 7.1, RFC 9568 7.1:
    /// MUST verify that the packet contains the complete VRRP packet).
    pub fn check_len(&self) -> Result<(), DecodeError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(DecodeError::Truncated {
                len,
                needed: HEADER_LEN,
            });
        }
        let expected = expected_len(self.version()?, self.family, self.address_count());
        if len < expected {
            return Err(DecodeError::Truncated {
                len,
                needed: expected,
            });
        }
        if len > expected {
            return Err(DecodeError::BadLength {
                vrid: self.vrid(),
                len,
                expected,
            });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, index: usize) -> u8 {
        self.buffer.as_ref().get(index).copied().unwrap_or(0)
    }

    fn word(&self, index: usize) -> u16 {
        u16::from_be_bytes([self.byte(index), self.byte(index + 1)])
    }

    /// The version nibble, as received.
    pub fn version_number(&self) -> u8 {
        self.byte(0) >> 4
    }

    /// The version, if known.
    pub fn version(&self) -> Result<Version, DecodeError> {
        Version::try_from(self.version_number())
    }

    /// The type nibble, as received.
    pub fn message_type(&self) -> u8 {
        self.byte(0) & 0x0f
    }

    /// Virtual router id.
    pub fn vrid(&self) -> u8 {
        self.byte(1)
    }

    /// Sender's priority (0: the master is leaving; 255: address owner).
    pub fn priority(&self) -> u8 {
        self.byte(2)
    }

    /// Number of addresses announced by the header.
    pub fn address_count(&self) -> u8 {
        self.byte(3)
    }

    /// v2 Auth Type byte; `None` for v3 (those bits are reserved and part of the interval word).
    pub fn auth_type(&self) -> Option<u8> {
        match self.version() {
            Ok(Version::V2) => Some(self.byte(4)),
            _ => None,
        }
    }

    /// The advertisement interval in its version's unit; `None` for an unknown version.
    /// The 4 reserved bits of v3 are ignored on receipt (RFC 9568 5.2.6).
    pub fn interval(&self) -> Option<AdvertInterval> {
        match self.version() {
            Ok(Version::V2) => Some(AdvertInterval::Seconds(Seconds(self.byte(5)))),
            Ok(Version::V3) => {
                let cs = self.word(4) & Centiseconds::MAX.0;
                Centiseconds::new(cs).map(AdvertInterval::Centiseconds)
            }
            Err(_) => None,
        }
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        self.word(CHECKSUM_OFFSET)
    }

    /// Address number `index` (from 0), of the view's family, if the header announces it.
    pub fn address(&self, index: u8) -> Option<IpAddr> {
        if index >= self.address_count() {
            return None;
        }
        let size = self.family.addr_len();
        let at = HEADER_LEN + size * usize::from(index);
        let bytes = self.buffer.as_ref().get(at..at + size)?;
        match self.family {
            Family::V4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
            Family::V6 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        }
    }

    /// The addresses the header announces (and the buffer holds).
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        (0..self.address_count()).map_while(|i| self.address(i))
    }

    /// v2 authentication data; `None` for v3 or a short buffer.
    pub fn auth_data(&self) -> Option<[u8; AUTH_DATA_LEN]> {
        if self.version().ok()? != Version::V2 {
            return None;
        }
        let at = HEADER_LEN + self.family.addr_len() * usize::from(self.address_count());
        self.buffer
            .as_ref()
            .get(at..at + AUTH_DATA_LEN)?
            .try_into()
            .ok()
    }

    /// Whether the checksum covers a pseudo-header: v3 over IPv4 in [`ChecksumMode::PseudoHeader`],
    /// and v3 over IPv6 always (RFC 9568 5.2.8).
    fn pseudo(&self, mode: ChecksumMode) -> bool {
        self.version().ok() == Some(Version::V3)
            && (self.family == Family::V6 || mode == ChecksumMode::PseudoHeader)
    }

    /// The checksum the message should carry (computed with the checksum field taken as zero).
    /// `src` and `dst` are the IP header's; their family must be the view's.
    pub fn compute_checksum(
        &self,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        mode: ChecksumMode,
    ) -> u16 {
        let message = self.buffer.as_ref();
        message_checksum(message, self.pseudo(mode).then(|| (src.into(), dst.into())))
    }

    /// Whether the checksum field is right. Like keepalived, this sums the message including the
    /// checksum field, so the two one's-complement zeros (0x0000 and 0xffff) are both accepted.
    pub fn verify_checksum(
        &self,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        mode: ChecksumMode,
    ) -> bool {
        let message = self.buffer.as_ref();
        let mut acc = if self.pseudo(mode) {
            pseudo_header_sum(src.into(), dst.into(), message.len())
        } else {
            0
        };
        acc = sum_words(message, acc);
        fold(acc) == 0xffff
    }
}

/// Total message length for `version` over `family` with `count` addresses.
fn expected_len(version: Version, family: Family, count: u8) -> usize {
    let auth = match version {
        Version::V2 => AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    HEADER_LEN + family.addr_len() * usize::from(count) + auth
}

/// The bytes of an address as they sit in the advert's list or a pseudo-header.
fn addr_octets(addr: IpAddr, out: &mut [u8; 16]) -> &[u8] {
    match addr {
        IpAddr::V4(a) => {
            out[..4].copy_from_slice(&a.octets());
            &out[..4]
        }
        IpAddr::V6(a) => {
            *out = a.octets();
            &out[..]
        }
    }
}

/// RFC 1071: 16-bit big-endian words added into a wide accumulator; an odd last byte is padded.
fn sum_words(data: &[u8], acc: u64) -> u64 {
    let (words, rest) = data.as_chunks::<2>();
    let mut acc = words
        .iter()
        .fold(acc, |acc, w| acc + u64::from(u16::from_be_bytes(*w)));
    if let [last] = rest {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// Folds carries back in (end-around carry) until 16 bits remain.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    u16::try_from(acc).unwrap_or(u16::MAX)
}

/// Sum of the pseudo-header: over IPv4 source, destination, zero, protocol 112, VRRP length
/// (RFC 9568 5.2.8); over IPv6 source, destination, 32-bit length, three zeros, next header 112
/// (RFC 8200 8.1). Both lay out to the same sum of words; only the address size differs.
fn pseudo_header_sum(src: IpAddr, dst: IpAddr, len: usize) -> u64 {
    let mut scratch = [0; 16];
    let mut acc = sum_words(addr_octets(src, &mut scratch), 0);
    acc = sum_words(addr_octets(dst, &mut scratch), acc);
    acc += u64::from(PROTOCOL);
    // A VRRP message is at most 4104 bytes (255 IPv6 addresses), so the length never saturates.
    acc + u64::from(u16::try_from(len).unwrap_or(u16::MAX))
}

/// The checksum of `message` with its checksum field taken as zero.
fn message_checksum(message: &[u8], pseudo: Option<(IpAddr, IpAddr)>) -> u16 {
    let mut acc = pseudo.map_or(0, |(src, dst)| pseudo_header_sum(src, dst, message.len()));
    // The field sits at an even offset, so summing around it keeps the word alignment.
    acc = sum_words(message.get(..CHECKSUM_OFFSET).unwrap_or(message), acc);
    acc = sum_words(message.get(CHECKSUM_OFFSET + 2..).unwrap_or_default(), acc);
    !fold(acc)
}

/// An advertisement in plain form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AdvertRepr {
    /// Protocol version; the interval's unit must match it.
    pub version: Version,
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// Sender's priority: 0 = leaving, 1..=254 = backup-capable, 255 = address owner.
    pub priority: u8,
    /// Advertisement interval (v2) or maximum advertisement interval (v3), with its unit.
    pub interval: AdvertInterval,
    /// Virtual addresses, all of the family of the IP header that carries the advert.
    pub addresses: Vec<IpAddr>,
    /// Authentication; always [`Auth::None`] for v3.
    pub auth: Auth,
}

impl AdvertRepr {
    /// Decodes and validates one VRRP message received from `src` to `dst` (the IP header's
    /// addresses: their family is the advert's, and the v3 pseudo-header needs them). Checks, in
    /// order: length, version, type, checksum, VRID, v2 over IPv6, v3 address count, interval,
    /// v2 auth type (RFC 3768 7.1, RFC 9568 7.1).
    pub fn parse(
        bytes: &[u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        mode: ChecksumMode,
    ) -> Result<Self, DecodeError> {
        let (src, dst) = (src.into(), dst.into());
        let family = family_of(src, dst).ok_or(DecodeError::FamilyMismatch { src, dst })?;
        let packet = Packet::new_checked(bytes, family)?;
        Self::parse_packet(&packet, src, dst, mode)
    }

    /// Like [`AdvertRepr::parse`], from a view that passed [`Packet::new_checked`] (the view's
    /// family must be that of `src` and `dst`).
    pub fn parse_packet<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        mode: ChecksumMode,
    ) -> Result<Self, DecodeError> {
        let (src, dst) = (src.into(), dst.into());
        if family_of(src, dst) != Some(packet.family()) {
            return Err(DecodeError::FamilyMismatch { src, dst });
        }
        packet.check_len()?;
        let version = packet.version()?;
        let vrid = packet.vrid();
        let type_ = packet.message_type();
        if type_ != TYPE_ADVERTISEMENT {
            return Err(DecodeError::BadType { vrid, type_ });
        }
        if !packet.verify_checksum(src, dst, mode) {
            return Err(DecodeError::BadChecksum {
                vrid,
                got: packet.checksum(),
                expected: packet.compute_checksum(src, dst, mode),
            });
        }
        if vrid == 0 {
            return Err(DecodeError::ZeroVrid);
        }
        if version == Version::V2 && packet.family() == Family::V6 {
            return Err(DecodeError::V2OverIpv6 { vrid });
        }
        if version == Version::V3 && packet.address_count() == 0 {
            return Err(DecodeError::NoAddresses { vrid });
        }
        let interval = match packet.interval() {
            Some(interval) if !interval.is_zero() => interval,
            _ => {
                return Err(DecodeError::ZeroInterval {
                    vrid,
                    version: version.number(),
                });
            }
        };
        let auth = match (packet.auth_type(), packet.auth_data()) {
            (None | Some(AUTH_TYPE_NONE), _) => Auth::None,
            (Some(AUTH_TYPE_SIMPLE), Some(data)) => Auth::Simple(data),
            (Some(auth_type), _) => return Err(DecodeError::UnsupportedAuth { vrid, auth_type }),
        };
        Ok(Self {
            version,
            vrid,
            priority: packet.priority(),
            interval,
            addresses: packet.addresses().collect(),
            auth,
        })
    }

    /// The family of the advert: that of its first address (IPv4 for an empty list, which only
    /// a v2 advert may have).
    pub fn family(&self) -> Family {
        self.addresses
            .first()
            .map_or(Family::V4, |a| Family::of(*a))
    }

    /// Bytes [`AdvertRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        let auth = match self.version {
            Version::V2 => AUTH_DATA_LEN,
            Version::V3 => 0,
        };
        HEADER_LEN + self.family().addr_len() * self.addresses.len() + auth
    }

    /// Checks that the repr can be encoded from `src` to `dst`, and returns its address count.
    fn check(&self, src: IpAddr, dst: IpAddr) -> Result<u8, EmitError> {
        let vrid = self.vrid;
        if vrid == 0 {
            return Err(EmitError::ZeroVrid);
        }
        let family = Family::of(src);
        if let Some(&addr) = std::iter::once(&dst)
            .chain(&self.addresses)
            .find(|a| Family::of(**a) != family)
        {
            return Err(EmitError::FamilyMismatch { vrid, src, addr });
        }
        if family == Family::V6 && self.version == Version::V2 {
            return Err(EmitError::V2OverIpv6 { vrid });
        }
        let count =
            u8::try_from(self.addresses.len()).map_err(|_| EmitError::TooManyAddresses {
                vrid,
                count: self.addresses.len(),
            })?;
        if self.interval.version() != self.version {
            return Err(EmitError::IntervalVersionMismatch {
                vrid,
                version: self.version.number(),
            });
        }
        if self.interval.is_zero() {
            return Err(EmitError::ZeroInterval { vrid });
        }
        if self.version == Version::V3 {
            if count == 0 {
                return Err(EmitError::NoAddresses { vrid });
            }
            if self.auth != Auth::None {
                return Err(EmitError::AuthInV3 { vrid });
            }
        }
        Ok(count)
    }

    /// Writes the message into the start of `buf` with a correct checksum for `src` -> `dst` (the
    /// IP header's addresses, of the family of every listed address), and returns the number of
    /// bytes written ([`AdvertRepr::buffer_len`]).
    pub fn emit(
        &self,
        buf: &mut [u8],
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        mode: ChecksumMode,
    ) -> Result<usize, EmitError> {
        let (src, dst) = (src.into(), dst.into());
        let count = self.check(src, dst)?;
        let needed = self.buffer_len();
        let len = buf.len();
        let out = buf
            .get_mut(..needed)
            .ok_or(EmitError::BufferTooSmall { len, needed })?;
        out.fill(0);
        let (header, body) = out.split_at_mut(HEADER_LEN);
        header[0] = (self.version.number() << 4) | TYPE_ADVERTISEMENT;
        header[1] = self.vrid;
        header[2] = self.priority;
        header[3] = count;
        match self.interval {
            AdvertInterval::Seconds(Seconds(s)) => {
                header[4] = self.auth.type_code();
                header[5] = s;
            }
            // The 4 reserved bits stay zero (RFC 9568 5.2.6).
            AdvertInterval::Centiseconds(cs) => header[4..6].copy_from_slice(&cs.0.to_be_bytes()),
        }
        let size = self.family().addr_len();
        let (addrs, trailer) = body.split_at_mut(size * self.addresses.len());
        let mut scratch = [0; 16];
        for (slot, addr) in addrs.chunks_exact_mut(size).zip(&self.addresses) {
            slot.copy_from_slice(addr_octets(*addr, &mut scratch));
        }
        if let Auth::Simple(data) = &self.auth {
            trailer.copy_from_slice(data);
        }
        // RFC 9568 5.2.8: over IPv6 the pseudo-header is always included.
        let pseudo = self.version == Version::V3
            && (Family::of(src) == Family::V6 || mode == ChecksumMode::PseudoHeader);
        let checksum = message_checksum(out, pseudo.then_some((src, dst)));
        out[CHECKSUM_OFFSET..CHECKSUM_OFFSET + 2].copy_from_slice(&checksum.to_be_bytes());
        Ok(needed)
    }

    /// [`AdvertRepr::emit`] into a new vector.
    pub fn to_bytes(
        &self,
        src: impl Into<IpAddr>,
        dst: impl Into<IpAddr>,
        mode: ChecksumMode,
    ) -> Result<Vec<u8>, EmitError> {
        let mut buf = vec![0; self.buffer_len()];
        self.emit(&mut buf, src, dst, mode)?;
        Ok(buf)
    }
}

/// An IPv4 header (no options) for a VRRP payload of `payload_len` bytes, as keepalived sends it:
/// TOS 0xc0, no fragmentation flags, TTL 255 (RFC 3768 5.2.3), protocol 112, with the header
/// checksum filled in. `ident` is the IPv4 identification field.
pub fn ipv4_header(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    payload_len: usize,
    ident: u16,
) -> Result<[u8; IPV4_HEADER_LEN], EmitError> {
    let total = u16::try_from(IPV4_HEADER_LEN + payload_len)
        .map_err(|_| EmitError::PayloadTooLong { len: payload_len })?;
    let mut h = [0u8; IPV4_HEADER_LEN];
    h[0] = 0x45; // version 4, IHL 5 words
    h[1] = TOS;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&ident.to_be_bytes());
    h[8] = TTL;
    h[9] = PROTOCOL;
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let checksum = !fold(sum_words(&h, 0));
    h[10..12].copy_from_slice(&checksum.to_be_bytes());
    Ok(h)
}

/// An IPv6 header (no extension headers) for a VRRP payload of `payload_len` bytes: traffic class
/// 0xc0 (as keepalived sets it), flow label 0, next header 112, hop limit 255 (RFC 9568 5.1.2.3).
/// For tests and tools that forge whole frames; the agent's socket lets the kernel build it.
pub fn ipv6_header(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    payload_len: usize,
) -> Result<[u8; IPV6_HEADER_LEN], EmitError> {
    let len =
        u16::try_from(payload_len).map_err(|_| EmitError::PayloadTooLong { len: payload_len })?;
    let mut h = [0u8; IPV6_HEADER_LEN];
    // Version 6, traffic class 0xc0 split over the first two bytes, flow label 0.
    h[0] = 0x6c;
    h[4..6].copy_from_slice(&len.to_be_bytes());
    h[6] = PROTOCOL;
    h[7] = HOP_LIMIT;
    h[8..24].copy_from_slice(&src.octets());
    h[24..40].copy_from_slice(&dst.octets());
    Ok(h)
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_v6;
