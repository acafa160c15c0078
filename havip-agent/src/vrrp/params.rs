//! What one VRRP instance needs to run its election, independent of the config module, and the
//! checks [`crate::vrrp::fsm::Instance::new`] applies to it.

use std::net::IpAddr;
use std::time::Duration;

use super::packet::{AdvertInterval, Auth, ChecksumMode, Version};

/// The largest `*_repeat` accepted in [`GarpParams`]: each round is one action, and a burst with a
/// zero interval is returned in one vector.
pub const MAX_GARP_REPEAT: u32 = 255;

/// The state an instance asks for at startup (keepalived `state`).
///
/// keepalived 2.2.7 (`vrrp_init_state`, `vrrp_complete_instance`): only an instance that is both
/// `state MASTER` and the address owner (priority 255) becomes master at once. `state MASTER` with
/// a lower priority starts as BACKUP and waits the full master-down interval like any backup, but
/// `nopreempt` and `preempt_delay` are cleared for it; `state BACKUP` with priority 255 also waits
/// the master-down interval. [`InitialState::from_priority`] is keepalived's default when `state`
/// is not configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InitialState {
    /// keepalived `state BACKUP`.
    Backup,
    /// keepalived `state MASTER`.
    Master,
}

impl InitialState {
    /// keepalived's default when no `state` is configured: MASTER for the address owner (priority
    /// 255), BACKUP otherwise (`vrrp_complete_instance`).
    pub const fn from_priority(priority: u8) -> Self {
        if priority == super::fsm::PRIORITY_OWNER {
            Self::Master
        } else {
            Self::Backup
        }
    }
}

/// Gratuitous ARP schedule of a master, keepalived's `garp_*` settings. One "round" is one
/// [`crate::vrrp::fsm::Action::SendGarp`]: a gratuitous ARP for every VIP.
///
/// keepalived (man keepalived.conf, `vrrp_state_become_master`, `vrrp_state_master_rx`): on
/// becoming master it sends `garp_master_repeat` rounds, and the same again `garp_master_delay`
/// later; while master it sends `garp_master_refresh_repeat` rounds every `garp_master_refresh`;
/// when a master receives a lower-priority advert it sends `garp_lower_prio_repeat` rounds, and
/// again `garp_lower_prio_delay` later. `garp_interval` spaces the messages; here it spaces the
/// rounds (the I/O layer may also pace the ARPs inside one round). keepalived checks the refresh
/// only when it sends an advert; here it has its own deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GarpParams {
    /// Delay of the second burst after becoming master; zero for none (keepalived default 5 s).
    pub master_delay: Duration,
    /// Rounds per burst after becoming master (keepalived default 5; `vrrp_min_garp` makes it 1
    /// with no second burst). At most [`MAX_GARP_REPEAT`].
    pub master_repeat: u32,
    /// Period of the refresh bursts while master; `None` or zero for none (keepalived default).
    pub master_refresh: Option<Duration>,
    /// Rounds per refresh burst (keepalived default 1). At most [`MAX_GARP_REPEAT`].
    pub master_refresh_repeat: u32,
    /// Delay between the rounds of a burst (keepalived `garp_interval`, default 0).
    pub interval: Duration,
    /// Delay of the second burst after a lower-priority advert; zero for none (keepalived
    /// `garp_lower_prio_delay`, default `garp_master_delay`).
    pub lower_prio_delay: Duration,
    /// Rounds sent when a lower-priority advert arrives while master; zero for none (keepalived
    /// `garp_lower_prio_repeat`, default `garp_master_repeat`; 0 in `vrrp_strict` mode).
    /// At most [`MAX_GARP_REPEAT`].
    pub lower_prio_repeat: u32,
    /// havip's rate limit on the bursts of [`Self::lower_prio_repeat`]: after one, further
    /// lower-priority adverts trigger no burst for this long (each such advert gives one
    /// [`crate::vrrp::fsm::Action::GarpSuppressed`] instead). keepalived has no limit, so 100
    /// spoofed lower-priority adverts make it send 500 GARPs; here they make one burst per
    /// period. Zero for no limit (keepalived's behaviour). Default
    /// [`DEFAULT_LOWER_PRIO_HOLDOFF`].
    pub lower_prio_holdoff: Duration,
}

/// Default [`GarpParams::lower_prio_holdoff`]: one second, so that a lower-priority node that
/// keeps advertising at the common 1 s interval is still answered about once per advert, while a
/// flood costs at most one burst a second.
pub const DEFAULT_LOWER_PRIO_HOLDOFF: Duration = Duration::from_secs(1);

/// Default bound on the `Master_Adver_Interval` a v3 backup learns, as a multiple of its own
/// advert interval ([`InstanceParams::max_learned_interval`]): a legitimately slower master
/// (keepalived warns on mismatched intervals but runs) still works, a spoofed Max Adver Int of
/// 40.95 s on a 1 s instance stretches `Master_Down_Interval` to at most about 13 s, not 2 min.
pub const DEFAULT_LEARNED_INTERVAL_FACTOR: u32 = 4;

impl Default for GarpParams {
    /// keepalived 2.2.7's defaults (`VRRP_GARP_DELAY`, `VRRP_GARP_REP`, `VRRP_GARP_REFRESH`,
    /// `VRRP_GARP_REFRESH_REP`, lower-priority values inherited from the master ones).
    fn default() -> Self {
        Self {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
            interval: Duration::ZERO,
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            lower_prio_holdoff: DEFAULT_LOWER_PRIO_HOLDOFF,
        }
    }
}

/// Everything the election of one VRRP instance needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceParams {
    /// Instance name, for logs and errors.
    pub name: String,
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// VRRP version spoken and accepted.
    pub version: Version,
    /// Configured priority, 1..=255 (255: address owner).
    pub priority: u8,
    /// Advertisement interval: whole seconds 1..=255 for v2, a multiple of 10 ms in
    /// 10 ms..=40.95 s for v3.
    pub advert_interval: Duration,
    /// Preempt a lower-priority master (keepalived `preempt`; `nopreempt` is `false`).
    pub preempt: bool,
    /// keepalived `preempt_delay`: how long a backup keeps accepting a lower-priority master after
    /// first seeing it, before it preempts. Zero for none.
    pub preempt_delay: Duration,
    /// keepalived `state`.
    pub initial_state: InitialState,
    /// This node's primary address on the interface: the adverts' source, and the tie-breaker
    /// between equal priorities (RFC 9568 6.4.3).
    pub primary_addr: IpAddr,
    /// Virtual addresses.
    pub vips: Vec<IpAddr>,
    /// keepalived `unicast_peer`: adverts are sent to and accepted only from these, addressed
    /// to `primary_addr`; empty for multicast (224.0.0.18).
    pub unicast_peers: Vec<IpAddr>,
    /// Upper bound on the `Master_Adver_Interval` learned from a v3 master's adverts (RFC 9568
    /// 6.4.2 learns it unbounded); a larger advertised interval is clamped to it and reported
    /// with [`crate::vrrp::fsm::Action::IntervalClamped`]. `None`:
    /// [`DEFAULT_LEARNED_INTERVAL_FACTOR`] times `advert_interval`. Never below
    /// `advert_interval`.
    pub max_learned_interval: Option<Duration>,
    /// v2 authentication; must be [`Auth::None`] for v3.
    pub auth: Auth,
    /// v3 checksum computation (keepalived `v3_checksum_as_v2`).
    pub checksum_mode: ChecksumMode,
    /// Gratuitous ARP schedule.
    pub garp: GarpParams,
}

/// Parameters that cannot run an election.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// VRID 0 (RFC 9568 5.2.3: 1..=255).
    #[error("instance {name}: VRID must be 1..=255, not 0")]
    ZeroVrid {
        /// Instance name.
        name: String,
    },
    /// Priority 0 is reserved for a leaving master (RFC 9568 5.2.4).
    #[error("instance {name}: priority must be 1..=255, not 0")]
    ZeroPriority {
        /// Instance name.
        name: String,
    },
    /// Interval not representable in the version's unit and range.
    #[error(
        "instance {name}: advert interval {interval:?} is not valid for VRRPv{version} \
         (v2: whole seconds 1..=255; v3: multiple of 10 ms, 10 ms..=40.95 s)"
    )]
    BadInterval {
        /// Instance name.
        name: String,
        /// VRRP version number.
        version: u8,
        /// Interval given.
        interval: Duration,
    },
    /// VRRP v3 needs at least one address (RFC 9568 5.2.5; keepalived requires one too).
    #[error("instance {name}: VRRPv3 needs at least one virtual address")]
    NoVips {
        /// Instance name.
        name: String,
    },
    /// More addresses than one advert can carry.
    #[error("instance {name}: {count} virtual addresses, at most 255 fit an advert")]
    TooManyVips {
        /// Instance name.
        name: String,
        /// Number of addresses given.
        count: usize,
    },
    /// VRRP v3 has no authentication.
    #[error("instance {name}: VRRPv3 has no authentication")]
    AuthWithV3 {
        /// Instance name.
        name: String,
    },
    /// A `garp_*_repeat` above [`MAX_GARP_REPEAT`].
    #[error("instance {name}: {field} = {value} is above {MAX_GARP_REPEAT}")]
    GarpRepeat {
        /// Instance name.
        name: String,
        /// Which setting.
        field: &'static str,
        /// Value given.
        value: u32,
    },
}

impl InstanceParams {
    /// The bound in force on the learned `Master_Adver_Interval` (see
    /// [`Self::max_learned_interval`]).
    #[must_use]
    pub fn learned_interval_bound(&self) -> Duration {
        self.max_learned_interval
            .unwrap_or_else(|| {
                self.advert_interval
                    .saturating_mul(DEFAULT_LEARNED_INTERVAL_FACTOR)
            })
            .max(self.advert_interval)
    }

    /// Validates the parameters and returns the advert interval in its wire unit.
    pub(crate) fn validate(&self) -> Result<AdvertInterval, ParamsError> {
        let name = || self.name.clone();
        if self.vrid == 0 {
            return Err(ParamsError::ZeroVrid { name: name() });
        }
        if self.priority == 0 {
            return Err(ParamsError::ZeroPriority { name: name() });
        }
        let interval = AdvertInterval::from_duration(self.version, self.advert_interval)
            .filter(|i| !i.is_zero())
            .ok_or_else(|| ParamsError::BadInterval {
                name: name(),
                version: self.version.number(),
                interval: self.advert_interval,
            })?;
        if self.vips.len() > usize::from(u8::MAX) {
            return Err(ParamsError::TooManyVips {
                name: name(),
                count: self.vips.len(),
            });
        }
        if self.version == Version::V3 {
            if self.vips.is_empty() {
                return Err(ParamsError::NoVips { name: name() });
            }
            if self.auth != Auth::None {
                return Err(ParamsError::AuthWithV3 { name: name() });
            }
        }
        for (field, value) in [
            ("garp_master_repeat", self.garp.master_repeat),
            (
                "garp_master_refresh_repeat",
                self.garp.master_refresh_repeat,
            ),
            ("garp_lower_prio_repeat", self.garp.lower_prio_repeat),
        ] {
            if value > MAX_GARP_REPEAT {
                return Err(ParamsError::GarpRepeat {
                    name: name(),
                    field,
                    value,
                });
            }
        }
        Ok(interval)
    }
}
