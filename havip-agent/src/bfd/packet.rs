//! BFD Control packet wire format (RFC 5880 4.1), carried over UDP (RFC 5881 4).
//!
//! Two layers, as in [`crate::vrrp::packet`]:
//! - [`Packet`] is a zero-copy view over one UDP payload. [`Packet::new_checked`] verifies
//!   everything RFC 5880 6.8.6 asks a receiver to verify about the packet alone (version,
//!   length against the A bit and the payload, Detect Mult, the M bit, My Discriminator).
//!   **After `new_checked` succeeds, no accessor panics**; accessors on an unchecked view do not
//!   panic either, they return zeros past the end of the buffer.
//! - [`ControlRepr`] is the plain owned form, with [`ControlRepr::parse`],
//!   [`ControlRepr::emit`] and [`ControlRepr::buffer_len`].
//!
//! What needs a session (the discriminator demultiplexing and state rules of 6.8.6) is
//! [`super::demux`]'s business. Intervals are [`Duration`]s here and microseconds on the wire;
//! a `Duration` too large for 32 bits of microseconds is sent as the largest that fits.

use std::fmt;
use std::time::Duration;

/// BFD protocol version (RFC 5880 4.1: "This document defines protocol version 1").
pub const VERSION: u8 = 1;
/// Length of a Control packet without the authentication section (RFC 5880 6.8.6).
pub const MIN_LEN: usize = 24;
/// Shortest Control packet with the A bit set: the mandatory part plus Auth Type and Auth Len.
pub const MIN_AUTH_LEN: usize = 26;
/// UDP destination port of single-hop Control packets (RFC 5881 4).
pub const PORT: u16 = 3784;
/// The range source ports MUST come from (RFC 5881 4).
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// IPv4 TTL of every single-hop packet, and what a receiver requires (RFC 5881 5, GTSM).
pub const TTL: u8 = 255;

const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CPI: u8 = 0x08;
const FLAG_AUTH: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

/// A BFD Control packet could not be decoded (RFC 5880 6.8.6: "the packet MUST be discarded").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the mandatory section, or than the Length field.
    #[error("BFD packet truncated: {len} bytes, need {needed}")]
    Truncated {
        /// Bytes received.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// Version field other than 1.
    #[error("unsupported BFD version {version}")]
    BadVersion {
        /// Version received.
        version: u8,
    },
    /// Length field shorter than the minimum for the A bit (24, or 26 with authentication).
    #[error("BFD Length field {length} is below the minimum {minimum}")]
    BadLength {
        /// Length field received.
        length: u8,
        /// Minimum for the packet's A bit.
        minimum: usize,
    },
    /// Detect Mult 0.
    #[error("BFD packet from discriminator {my_discr} with Detect Mult 0")]
    ZeroDetectMult {
        /// Sender's discriminator.
        my_discr: u32,
    },
    /// Multipoint bit set (reserved for RFC 8562 point-to-multipoint).
    #[error("BFD packet from discriminator {my_discr} with the Multipoint bit set")]
    Multipoint {
        /// Sender's discriminator.
        my_discr: u32,
    },
    /// My Discriminator 0.
    #[error("BFD packet with My Discriminator 0")]
    ZeroMyDiscriminator,
    /// The authentication section's own length runs past the Length field.
    #[error("BFD Auth Len {auth_len} does not fit a packet of {length} bytes")]
    BadAuthLength {
        /// Auth Len received.
        auth_len: u8,
        /// Length field received.
        length: u8,
    },
}

/// A [`ControlRepr`] cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The output buffer is shorter than [`ControlRepr::buffer_len`].
    #[error("buffer of {len} bytes, need {needed}")]
    BufferTooSmall {
        /// Length of the buffer given.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The authentication section is longer than the one-byte Length field allows.
    #[error("authentication section of {len} bytes is too long")]
    AuthTooLong {
        /// Bytes of Auth Type, Auth Len and data.
        len: usize,
    },
}

/// Session state as carried in the Sta field (RFC 5880 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// 0: administratively held down.
    AdminDown,
    /// 1: down (or never up).
    Down,
    /// 2: the remote is heard, it has not heard us yet.
    Init,
    /// 3: both ends hear each other.
    Up,
}

impl State {
    /// The two-bit code.
    pub const fn code(self) -> u8 {
        match self {
            Self::AdminDown => 0,
            Self::Down => 1,
            Self::Init => 2,
            Self::Up => 3,
        }
    }

    /// The state of a two-bit code (only the low two bits are read, so every `u8` maps).
    pub const fn from_code(code: u8) -> Self {
        match code & 0x3 {
            0 => Self::AdminDown,
            1 => Self::Down,
            2 => Self::Init,
            _ => Self::Up,
        }
    }

    /// Lower-case name, for logs and metric labels.
    pub const fn name(self) -> &'static str {
        match self {
            Self::AdminDown => "admin_down",
            Self::Down => "down",
            Self::Init => "init",
            Self::Up => "up",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Diagnostic code (RFC 5880 4.1, Diag): why the sender's session last changed state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Diag {
    /// 0: no diagnostic.
    None,
    /// 1: Control Detection Time Expired.
    DetectionTimeExpired,
    /// 2: Echo Function Failed.
    EchoFailed,
    /// 3: Neighbor Signaled Session Down.
    NeighborDown,
    /// 4: Forwarding Plane Reset.
    ForwardingPlaneReset,
    /// 5: Path Down.
    PathDown,
    /// 6: Concatenated Path Down.
    ConcatenatedPathDown,
    /// 7: Administratively Down.
    AdminDown,
    /// 8: Reverse Concatenated Path Down.
    ReverseConcatenatedPathDown,
    /// 9-31: reserved; kept so that a packet from a newer peer still decodes.
    Reserved(u8),
}

impl Diag {
    /// The five-bit code.
    pub const fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::DetectionTimeExpired => 1,
            Self::EchoFailed => 2,
            Self::NeighborDown => 3,
            Self::ForwardingPlaneReset => 4,
            Self::PathDown => 5,
            Self::ConcatenatedPathDown => 6,
            Self::AdminDown => 7,
            Self::ReverseConcatenatedPathDown => 8,
            Self::Reserved(c) => c & 0x1f,
        }
    }

    /// The diagnostic of a five-bit code (only the low five bits are read).
    pub const fn from_code(code: u8) -> Self {
        match code & 0x1f {
            0 => Self::None,
            1 => Self::DetectionTimeExpired,
            2 => Self::EchoFailed,
            3 => Self::NeighborDown,
            4 => Self::ForwardingPlaneReset,
            5 => Self::PathDown,
            6 => Self::ConcatenatedPathDown,
            7 => Self::AdminDown,
            8 => Self::ReverseConcatenatedPathDown,
            c => Self::Reserved(c),
        }
    }

    /// Snake-case name, for logs and metric labels.
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::DetectionTimeExpired => "control_detection_time_expired",
            Self::EchoFailed => "echo_function_failed",
            Self::NeighborDown => "neighbor_signaled_session_down",
            Self::ForwardingPlaneReset => "forwarding_plane_reset",
            Self::PathDown => "path_down",
            Self::ConcatenatedPathDown => "concatenated_path_down",
            Self::AdminDown => "administratively_down",
            Self::ReverseConcatenatedPathDown => "reverse_concatenated_path_down",
            Self::Reserved(_) => "reserved",
        }
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The optional authentication section (RFC 5880 4.2), kept opaque: havip does not
/// authenticate, and a session without authentication discards packets that carry it
/// (RFC 5880 6.8.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthSection {
    /// Auth Type.
    pub auth_type: u8,
    /// The bytes after Auth Type and Auth Len.
    pub data: Vec<u8>,
}

/// A view of one BFD Control packet.
///
/// RFC 5880 4.1:
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       My Discriminator                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Your Discriminator                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Desired Min TX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Required Min RX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Required Min Echo RX Interval                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Auth Len    |    Authentication Data...     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view without any check.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// A view of a payload that passes the packet-only checks of RFC 5880 6.8.6.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let packet = Self::new_unchecked(buffer);
        packet.check()?;
        Ok(packet)
    }

    /// RFC 5880 6.8.6, in its order: version, Length against the A bit and the payload,
    /// Detect Mult, Multipoint, My Discriminator; then the authentication section's own length.
    pub fn check(&self) -> Result<(), DecodeError> {
        let len = self.buffer.as_ref().len();
        if len < MIN_LEN {
            return Err(DecodeError::Truncated {
                len,
                needed: MIN_LEN,
            });
        }
        let version = self.version();
        if version != VERSION {
            return Err(DecodeError::BadVersion { version });
        }
        let length = self.length();
        let minimum = if self.auth_present() {
            MIN_AUTH_LEN
        } else {
            MIN_LEN
        };
        if usize::from(length) < minimum {
            return Err(DecodeError::BadLength { length, minimum });
        }
        if usize::from(length) > len {
            return Err(DecodeError::Truncated {
                len,
                needed: usize::from(length),
            });
        }
        let my_discr = self.my_discriminator();
        if self.detect_mult() == 0 {
            return Err(DecodeError::ZeroDetectMult { my_discr });
        }
        if self.multipoint() {
            return Err(DecodeError::Multipoint { my_discr });
        }
        if my_discr == 0 {
            return Err(DecodeError::ZeroMyDiscriminator);
        }
        if self.auth_present() {
            let auth_len = self.byte(25);
            // Auth Len counts Auth Type and Auth Len themselves (RFC 5880 4.2).
            if auth_len < 2 || MIN_LEN + usize::from(auth_len) > usize::from(length) {
                return Err(DecodeError::BadAuthLength { auth_len, length });
            }
        }
        Ok(())
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }

    fn word(&self, at: usize) -> u32 {
        u32::from_be_bytes([
            self.byte(at),
            self.byte(at + 1),
            self.byte(at + 2),
            self.byte(at + 3),
        ])
    }

    /// Vers.
    pub fn version(&self) -> u8 {
        self.byte(0) >> 5
    }
    /// Diag.
    pub fn diag(&self) -> Diag {
        Diag::from_code(self.byte(0))
    }
    /// Sta.
    pub fn state(&self) -> State {
        State::from_code(self.byte(1) >> 6)
    }
    /// P: the sender asks for a Final.
    pub fn poll(&self) -> bool {
        self.byte(1) & FLAG_POLL != 0
    }
    /// F: the answer to a Poll.
    pub fn final_(&self) -> bool {
        self.byte(1) & FLAG_FINAL != 0
    }
    /// C: Control Plane Independent.
    pub fn cpi(&self) -> bool {
        self.byte(1) & FLAG_CPI != 0
    }
    /// A: Authentication Present.
    pub fn auth_present(&self) -> bool {
        self.byte(1) & FLAG_AUTH != 0
    }
    /// D: Demand mode.
    pub fn demand(&self) -> bool {
        self.byte(1) & FLAG_DEMAND != 0
    }
    /// M: Multipoint (must be zero).
    pub fn multipoint(&self) -> bool {
        self.byte(1) & FLAG_MULTIPOINT != 0
    }
    /// Detect Mult.
    pub fn detect_mult(&self) -> u8 {
        self.byte(2)
    }
    /// Length.
    pub fn length(&self) -> u8 {
        self.byte(3)
    }
    /// My Discriminator.
    pub fn my_discriminator(&self) -> u32 {
        self.word(4)
    }
    /// Your Discriminator.
    pub fn your_discriminator(&self) -> u32 {
        self.word(8)
    }
    /// Desired Min TX Interval.
    pub fn desired_min_tx(&self) -> Duration {
        Duration::from_micros(u64::from(self.word(12)))
    }
    /// Required Min RX Interval.
    pub fn required_min_rx(&self) -> Duration {
        Duration::from_micros(u64::from(self.word(16)))
    }
    /// Required Min Echo RX Interval.
    pub fn required_min_echo_rx(&self) -> Duration {
        Duration::from_micros(u64::from(self.word(20)))
    }
    /// The authentication section, if the A bit is set; empty data past the buffer's end.
    pub fn auth(&self) -> Option<AuthSection> {
        if !self.auth_present() {
            return None;
        }
        let bytes = self.buffer.as_ref();
        let end = (MIN_LEN + usize::from(self.byte(25))).min(usize::from(self.length()));
        let data = bytes.get(MIN_AUTH_LEN..end).unwrap_or_default().to_vec();
        Some(AuthSection {
            auth_type: self.byte(24),
            data,
        })
    }
}

/// A BFD Control packet as plain data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one field per flag bit of RFC 5880 4.1"
)]
pub struct ControlRepr {
    /// Diag.
    pub diag: Diag,
    /// Sta.
    pub state: State,
    /// P.
    pub poll: bool,
    /// F.
    pub final_: bool,
    /// C.
    pub cpi: bool,
    /// D.
    pub demand: bool,
    /// Detect Mult (1..=255).
    pub detect_mult: u8,
    /// My Discriminator (non-zero).
    pub my_discr: u32,
    /// Your Discriminator (0 until the remote's is known).
    pub your_discr: u32,
    /// Desired Min TX Interval.
    pub desired_min_tx: Duration,
    /// Required Min RX Interval.
    pub required_min_rx: Duration,
    /// Required Min Echo RX Interval (0: this system does not reflect echo packets).
    pub required_min_echo_rx: Duration,
    /// Authentication section (A bit).
    pub auth: Option<AuthSection>,
}

impl ControlRepr {
    /// Decodes one UDP payload. Bytes after the Length field are ignored (RFC 5880 6.8.6 only
    /// requires Length not to exceed the payload).
    pub fn parse(payload: &[u8]) -> Result<Self, DecodeError> {
        let p = Packet::new_checked(payload)?;
        Ok(Self {
            diag: p.diag(),
            state: p.state(),
            poll: p.poll(),
            final_: p.final_(),
            cpi: p.cpi(),
            demand: p.demand(),
            detect_mult: p.detect_mult(),
            my_discr: p.my_discriminator(),
            your_discr: p.your_discriminator(),
            desired_min_tx: p.desired_min_tx(),
            required_min_rx: p.required_min_rx(),
            required_min_echo_rx: p.required_min_echo_rx(),
            auth: p.auth(),
        })
    }

    /// Bytes [`ControlRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        MIN_LEN + self.auth.as_ref().map_or(0, |a| 2 + a.data.len())
    }

    /// Writes the packet at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let needed = self.buffer_len();
        let length = u8::try_from(needed).map_err(|_| EmitError::AuthTooLong {
            len: needed - MIN_LEN,
        })?;
        let len = buf.len();
        let out = buf
            .get_mut(..needed)
            .ok_or(EmitError::BufferTooSmall { len, needed })?;
        out[0] = (VERSION << 5) | self.diag.code();
        let mut flags = self.state.code() << 6;
        for (on, bit) in [
            (self.poll, FLAG_POLL),
            (self.final_, FLAG_FINAL),
            (self.cpi, FLAG_CPI),
            (self.auth.is_some(), FLAG_AUTH),
            (self.demand, FLAG_DEMAND),
        ] {
            if on {
                flags |= bit;
            }
        }
        out[1] = flags;
        out[2] = self.detect_mult;
        out[3] = length;
        let words = [
            self.my_discr,
            self.your_discr,
            micros(self.desired_min_tx),
            micros(self.required_min_rx),
            micros(self.required_min_echo_rx),
        ];
        for (chunk, w) in out[4..MIN_LEN].as_chunks_mut::<4>().0.iter_mut().zip(words) {
            *chunk = w.to_be_bytes();
        }
        if let Some(a) = &self.auth {
            out[24] = a.auth_type;
            // `needed` fits a u8, so does the section.
            out[25] = length - 24;
            out[MIN_AUTH_LEN..].copy_from_slice(&a.data);
        }
        Ok(needed)
    }

    /// The packet as a new vector.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EmitError> {
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// `d` in whole microseconds, saturating at `u32::MAX` (about 71 minutes).
pub fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
