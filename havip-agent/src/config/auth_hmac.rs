//! `auth_hmac` settings of an instance (keepalived 2.4's `auth_hmac { }` block; TOML
//! `[instance.auth_hmac]`), their checks, and the runtime state they build.
//!
//! TOML:
//! ```toml
//! [instance.auth_hmac]
//! keys = [{ id = 1, key = "file:/etc/havip/vrrp.key" }, { id = 2, key = "hex:00..1f" }]
//! active_key = 2
//! anti_replay = "time"      # or "monotonic"
//! time_window = 5           # seconds, 1..=300; default max(3 * advert_int, 5)
//! mode = "enforce"          # or "permissive", "receive-only"
//! ```

use std::{fmt, net::IpAddr, time::Duration};

use serde::{Deserialize, Serialize};

use crate::vrrp::auth_hmac::{
    AntiReplay, AuthHmac, KeyError, KeyRing, KeyRingError, Marks, Mode, parse_key_value,
};

/// Longest `time_window` keepalived accepts, in seconds.
pub const MAX_TIME_WINDOW: u32 = 300;

/// A `key` value as written (`hex:...`, `file:...` or ASCII). `Debug` never shows it; it is
/// serialized as written so a converted configuration keeps working.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyValue(pub String);

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.strip_prefix("file:") {
            // A path is not secret and tells which file to fix.
            Some(path) => write!(f, "file:{path}"),
            None => f.write_str("[redacted]"),
        }
    }
}

/// One `key <id> <value>` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacKeyConfig {
    /// Key id, 1..=255, sent in every trailer so receivers pick the key.
    pub id: u8,
    /// The key: `hex:<64..128 hex digits>`, `file:<path>` or 32..64 ASCII bytes.
    pub key: KeyValue,
}

/// `anti_replay`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AntiReplayKind {
    /// Sequence seconds within `time_window` of the receiver's clock, and growing.
    #[default]
    Time,
    /// Growing sequence only (clocks need not agree).
    Monotonic,
}

/// `mode` as spelt in configuration files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeConfig {
    /// Sign, and refuse unsigned adverts.
    #[default]
    Enforce,
    /// Sign, and accept unsigned adverts.
    Permissive,
    /// Do not sign; verify signed adverts.
    ReceiveOnly,
}

impl From<ModeConfig> for Mode {
    fn from(m: ModeConfig) -> Self {
        match m {
            ModeConfig::Enforce => Self::Enforce,
            ModeConfig::Permissive => Self::Permissive,
            ModeConfig::ReceiveOnly => Self::ReceiveOnly,
        }
    }
}

/// The `auth_hmac` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthHmacConfig {
    /// The keys receivers accept; ids unique.
    pub keys: Vec<HmacKeyConfig>,
    /// The id of the key that signs; it must be one of `keys`.
    pub active_key: u8,
    /// Anti-replay rule. Default `time`.
    #[serde(default)]
    pub anti_replay: AntiReplayKind,
    /// Time mode window in seconds, 1..=300. Default `max(3 * advert_int, 5)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_window: Option<u32>,
    /// Rollout step. Default `enforce`.
    #[serde(default)]
    pub mode: ModeConfig,
}

/// Why an `auth_hmac` block cannot be used; the path suffix under `auth_hmac` says where.
#[derive(Debug, thiserror::Error)]
pub enum AuthHmacError {
    /// A key value does not decode (messages never carry key bytes).
    #[error("key {id}: {source}")]
    Key {
        /// Key id.
        id: u8,
        /// Why.
        source: KeyError,
    },
    /// Ids or `active_key` are wrong.
    #[error(transparent)]
    Ring(#[from] KeyRingError),
    /// `time_window` outside 1..=300.
    #[error("time_window must be 1..={MAX_TIME_WINDOW} seconds, not {0}")]
    Window(u32),
}

impl AuthHmacConfig {
    /// The anti-replay rule, with keepalived's default window for `advert_interval`.
    pub fn anti_replay(&self, advert_interval: Duration) -> AntiReplay {
        match self.anti_replay {
            AntiReplayKind::Monotonic => AntiReplay::Monotonic,
            AntiReplayKind::Time => AntiReplay::Time {
                window: self.time_window.unwrap_or_else(|| {
                    let cs = u32::try_from(advert_interval.as_millis() / 10).unwrap_or(u32::MAX);
                    AntiReplay::default_window(cs)
                }),
            },
        }
    }

    /// Loads the keys (reading `file:` keys) into a key ring. Also returns the ids of keys read
    /// from files that group or others may read (keepalived reports them, and loads them).
    pub fn key_ring(&self) -> Result<(KeyRing, Vec<u8>), AuthHmacError> {
        if let Some(w) = self.time_window
            && !(1..=MAX_TIME_WINDOW).contains(&w)
        {
            return Err(AuthHmacError::Window(w));
        }
        let mut keys = Vec::with_capacity(self.keys.len());
        let mut too_open = Vec::new();
        for k in &self.keys {
            let loaded = parse_key_value(&k.key.0)
                .map_err(|source| AuthHmacError::Key { id: k.id, source })?;
            if loaded.file_too_open {
                too_open.push(k.id);
            }
            keys.push((k.id, loaded.key));
        }
        Ok((KeyRing::new(keys, self.active_key)?, too_open))
    }

    /// The runtime state of one instance: per-peer marks when `peers` is not empty, else
    /// keepalived's multicast slots.
    pub fn build(
        &self,
        advert_interval: Duration,
        peers: &[IpAddr],
    ) -> Result<AuthHmac, AuthHmacError> {
        let (ring, _) = self.key_ring()?;
        let marks = if peers.is_empty() {
            Marks::multicast()
        } else {
            Marks::unicast(peers.iter().copied())
        };
        Ok(AuthHmac::new(
            self.mode.into(),
            self.anti_replay(advert_interval),
            ring,
            marks,
        ))
    }
}
