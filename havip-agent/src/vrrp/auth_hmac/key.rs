//! `auth_hmac` keys: how a `key` line's value becomes key bytes (keepalived `P`
//! `vrrp_auth_hmac_key_handler`, `read_hex_str`), and a key type that never reaches a log.

use std::{fmt, path::Path};

/// Shortest key keepalived 2.4.3 accepts (it rose from 16 before 2.4.0 shipped).
pub const MIN_KEY_LEN: usize = 32;
/// Longest key: one HMAC-SHA256 block, so it is never hashed.
pub const MAX_KEY_LEN: usize = super::trailer::MAX_KEY_LEN;
/// keepalived rejects key files of this size or more (64 bytes as hex with spacing and CR/LF).
pub const MAX_KEY_FILE_LEN: u64 = 139;

/// Key bytes. `Debug` prints `[redacted]` and the length only; [`HmacKey::expose`] gives the
/// bytes at the place that signs or verifies.
#[derive(Clone, PartialEq, Eq)]
pub struct HmacKey(Box<[u8]>);

impl HmacKey {
    /// Checks the length (32..=64 bytes) and wraps `bytes`.
    pub fn new(bytes: Vec<u8>) -> Result<Self, KeyError> {
        match bytes.len() {
            len @ 0..MIN_KEY_LEN => Err(KeyError::TooShort { len }),
            MIN_KEY_LEN..=MAX_KEY_LEN => Ok(Self(bytes.into_boxed_slice())),
            len => Err(KeyError::TooLong { len }),
        }
    }

    /// The key bytes, for the HMAC. Never log what this returns.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted; {} bytes]", self.0.len())
    }
}

/// A `key` value that does not give a usable key. The messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Decoded to fewer than 32 bytes.
    #[error("auth_hmac key is {len} bytes; it needs {MIN_KEY_LEN} to {MAX_KEY_LEN}")]
    TooShort {
        /// Decoded length.
        len: usize,
    },
    /// Decoded to more than 64 bytes.
    #[error("auth_hmac key is {len} bytes; it needs {MIN_KEY_LEN} to {MAX_KEY_LEN}")]
    TooLong {
        /// Decoded length.
        len: usize,
    },
    /// A `hex:` value holds something other than hex digits, spaces and tabs.
    #[error("auth_hmac hex key has a character that is not a hex digit at position {at}")]
    BadHex {
        /// Byte offset after `hex:`.
        at: usize,
    },
    /// A `hex:` value has an odd number of digits.
    #[error("auth_hmac hex key has an odd number of hex digits")]
    OddHex,
    /// A `file:` key file is 139 bytes or more.
    #[error(
        "auth_hmac key file {path} is {len} bytes; keys files must be under {MAX_KEY_FILE_LEN}"
    )]
    FileTooLarge {
        /// The file.
        path: String,
        /// Its size.
        len: u64,
    },
    /// A `file:` key file cannot be read.
    #[error("auth_hmac key file {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A key read from a `key` value, with what keepalived would warn about.
#[derive(Debug)]
pub struct LoadedKey {
    /// The key.
    pub key: HmacKey,
    /// The key came from a file with group or other permission bits: keepalived reports a
    /// config security error but still loads the key.
    pub file_too_open: bool,
}

/// Decodes a `key` value: `hex:<digits>`, `file:<path>`, or anything else as literal ASCII.
/// A `file:` path is resolved by [`key_file_path`] (systemd credentials).
pub fn parse_key_value(value: &str) -> Result<LoadedKey, KeyError> {
    if let Some(path) = value.strip_prefix("file:") {
        let credentials = std::env::var_os(CREDENTIALS_DIRECTORY);
        return read_key_file(&key_file_path(path, credentials.as_deref().map(Path::new)));
    }
    Ok(LoadedKey {
        key: HmacKey::new(decode_inline(value.as_bytes())?)?,
        file_too_open: false,
    })
}

/// The variable systemd sets for a service with `LoadCredential=`/`SetCredentialEncrypted=`:
/// the private, per-service directory its credentials are decrypted into.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// Where a `file:` key lives. With systemd credentials (`credentials`: the service's
/// `$CREDENTIALS_DIRECTORY`), a path starting with `$CREDENTIALS_DIRECTORY/` or
/// `${CREDENTIALS_DIRECTORY}/`, or a bare relative name (`file:havip-vi1`, the credential's
/// name), is a file in that directory, so the key never has to sit in `/etc` readable by root
/// alone. Without it, the path is taken as written (a relative one from the working directory,
/// as keepalived does).
#[must_use]
pub fn key_file_path(path: &str, credentials: Option<&Path>) -> std::path::PathBuf {
    let Some(dir) = credentials else {
        return Path::new(path).to_path_buf();
    };
    for prefix in ["${CREDENTIALS_DIRECTORY}/", "$CREDENTIALS_DIRECTORY/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            return dir.join(rest);
        }
    }
    if Path::new(path).is_relative() {
        dir.join(path)
    } else {
        Path::new(path).to_path_buf()
    }
}

/// `hex:` digits or the raw bytes.
fn decode_inline(value: &[u8]) -> Result<Vec<u8>, KeyError> {
    match value.strip_prefix(b"hex:") {
        Some(hex) => decode_hex(hex),
        None => Ok(value.to_vec()),
    }
}

/// Hex digits in either case; spaces and tabs between them are skipped; anything else rejects.
fn decode_hex(text: &[u8]) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    for (at, &c) in text.iter().enumerate() {
        if c == b' ' || c == b'\t' {
            continue;
        }
        let nibble = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(KeyError::BadHex { at }),
        };
        match high.take() {
            Some(h) => out.push(h << 4 | nibble),
            None => high = Some(nibble),
        }
    }
    if high.is_some() {
        return Err(KeyError::OddHex);
    }
    Ok(out)
}

/// A key file: under 139 bytes, trailing CR/LF stripped, then `hex:` or ASCII like an inline
/// value. Group/other permission bits are reported, not refused.
fn read_key_file(path: &Path) -> Result<LoadedKey, KeyError> {
    use std::os::unix::fs::PermissionsExt as _;
    let shown = path.display().to_string();
    let io = |source| KeyError::File {
        path: shown.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() >= MAX_KEY_FILE_LEN {
        return Err(KeyError::FileTooLarge {
            path: path.display().to_string(),
            len: meta.len(),
        });
    }
    let mut bytes = std::fs::read(path).map_err(io)?;
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    Ok(LoadedKey {
        key: HmacKey::new(decode_inline(&bytes)?)?,
        file_too_open: meta.permissions().mode() & 0o077 != 0,
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn key_files_resolve_in_the_systemd_credentials_directory() {
        use std::path::{Path, PathBuf};
        let dir = Some(Path::new("/run/credentials/havip.service"));
        let k = |p: &str, d| super::key_file_path(p, d);
        assert_eq!(
            k("havip-vi1", dir),
            PathBuf::from("/run/credentials/havip.service/havip-vi1")
        );
        assert_eq!(
            k("$CREDENTIALS_DIRECTORY/vi1", dir),
            PathBuf::from("/run/credentials/havip.service/vi1")
        );
        assert_eq!(
            k("${CREDENTIALS_DIRECTORY}/vi1", dir),
            PathBuf::from("/run/credentials/havip.service/vi1")
        );
        assert_eq!(
            k("/etc/havip/vi1.key", dir),
            PathBuf::from("/etc/havip/vi1.key")
        );
        assert_eq!(k("vi1.key", None), PathBuf::from("vi1.key"));
        assert_eq!(
            k("$CREDENTIALS_DIRECTORY/vi1", None),
            PathBuf::from("$CREDENTIALS_DIRECTORY/vi1")
        );
    }
}
