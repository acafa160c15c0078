//! One instance's `auth_hmac` state: keys, mode, anti-replay marks and send sequence; the
//! receive decision in keepalived's order (`../shared/AUTH_HMAC.md` sections 6-7) and signing.

use std::net::IpAddr;

use super::{
    key::HmacKey,
    replay::{self, AntiReplay, Marks, SendSequence, WallClock},
    trailer::{self, Binding, Family, SignError, TRAILER_LEN, Trailer},
};

/// How strictly an instance applies `auth_hmac` (keepalived `mode`); the three steps of a
/// rollout without dropped adverts: receive-only, permissive, enforce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Sends trailers; refuses trailerless adverts (the default, and forced by `strict_mode`).
    #[default]
    Enforce,
    /// Sends trailers; accepts trailerless adverts; a trailer that fails still rejects.
    Permissive,
    /// Sends no trailer (the packet is as without `auth_hmac`); verifies trailers it receives.
    ReceiveOnly,
}

impl Mode {
    /// Whether outgoing adverts carry a trailer.
    pub const fn signs(self) -> bool {
        !matches!(self, Self::ReceiveOnly)
    }

    /// The keyword in keepalived.conf and TOML.
    pub const fn keyword(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Permissive => "permissive",
            Self::ReceiveOnly => "receive-only",
        }
    }

    /// Reads a keyword.
    pub fn from_keyword(word: &str) -> Option<Self> {
        [Self::Enforce, Self::Permissive, Self::ReceiveOnly]
            .into_iter()
            .find(|m| m.keyword() == word)
    }
}

/// The keys of an instance and the one that signs. Key ids are 1..=255 and unique.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRing {
    keys: Vec<(u8, HmacKey)>,
    active: u8,
}

/// A key set that cannot sign (keepalived then disables `auth_hmac` for the instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    /// Key id 0 is not allowed.
    #[error("auth_hmac key id must be 1..255")]
    IdZero,
    /// Two keys have the same id.
    #[error("auth_hmac key id {0} is defined twice")]
    Duplicate(u8),
    /// `active_key` names no defined key.
    #[error("auth_hmac active_key {0} names no defined key")]
    ActiveUndefined(u8),
}

impl KeyRing {
    /// Checks ids and that `active` is one of them.
    pub fn new(keys: Vec<(u8, HmacKey)>, active: u8) -> Result<Self, KeyRingError> {
        for (i, (id, _)) in keys.iter().enumerate() {
            if *id == 0 {
                return Err(KeyRingError::IdZero);
            }
            if keys[..i].iter().any(|(other, _)| other == id) {
                return Err(KeyRingError::Duplicate(*id));
            }
        }
        if !keys.iter().any(|(id, _)| *id == active) {
            return Err(KeyRingError::ActiveUndefined(active));
        }
        Ok(Self { keys, active })
    }

    /// The key with `id`.
    pub fn get(&self, id: u8) -> Option<&HmacKey> {
        self.keys.iter().find(|(k, _)| *k == id).map(|(_, key)| key)
    }

    /// The id that signs.
    pub const fn active_id(&self) -> u8 {
        self.active
    }
}

/// Why a received advert is refused; one metrics label each (keepalived's counters
/// `auth_ext_missing`, `_malformed`, `_stale`, `_unknown_key`, `_invalid_hmac`, `_replay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No trailer (the length is not the announced length + 28) in enforce mode.
    Missing,
    /// `ext_type` is not 1 or the reserved field is not zero.
    Malformed,
    /// Time mode: the trailer's seconds are more than the window from the receiver's clock.
    Stale {
        /// `receiver - sender` seconds, to tell clock skew from a bad key in logs.
        skew: i32,
    },
    /// No key with the trailer's id.
    UnknownKey {
        /// The id in the trailer.
        key_id: u8,
    },
    /// The HMAC does not match (wrong key, tampering, or another VRID/source).
    BadHmac,
    /// The sequence is not after the last one accepted from this sender.
    Replay,
    /// Unicast: a signed advert from an address that is not a `unicast_peer` (keepalived logs
    /// it without an auth counter).
    NotPeer,
}

impl Rejection {
    /// The `outcome` label of `havip_auth_hmac_total`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Stale { .. } => "stale",
            Self::UnknownKey { .. } => "unknown_key",
            Self::BadHmac => "invalid_hmac",
            Self::Replay => "replay",
            Self::NotPeer => "not_peer",
        }
    }
}

/// An advert that may go on to the VRRP checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// No trailer, and the mode allows that.
    Unsigned,
    /// A trailer that verified.
    Signed {
        /// Key that signed it (tells which key peers use during a rotation).
        key_id: u8,
        /// `receiver - sender` seconds; keepalived warns when over half the window.
        skew: i32,
    },
}

/// Everything one instance needs for `auth_hmac`.
#[derive(Clone, Debug)]
pub struct AuthHmac {
    mode: Mode,
    anti_replay: AntiReplay,
    keys: KeyRing,
    marks: Marks,
    send: SendSequence,
}

impl AuthHmac {
    /// New state; `marks` says unicast peers or multicast slots.
    pub const fn new(mode: Mode, anti_replay: AntiReplay, keys: KeyRing, marks: Marks) -> Self {
        Self {
            mode,
            anti_replay,
            keys,
            marks,
            send: SendSequence::resume(0),
        }
    }

    /// A reload (SIGHUP): new mode, keys and anti-replay mode, keeping the replay marks and the
    /// send sequence so a peer's old adverts stay refused and ours keep growing.
    pub fn reconfigure(&mut self, mode: Mode, anti_replay: AntiReplay, keys: KeyRing) {
        self.mode = mode;
        self.anti_replay = anti_replay;
        self.keys = keys;
    }

    /// A reload: the mode, keys and anti-replay rule of `new` (built from the new
    /// configuration), keeping this state's marks and send sequence ([`Self::reconfigure`]).
    pub fn reconfigure_from(&mut self, new: Self) {
        self.reconfigure(new.mode, new.anti_replay, new.keys);
    }

    /// The mode in force.
    pub const fn mode(&self) -> Mode {
        self.mode
    }

    /// The id of the key that signs.
    pub const fn active_key(&self) -> u8 {
        self.keys.active_id()
    }

    /// The anti-replay rule in force.
    pub const fn anti_replay(&self) -> AntiReplay {
        self.anti_replay
    }

    /// The last sequence sent.
    pub const fn last_sent(&self) -> u64 {
        self.send.last()
    }

    /// Receive check of an IP payload (IPv4: after the header; IPv6: the payload) from `src`
    /// for the instance's `version` and `vrid`. On success returns the PDU without trailer.
    pub fn verify<'a>(
        &mut self,
        payload: &'a [u8],
        src: IpAddr,
        version: u8,
        vrid: u8,
        now: WallClock,
    ) -> Result<(&'a [u8], Accepted), Rejection> {
        let Some((pdu, raw)) = trailer::split(payload, Family::of(src)) else {
            return match self.mode {
                Mode::Enforce => Err(Rejection::Missing),
                Mode::Permissive | Mode::ReceiveOnly => Ok((payload, Accepted::Unsigned)),
            };
        };
        let sent = Trailer::parse(raw);
        if !sent.is_well_formed() {
            return Err(Rejection::Malformed);
        }
        let before = self.marks.get(src).map_err(|_| Rejection::NotPeer)?;
        let mut mark = before;
        let checked = replay::check_time(self.anti_replay, sent.seq, now, &mut mark);
        if mark != before {
            self.marks.set(src, mark);
        }
        let skew = checked.map_err(|s| Rejection::Stale { skew: s.skew })?;
        let key = self.keys.get(sent.key_id).ok_or(Rejection::UnknownKey {
            key_id: sent.key_id,
        })?;
        let binding = Binding { src, version, vrid };
        if !trailer::hmac_matches(key.expose(), &binding, pdu, &sent) {
            return Err(Rejection::BadHmac);
        }
        if !replay::fresh(sent.seq, mark) {
            return Err(Rejection::Replay);
        }
        self.marks.set(src, Some(sent.seq));
        Ok((
            pdu,
            Accepted::Signed {
                key_id: sent.key_id,
                skew,
            },
        ))
    }

    /// The trailer to append to `pdu` sent from `src`, or `None` in receive-only mode. The
    /// sequence moves only when a trailer is made.
    pub fn sign(
        &mut self,
        pdu: &[u8],
        src: IpAddr,
        version: u8,
        vrid: u8,
        now: WallClock,
    ) -> Result<Option<[u8; TRAILER_LEN]>, SignError> {
        if !self.mode.signs() {
            return Ok(None);
        }
        let id = self.keys.active_id();
        let Some(key) = self.keys.get(id) else {
            return Ok(None);
        };
        let seq = self.send.next(now, self.anti_replay);
        let binding = Binding { src, version, vrid };
        trailer::sign(key.expose(), id, &binding, pdu, seq).map(Some)
    }
}
