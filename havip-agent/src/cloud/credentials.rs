//! Tencent Cloud API credentials: from `[cloud.tencent]` itself, else from its
//! `credentials_file`, else from the environment (`TENCENTCLOUD_SECRET_ID`,
//! `TENCENTCLOUD_SECRET_KEY`, the names Tencent's own tools read). The key is a [`Secret`]; the
//! id is only ever shown masked ([`Credentials::masked_id`]).

use std::{fmt, path::PathBuf};

use serde::Deserialize;

use super::{config::TencentConfig, secret::Secret};

/// Environment variable of the `SecretId`.
pub const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
/// Environment variable of the `SecretKey`.
pub const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";

/// A key pair.
#[derive(Clone)]
pub struct Credentials {
    /// `SecretId` (goes into the `Authorization` header in clear, but not into logs).
    pub secret_id: String,
    /// `SecretKey`.
    pub secret_key: Secret,
}

impl Credentials {
    /// The id with all but its first four characters hidden: `AKID…`.
    #[must_use]
    pub fn masked_id(&self) -> String {
        let head: String = self.secret_id.chars().take(4).collect();
        format!("{head}…")
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.masked_id())
            .field("secret_key", &self.secret_key)
            .finish()
    }
}

/// Where the credentials came from (logged at startup).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `[cloud.tencent]` `secret_id` / `secret_key`.
    Config,
    /// `credentials_file`.
    File(PathBuf),
    /// The environment.
    Environment,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config => f.write_str("the configuration"),
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Environment => write!(f, "{ENV_SECRET_ID}/{ENV_SECRET_KEY}"),
        }
    }
}

/// Why no credentials could be found.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The credentials file could not be read.
    #[error("cloud.tencent.credentials_file: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The credentials file is not `secret_id = ".."` / `secret_key = ".."`.
    #[error("cloud.tencent.credentials_file: {}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the file's content).
        message: String,
    },
    /// Nothing configured anywhere.
    #[error(
        "cloud.tencent: no credentials: set secret_id/secret_key, credentials_file, or \
         {ENV_SECRET_ID}/{ENV_SECRET_KEY}"
    )]
    Missing,
    /// An empty id or key.
    #[error("cloud.tencent: the credentials from {from} are empty")]
    Empty {
        /// Where they came from.
        from: Source,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    secret_id: String,
    secret_key: Secret,
}

/// Finds the credentials for `cfg`, reading the environment through `env`.
pub fn resolve(
    cfg: &TencentConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(Credentials, Source), CredentialsError> {
    let (creds, source) = if let (Some(id), Some(key)) = (&cfg.secret_id, &cfg.secret_key) {
        (
            Credentials {
                secret_id: id.clone(),
                secret_key: key.clone(),
            },
            Source::Config,
        )
    } else if let Some(path) = &cfg.credentials_file {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
            path: path.clone(),
            source,
        })?;
        if let Ok(meta) = std::fs::metadata(path)
            && std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 != 0
        {
            tracing::warn!(
                file = %path.display(),
                "the credentials file is readable by group or others; chmod 600 it"
            );
        }
        // The parser's message may quote the line it failed on, which could be the key:
        // report only the position.
        let file: File = toml::from_str(&text).map_err(|e| CredentialsError::Malformed {
            path: path.clone(),
            message: match e.span() {
                Some(span) => format!(
                    "not a TOML table with secret_id and secret_key (error at byte {})",
                    span.start
                ),
                None => "not a TOML table with secret_id and secret_key".to_owned(),
            },
        })?;
        (
            Credentials {
                secret_id: file.secret_id,
                secret_key: file.secret_key,
            },
            Source::File(path.clone()),
        )
    } else if let (Some(id), Some(key)) = (env(ENV_SECRET_ID), env(ENV_SECRET_KEY)) {
        (
            Credentials {
                secret_id: id,
                secret_key: Secret::new(key),
            },
            Source::Environment,
        )
    } else {
        return Err(CredentialsError::Missing);
    };
    if creds.secret_id.trim().is_empty() || creds.secret_key.is_blank() {
        return Err(CredentialsError::Empty { from: source });
    }
    Ok((creds, source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::config::DEFAULT_REQUEST_TIMEOUT;

    fn cfg() -> TencentConfig {
        TencentConfig {
            region: "ap-guangzhou".into(),
            endpoint: None,
            secret_id: None,
            secret_key: None,
            credentials_file: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn config_then_file_then_environment() {
        let vars = &[(ENV_SECRET_ID, "AKIDenv"), (ENV_SECRET_KEY, "env-key")];
        let (c, s) = resolve(&cfg(), env(vars)).expect("from env");
        assert_eq!((c.secret_id.as_str(), s), ("AKIDenv", Source::Environment));

        let dir = std::env::temp_dir().join(format!("havip-cred-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("creds.toml");
        std::fs::write(
            &file,
            "secret_id = \"AKIDfile\"\nsecret_key = \"file-key\"\n",
        )
        .expect("write");
        let mut with_file = cfg();
        with_file.credentials_file = Some(file.clone());
        let (c, s) = resolve(&with_file, env(vars)).expect("from file");
        assert_eq!(c.secret_id, "AKIDfile");
        assert_eq!(c.secret_key.expose(), "file-key");
        assert_eq!(s, Source::File(file.clone()));

        let mut inline = with_file.clone();
        inline.secret_id = Some("AKIDconf".into());
        inline.secret_key = Some(Secret::new("conf-key"));
        let (c, s) = resolve(&inline, env(vars)).expect("from config");
        assert_eq!((c.secret_id.as_str(), s), ("AKIDconf", Source::Config));

        std::fs::write(
            &file,
            "secret_id = \"AKIDfile\"\nsecret_key = file-key-unquoted\n",
        )
        .expect("write");
        let err = resolve(&with_file, env(&[]))
            .expect_err("malformed")
            .to_string();
        assert!(!err.contains("file-key-unquoted"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);

        assert!(matches!(
            resolve(&cfg(), env(&[])),
            Err(CredentialsError::Missing)
        ));
        assert!(matches!(
            resolve(
                &cfg(),
                env(&[(ENV_SECRET_ID, "AKID"), (ENV_SECRET_KEY, " ")])
            ),
            Err(CredentialsError::Empty { .. })
        ));
    }

    #[test]
    fn debug_masks_the_pair() {
        let c = Credentials {
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE".into(),
            secret_key: Secret::new("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
        };
        let printed = format!("{c:?}");
        assert!(
            !printed.contains("z8krbs") && !printed.contains("Gu5t9x"),
            "{printed}"
        );
    }
}
