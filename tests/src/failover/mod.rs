//! `havip-bench failover`: keepalived and havip on the same two-node lab, from the same generated
//! keepalived.conf, alternating run by run; faults (link cut, SIGKILL, SIGTERM, SIGSTOP, the
//! preemption back) injected at a random phase of the advert interval; every advert, gratuitous
//! ARP and ARP answer timestamped by the kernel at the bridge ports, so the takeover is measured
//! against the protocol's own bound (RFC 9568 6.4.2) rather than against the fault alone.
//!
//! [`timeline`] computes the numbers from captured frames (pure, unit-tested), [`wire`] captures
//! and probes, [`run`] drives the lab, [`report`] prints the tables and the JSON. [`stress`] is
//! `--stress`: transitions counted while every CPU is saturated ([`steal`]: the hypervisor's share of the load). [`bfd`] is `--bfd`: the BFD
//! rows (issue #12). [`restart`] is `--restart`: planned restarts of the master, havip beside
//! keepalived.

pub mod bfd;
pub mod report;
pub mod restart;
pub mod run;
pub mod steal;
pub mod stress;
pub mod timeline;
pub mod wire;
