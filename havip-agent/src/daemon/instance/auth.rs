//! keepalived 2.4's `auth_hmac` on the wire for one instance (a keepalived extension, not RFC
//! 9568; `../shared/AUTH_HMAC.md`): the trailer on every advert sent, and the check of every
//! advert received before the state machine sees it. The kernel accepts the trailer's length
//! but never fences on such an instance (`vrid_flags::AUTH_HMAC`); ownership ends here, after
//! the HMAC verified, through the state machine's revoke.

use std::{net::IpAddr, time::SystemTime};

use tracing::warn;

use super::Runtime;
use crate::{
    config,
    daemon::DaemonError,
    events::Event as Published,
    vrrp::{
        self, Auth,
        auth_hmac::{Accepted, AuthHmac, Rejection, TRAILER_LEN, WallClock},
    },
};

/// `outcome` of `havip_auth_hmac_total` for an advert whose trailer verified.
pub const OUTCOME_OK: &str = "ok";
/// `outcome` for an advert accepted without a trailer (permissive and receive-only modes).
pub const OUTCOME_UNSIGNED: &str = "unsigned";

/// The instance's `auth_hmac` state from its configuration (`None` without the block).
pub(crate) fn build(cfg: &config::Instance) -> Result<Option<AuthHmac>, DaemonError> {
    cfg.auth_hmac
        .as_ref()
        .map(|a| a.build(cfg.advert_interval, &cfg.unicast_peers))
        .transpose()
        .map_err(|e| DaemonError::Invalid {
            instance: cfg.name.clone(),
            what: format!("auth_hmac: {e}"),
        })
}

/// The wall clock the sequence is derived from (keepalived `clock_seq`: `CLOCK_REALTIME`).
fn wall_now() -> WallClock {
    WallClock::from_system(SystemTime::now())
}

/// The log limiter's key of a rejection (one budget each, apart from the state machine's).
const fn log_key(r: Rejection) -> &'static str {
    match r {
        Rejection::Missing => "auth_hmac_missing",
        Rejection::Malformed => "auth_hmac_malformed",
        Rejection::Stale { .. } => "auth_hmac_stale",
        Rejection::UnknownKey { .. } => "auth_hmac_unknown_key",
        Rejection::BadHmac => "auth_hmac_invalid_hmac",
        Rejection::Replay => "auth_hmac_replay",
        Rejection::NotPeer => "auth_hmac_not_peer",
    }
}

/// One WARN line for a refused advert. `cause` tells a clock problem (stale, replay) from a key
/// problem (unknown key, bad HMAC) and from a peer without signing (missing).
fn log_rejection(instance: &str, src: IpAddr, r: Rejection, suppressed: u64) {
    match r {
        Rejection::Stale { skew } => warn!(
            instance,
            %src,
            skew_s = skew,
            suppressed,
            cause = "clock",
            "auth_hmac: advert refused as stale: its time is outside the window of ours \
             (clock skew between the peers, check NTP; or an old capture replayed)"
        ),
        Rejection::Replay => warn!(
            instance,
            %src,
            suppressed,
            cause = "clock",
            "auth_hmac: advert refused as a replay: its sequence is not after the last one \
             accepted from this peer (a replayed capture, or the peer's clock stepped back)"
        ),
        Rejection::UnknownKey { key_id } => warn!(
            instance,
            %src,
            key_id,
            suppressed,
            cause = "key",
            "auth_hmac: advert signed with a key id this node does not have (add the key \
             before the peer's active_key names it)"
        ),
        Rejection::BadHmac => warn!(
            instance,
            %src,
            suppressed,
            cause = "key",
            "auth_hmac: advert refused: the HMAC does not verify (the peers hold different \
             bytes under this key id, or the advert was forged or altered)"
        ),
        Rejection::Missing => warn!(
            instance,
            %src,
            suppressed,
            cause = "unsigned",
            "auth_hmac: unsigned advert refused in enforce mode (the peer has no auth_hmac, \
             is in receive-only mode, or the advert is forged)"
        ),
        Rejection::Malformed => warn!(
            instance,
            %src,
            suppressed,
            cause = "malformed",
            "auth_hmac: advert refused: trailer type is not 1 or its reserved field is not 0"
        ),
        Rejection::NotPeer => warn!(
            instance,
            %src,
            suppressed,
            cause = "peer",
            "auth_hmac: signed advert from an address that is not a unicast_peer"
        ),
    }
}

impl Runtime {
    /// The trailer for the encoded message `pdu` (`Ok(None)`: no `auth_hmac`, or receive-only
    /// mode); `Err` when it cannot be signed, which is logged and nothing is sent. The HMAC
    /// input reads the checksum as zero and does not bind the destination (keepalived
    /// `e6f8b2cf`), so one destination's bytes sign the advert for all of them.
    pub(super) fn trailer(&mut self, pdu: &[u8]) -> Result<Option<[u8; TRAILER_LEN]>, ()> {
        let Some(auth) = self.auth_hmac.as_mut() else {
            return Ok(None);
        };
        if !auth.mode().signs() {
            return Ok(None);
        }
        let p = self.fsm.params();
        let (version, vrid) = (p.version.number(), p.vrid);
        match auth.sign(pdu, self.src, version, vrid, wall_now()) {
            Ok(t) => Ok(t),
            Err(e) => {
                warn!(instance = self.name(), error = %e, "auth_hmac: advert not signed; not sent");
                Err(())
            }
        }
    }

    /// The `auth_hmac` check of a received advert's IP payload (`payload`: the PDU and its
    /// trailer, if any) from `src`, in keepalived's order (`vrrp_check_packet`: after length,
    /// TTL and version, which the kernel checked, before everything else). Returns the PDU to
    /// decode, or `None` when the advert is refused (counted and logged, rate limited).
    pub(crate) fn authenticate<'a>(
        &mut self,
        payload: &'a [u8],
        src: IpAddr,
        now: vrrp::Instant,
    ) -> Option<&'a [u8]> {
        let p = self.fsm.params();
        let (version, vrid) = (p.version.number(), p.vrid);
        let Some(auth) = self.auth_hmac.as_mut() else {
            return Some(payload);
        };
        let window = auth.anti_replay().window();
        let verdict = auth.verify(payload, src, version, vrid, wall_now());
        let id = self.id;
        match verdict {
            Ok((pdu, accepted)) => {
                let outcome = match accepted {
                    Accepted::Unsigned => OUTCOME_UNSIGNED,
                    Accepted::Signed { .. } => OUTCOME_OK,
                };
                self.emit(Published::AuthHmac { id, outcome });
                // keepalived warns when an accepted advert's skew is over half the window:
                // the clocks drift towards STALE.
                if let Accepted::Signed { key_id, skew } = accepted
                    && let Some(w) = window
                    && skew.unsigned_abs() > w / 2
                    && let Some(suppressed) = self.log_limit.check("auth_hmac_skew", now)
                {
                    warn!(
                        instance = self.name(),
                        %src,
                        key_id,
                        skew_s = skew,
                        window_s = w,
                        suppressed,
                        cause = "clock",
                        "auth_hmac: the peers' clocks differ by over half the time window; \
                         adverts will be refused as stale past it"
                    );
                }
                Some(pdu)
            }
            Err(rejection) => {
                self.emit(Published::AuthHmac {
                    id,
                    outcome: rejection.label(),
                });
                if let Some(suppressed) = self.log_limit.check(log_key(rejection), now) {
                    log_rejection(self.name(), src, rejection, suppressed);
                }
                None
            }
        }
    }

    /// Whether this instance runs `auth_hmac`.
    #[must_use]
    pub fn has_auth_hmac(&self) -> bool {
        self.auth_hmac.is_some()
    }

    /// A reload changed only the authentication of this running instance (`auth_hmac` keys,
    /// `active_key`, mode, anti-replay; or the legacy password): applied in place, with no
    /// transition. `fresh` comes from [`build`] on the new configuration. The replay marks and
    /// the send sequence are kept, so a peer's old adverts stay refused and ours keep growing;
    /// the kernel's flag follows (its grant and lease are kept).
    pub(crate) fn reauthenticate(
        &mut self,
        fresh: Option<AuthHmac>,
        legacy: Auth,
        dp: &mut crate::dataplane::Dataplane,
    ) {
        self.auth_hmac = match (self.auth_hmac.take(), fresh) {
            (Some(mut old), Some(new)) => {
                old.reconfigure_from(new);
                Some(old)
            }
            (_, fresh) => fresh,
        };
        self.fsm.set_auth(legacy);
        let (ifindex, vrid) = (self.iface.index, self.fsm.params().vrid);
        let cfg = crate::dataplane::VridConfig {
            auth_hmac: self.auth_hmac.is_some(),
            ..crate::dataplane::VridConfig::from_params(
                self.fsm.params(),
                self.fsm.effective_priority(),
            )
        };
        if let Err(e) = dp.configure_vrid(ifindex, vrid, &cfg) {
            warn!(instance = self.name(), error = %e, "authentication update in the kernel failed");
        }
        tracing::info!(
            instance = self.name(),
            auth_hmac = self.auth_hmac.as_ref().map(|a| a.mode().keyword()),
            active_key = self.auth_hmac.as_ref().map(AuthHmac::active_key),
            "authentication reloaded in place"
        );
    }
}
