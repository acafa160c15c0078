//! Tencent Cloud API credentials: from `[cloud.tencent]` itself, else from its
//! `credentials_file`, else from the environment (`TENCENTCLOUD_SECRET_ID`,
//! `TENCENTCLOUD_SECRET_KEY`, `TENCENTCLOUD_SESSION_TOKEN`, the names Tencent's own tools read);
//! or, with `credentials = "cam-role"`, the CVM's CAM role ([`super::role`]). Each source may
//! carry an STS token (sent as `X-TC-Token`). The key and token are [`Secret`]s; the id is only
//! ever shown masked ([`Credentials::masked_id`]).

use std::{fmt, path::PathBuf};

use serde::Deserialize;

use super::{
    config::TencentConfig,
    metadata::{Flavor, Metadata, MetadataError},
    role::{KeySource, RoleCache, RoleKind},
    secret::Secret,
};

/// Environment variable of the `SecretId`.
pub const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
/// Environment variable of the `SecretKey`.
pub const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";
/// Environment variable of an STS token going with the pair.
pub const ENV_SESSION_TOKEN: &str = "TENCENTCLOUD_SESSION_TOKEN";

/// A key pair.
#[derive(Clone)]
pub struct Credentials {
    /// `SecretId` (goes into the `Authorization` header in clear, but not into logs).
    pub secret_id: String,
    /// `SecretKey`.
    pub secret_key: Secret,
    /// The STS token of temporary credentials (`X-TC-Token`, `x-acs-security-token`,
    /// `X-Amz-Security-Token`).
    pub token: Option<Secret>,
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
            .field("token", &self.token)
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
    /// The CVM's CAM role, from the metadata service.
    CamRole,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config => f.write_str("the configuration"),
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Environment => write!(f, "{ENV_SECRET_ID}/{ENV_SECRET_KEY}"),
            Self::CamRole => f.write_str("the CAM role (metadata service)"),
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
    /// The metadata service client could not be built.
    #[error("cloud.tencent.metadata_url: {message}")]
    Metadata {
        /// Why.
        message: String,
    },
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
    #[serde(default)]
    token: Option<Secret>,
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
                token: cfg.token.clone(),
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
                token: file.token,
            },
            Source::File(path.clone()),
        )
    } else if let (Some(id), Some(key)) = (env(ENV_SECRET_ID), env(ENV_SECRET_KEY)) {
        (
            Credentials {
                secret_id: id,
                secret_key: Secret::new(key),
                token: env(ENV_SESSION_TOKEN)
                    .filter(|t| !t.trim().is_empty())
                    .map(Secret::new),
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

/// The key source for `cfg`: the CAM role with `credentials = "cam-role"`, else [`resolve`].
pub fn key_source(
    cfg: &TencentConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(KeySource, Source), CredentialsError> {
    if cfg.credentials.as_deref() == Some(super::config::CAM_ROLE) {
        let keys = role_keys(
            cfg.metadata_url(),
            Flavor::Tencent,
            RoleKind::TencentCam,
            cfg.role_name.clone(),
        )
        .map_err(|e| CredentialsError::Metadata {
            message: e.to_string(),
        })?;
        return Ok((keys, Source::CamRole));
    }
    let (creds, source) = resolve(cfg, env)?;
    Ok((KeySource::Static(creds), source))
}

/// The instance role's keys, fetched from the metadata service at `metadata_url` (`role`:
/// the configured role name, else the one the service lists).
pub fn role_keys(
    metadata_url: &str,
    flavor: Flavor,
    kind: RoleKind,
    role: Option<String>,
) -> Result<KeySource, MetadataError> {
    let metadata = Metadata::new(metadata_url, flavor)?;
    Ok(KeySource::Role(RoleCache::new(kind, metadata, role)))
}

/// A provider's key settings in its own names, for [`role_pair_or_env`].
pub struct KeySettings<'a> {
    /// `credentials` names the instance role (`"ram-role"`, `"instance-role"`).
    pub use_role: bool,
    /// The metadata service to ask for the role's keys.
    pub metadata_url: &'a str,
    /// The metadata flavor and role kind of the provider.
    pub role: (Flavor, RoleKind),
    /// The configured role name, if any.
    pub role_name: Option<&'a String>,
    /// The configured key id, key and STS token.
    pub pair: (Option<&'a String>, Option<&'a Secret>, Option<&'a Secret>),
    /// The environment variables of the key id, key and token, as the provider's tools read
    /// them.
    pub env: [&'a str; 3],
    /// The error when nothing is configured: what to set (never a key).
    pub missing: &'a str,
}

/// The key source of `settings`: the instance role, the configured pair, else the pair in
/// the environment (read through `env`; an empty token there counts as none).
pub fn role_pair_or_env(
    settings: &KeySettings<'_>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<KeySource, String> {
    if settings.use_role {
        let (flavor, kind) = settings.role;
        return role_keys(
            settings.metadata_url,
            flavor,
            kind,
            settings.role_name.cloned(),
        )
        .map_err(|e| e.to_string());
    }
    let creds = match settings.pair {
        (Some(id), Some(key), token) => Credentials {
            secret_id: id.clone(),
            secret_key: key.clone(),
            token: token.cloned(),
        },
        _ => match (env(settings.env[0]), env(settings.env[1])) {
            (Some(id), Some(key)) => Credentials {
                secret_id: id,
                secret_key: Secret::new(key),
                token: env(settings.env[2])
                    .filter(|t| !t.is_empty())
                    .map(Secret::new),
            },
            _ => return Err(settings.missing.to_owned()),
        },
    };
    Ok(KeySource::Static(creds))
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
            token: None,
            credentials: None,
            role_name: None,
            metadata_url: None,
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
    fn sts_tokens_from_file_and_environment_and_the_cam_role() {
        let vars = &[
            (ENV_SECRET_ID, "AKIDenv"),
            (ENV_SECRET_KEY, "env-key"),
            (ENV_SESSION_TOKEN, "env-token"),
        ];
        let (c, _) = resolve(&cfg(), env(vars)).expect("from env");
        assert_eq!(c.token.as_ref().map(Secret::expose), Some("env-token"));
        let (c, _) = resolve(&cfg(), env(&vars[..2])).expect("no token");
        assert!(c.token.is_none());

        let dir = std::env::temp_dir().join(format!("havip-sts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("creds.toml");
        std::fs::write(
            &file,
            "secret_id = \"AKIDtmp\"\nsecret_key = \"k\"\ntoken = \"file-token\"\n",
        )
        .expect("write");
        let mut with_file = cfg();
        with_file.credentials_file = Some(file);
        let (c, _) = resolve(&with_file, env(&[])).expect("file with a token");
        assert_eq!(c.token.as_ref().map(Secret::expose), Some("file-token"));
        let _ = std::fs::remove_dir_all(&dir);

        let mut role = cfg();
        role.credentials = Some("cam-role".into());
        let (keys, source) = key_source(&role, env(&[])).expect("cam role");
        assert_eq!(source, Source::CamRole);
        assert!(matches!(keys, KeySource::Role(_)));
        assert!(keys.describe().contains("metadata.tencentyun.com"));
    }

    #[test]
    fn debug_masks_the_pair() {
        let c = Credentials {
            secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE".into(),
            secret_key: Secret::new("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
            token: Some(Secret::new("sts-token-do-not-show")),
        };
        let printed = format!("{c:?}");
        assert!(
            !printed.contains("z8krbs")
                && !printed.contains("Gu5t9x")
                && !printed.contains("sts-token"),
            "{printed}"
        );
    }
}
