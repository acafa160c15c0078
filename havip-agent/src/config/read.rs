//! Reading a configuration file without trusting it: never block (a FIFO with no writer),
//! never read more than the size limit plus one byte (`/dev/zero`), only regular files.

use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Why a configuration file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// It is a directory, FIFO, socket or device, not a regular file.
    #[error("not a regular file (a {kind})")]
    NotRegular {
        /// What it is instead.
        kind: &'static str,
    },
    /// It is executable; keepalived skips executable configuration files, and so does havip.
    #[error("an executable file is not read as configuration (as keepalived does)")]
    Executable,
    /// It is larger than the limit.
    #[error("larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

impl ReadError {
    /// As an I/O error (for messages that only need the text).
    pub(crate) fn into_io(self) -> std::io::Error {
        match self {
            ReadError::Io(e) => e,
            other => std::io::Error::other(other.to_string()),
        }
    }
}

/// Whether `read` refuses executable files (includes) or not (the file named on the command
/// line, which the operator chose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Executable {
    Refuse,
    Allow,
}

/// Reads the regular file at `path`, at most `limit` bytes.
///
/// The file is opened with `O_NONBLOCK`, so opening a FIFO returns at once instead of waiting
/// for a writer, and checked with `fstat` on the open descriptor (no race with a rename)
/// before a single byte is read.
pub(crate) fn read_bounded(
    path: &Path,
    limit: u64,
    executable: Executable,
) -> Result<Vec<u8>, ReadError> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let kind = if kind.is_dir() {
            "directory"
        } else if kind.is_fifo() {
            "FIFO"
        } else if kind.is_socket() {
            "socket"
        } else if kind.is_char_device() {
            "character device"
        } else if kind.is_block_device() {
            "block device"
        } else {
            "special file"
        };
        return Err(ReadError::NotRegular { kind });
    }
    if executable == Executable::Refuse && meta.permissions().mode() & 0o111 != 0 {
        return Err(ReadError::Executable);
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    // The size can change between fstat and read (a file being written): read one byte past
    // the limit to notice, never more.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_without_reading() {
        for (path, kind) in [("/dev/zero", "character device"), ("/", "directory")] {
            match read_bounded(Path::new(path), 16, Executable::Allow) {
                Err(ReadError::NotRegular { kind: k }) => assert_eq!(k, kind),
                other => panic!("{path}: {other:?}"),
            }
        }
    }

    #[test]
    fn size_limit_and_executables() {
        let dir = std::env::temp_dir().join(format!("havip-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let file = dir.join("f.conf");
        std::fs::write(&file, b"0123456789").unwrap_or_default();
        assert_eq!(
            read_bounded(&file, 10, Executable::Refuse).ok(),
            Some(b"0123456789".to_vec())
        );
        assert!(matches!(
            read_bounded(&file, 9, Executable::Refuse),
            Err(ReadError::TooLarge { limit: 9 })
        ));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap_or_default();
        assert!(matches!(
            read_bounded(&file, 10, Executable::Refuse),
            Err(ReadError::Executable)
        ));
        assert!(read_bounded(&file, 10, Executable::Allow).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
