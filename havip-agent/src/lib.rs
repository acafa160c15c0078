//! havip agent library: the VRRP election core, the XDP data plane control, and the I/O around them.

pub mod config;
pub mod dataplane;
pub mod vrrp;
