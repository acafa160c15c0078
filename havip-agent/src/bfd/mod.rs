//! BFD core (sans-IO): Bidirectional Forwarding Detection in asynchronous mode (RFC 5880) over
//! single-hop IPv4 UDP (RFC 5881), as keepalived's `bfd_instance` and FRR's bfdd speak it.
//!
//! Nothing here does I/O or reads a clock, as in [`crate::vrrp`]: the transport
//! (`crate::daemon::bfd`) feeds [`Sessions::receive`] with `(now, source, TTL, payload)` and
//! [`Sessions::on_timer`] at [`Sessions::poll_at`], sends the packets the sessions return, and
//! turns their state changes into tracking events for the VRRP instances.
//!
//! - [`packet`]: the Control packet codec (RFC 5880 4.1).
//! - [`session`]: one session's state machine (RFC 5880 6.8).
//! - [`demux`]: the sessions of a system and the demultiplexing rules (RFC 5880 6.8.6,
//!   RFC 5881 5).
//! - [`stats`]: what the transport shares with metrics and status.

pub mod demux;
pub mod packet;
pub mod session;
pub mod stats;

pub use demux::{Discard, OUTCOMES, Peer, Sessions, Snapshot};
pub use packet::{ControlRepr, DecodeError, Diag, State};
pub use session::{Input, Output, Session, SessionParams};
pub use stats::Stats;
