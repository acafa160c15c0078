//! havip agent library: the VRRP election core, the XDP data plane control, and the I/O around them.
//!
//! ```text
//!  ring buffer ─┐                                   ┌─> VRRP adverts (raw socket)
//!  netlink     ─┤   Event     ┌──────────────────┐  ├─> BPF maps (ownership, lease)
//!  timers      ─┼───────────> │  vrrp core (FSM) │ ─┼─> gratuitous ARP, VIP address
//!  signals/cfg ─┘             └──────────────────┘  └─> notify, cloud, metrics
//! ```

pub mod bfd;
pub mod cli;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod config_cmd;
pub mod control;
pub mod daemon;
pub mod dataplane;
pub mod diag;
pub mod events;
pub mod exec;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod track;
pub mod vrrp;
