//! VRRP election core (sans-IO): wire codec and state machine.
//!
//! Nothing here does I/O or reads a clock. The daemon feeds [`Instance::handle`] with
//! `(now, Event)`, carries out the returned [`Action`]s in order, and wakes the instance again at
//! [`Instance::poll_at`]. (The one exception: [`auth_hmac::key`] reads `file:` keys when the
//! configuration is loaded.)
//!
//! - [`auth_hmac`]: keepalived 2.4's HMAC trailer on adverts (codec, keys, anti-replay).
//! - [`packet`]: VRRP v2/v3 advert codec (zero-copy view and plain repr).
//! - [`fsm`]: the state machine of one instance.
//! - [`messages`]: its inputs and outputs.
//! - [`params`]: what an instance needs, validated by [`Instance::new`].
//! - [`rule`]: the agent's side of the acceptance and preemption rule shared with the kernel.
//! - [`time`]: monotonic time as data.

pub mod auth_hmac;
pub mod fsm;
mod garp;
pub mod messages;
pub mod packet;
pub mod params;
pub mod rule;
pub mod sync_group;
pub mod time;

pub use fsm::{Action, AdvertRejected, Event, Instance, Reason, Resume, State};
pub use packet::{
    AdvertInterval, AdvertRepr, Auth, Centiseconds, ChecksumMode, DecodeError, EmitError, Seconds,
    Version,
};
pub use params::{GarpParams, InitialState, InstanceParams, ParamsError};
pub use rule::VridConfig;
pub use time::Instant;
