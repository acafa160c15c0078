//! keepalived 2.4's `auth_hmac`: a 28-byte trailer after the VRRP PDU carrying a key id, a
//! clock-derived sequence and HMAC-SHA256/128 over the PDU bound to source, version and VRID.
//! It is keepalived's extension (not in RFC 9568 or RFC 3768); wire details follow keepalived
//! 2.4.3 as described in `../shared/AUTH_HMAC.md`, whose test vectors the unit tests reproduce.
//!
//! - [`trailer`]: placement, length accounting, checksum coverage, HMAC input, sign and check.
//! - [`key`]: key values (`hex:`, `file:`, ASCII) and a key type that is never logged.
//! - [`replay`]: send sequence and the `time` / `monotonic` anti-replay rules, per-peer marks.
//! - [`verify`]: one instance's state, modes and the receive decision in keepalived's order.

pub mod key;
pub mod replay;
pub mod trailer;
pub mod verify;

#[cfg(test)]
mod tests;

pub use key::{HmacKey, KeyError, LoadedKey, parse_key_value};
pub use replay::{AntiReplay, Marks, SendSequence, WallClock};
pub use trailer::{Binding, Family, TRAILER_LEN, Trailer};
pub use verify::{Accepted, AuthHmac, KeyRing, KeyRingError, Mode, Rejection};
