//! Who this node is in the cloud: its CVM instance id (from `[cloud.node]`, else the instance
//! metadata service), its ENI id (from `[cloud.node]`, else found by a provider through the API),
//! and a name for events. Read lazily, by the reporter that needs it, so a slow metadata service
//! never delays the daemon's start.

use std::{sync::Arc, time::Duration};

use tokio::sync::OnceCell;
use tracing::info;

use super::{config::NodeConfig, metadata::Metadata};

/// Timeout of the metadata request.
const METADATA_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest identifier accepted from the metadata service.
const MAX_ID_LEN: usize = 128;

/// Why the identity is unknown.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Neither configured nor available from metadata.
    #[error("cloud.node.instance_id is not set and no metadata_url is configured")]
    NotConfigured,
    /// The metadata service did not answer usefully.
    #[error("instance metadata {url}: {what}")]
    Metadata {
        /// The URL asked.
        url: String,
        /// What went wrong.
        what: String,
    },
}

/// This node's identity, shared by its reporters.
#[derive(Clone, Debug)]
pub struct Identity {
    cfg: NodeConfig,
    instance_id: Arc<OnceCell<String>>,
    /// The cloud's own metadata client (Alibaba, AWS: with its session token), used instead of
    /// `metadata_url` when set.
    metadata: Option<Metadata>,
}

impl Identity {
    /// From `[cloud.node]`.
    #[must_use]
    pub fn new(cfg: NodeConfig) -> Self {
        Self {
            cfg,
            instance_id: Arc::new(OnceCell::new()),
            metadata: None,
        }
    }

    /// The same identity, read (when not configured) from `metadata`, whose
    /// `meta-data/instance-id` and `meta-data/network/interfaces/macs/<mac>/interface-id` are
    /// the documented items of Alibaba ECS and AWS EC2.
    #[must_use]
    pub fn with_metadata(&self, metadata: Metadata) -> Self {
        Self {
            cfg: self.cfg.clone(),
            instance_id: Arc::new(OnceCell::new()),
            metadata: Some(metadata),
        }
    }

    /// The ENI with MAC `mac`: configured, else from the metadata service.
    pub async fn eni_of_mac(&self, mac: [u8; 6]) -> Result<String, IdentityError> {
        if let Some(eni) = &self.cfg.network_interface_id {
            return Ok(eni.clone());
        }
        let Some(m) = &self.metadata else {
            return Err(IdentityError::NotConfigured);
        };
        let mac: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
        let path = format!(
            "meta-data/network/interfaces/macs/{}/interface-id",
            mac.join(":")
        );
        m.get_id(&path).await.map_err(|e| IdentityError::Metadata {
            url: e.url,
            what: e.what,
        })
    }

    /// The configured ENI id, if any.
    #[must_use]
    pub fn configured_eni(&self) -> Option<&str> {
        self.cfg.network_interface_id.as_deref()
    }

    /// The CVM instance id: configured, else read once from `metadata_url` + `instance-id`.
    pub async fn instance_id(&self) -> Result<String, IdentityError> {
        if let Some(id) = &self.cfg.instance_id {
            return Ok(id.clone());
        }
        if let Some(m) = &self.metadata {
            return self
                .instance_id
                .get_or_try_init(|| async {
                    let id = m.get_id("meta-data/instance-id").await.map_err(|e| {
                        IdentityError::Metadata {
                            url: e.url,
                            what: e.what,
                        }
                    })?;
                    info!(instance_id = %id, "instance id from the metadata service");
                    Ok(id)
                })
                .await
                .cloned();
        }
        let Some(base) = &self.cfg.metadata_url else {
            return Err(IdentityError::NotConfigured);
        };
        self.instance_id
            .get_or_try_init(|| async {
                let id = fetch(base, "instance-id").await?;
                info!(instance_id = %id, "instance id from the metadata service");
                Ok(id)
            })
            .await
            .cloned()
    }
}

/// GETs `base` + `item` and returns it if it looks like an identifier.
async fn fetch(base: &str, item: &str) -> Result<String, IdentityError> {
    let url = if base.ends_with('/') {
        format!("{base}{item}")
    } else {
        format!("{base}/{item}")
    };
    let err = |what: String| IdentityError::Metadata {
        url: url.clone(),
        what,
    };
    let client = reqwest::Client::builder()
        .timeout(METADATA_TIMEOUT)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| err(e.to_string()))?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| err(e.to_string()))?;
    if !response.status().is_success() {
        return Err(err(format!("HTTP {}", response.status().as_u16())));
    }
    let mut response = response;
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| err(e.to_string()))? {
        if bytes.len() + chunk.len() > MAX_ID_LEN + 2 {
            return Err(err("answer too long for an identifier".to_owned()));
        }
        bytes.extend_from_slice(&chunk);
    }
    parse_id(&String::from_utf8_lossy(&bytes)).ok_or_else(|| err("not an identifier".to_owned()))
}

/// The identifier in a metadata answer: one trimmed token of `[A-Za-z0-9_.-]`.
fn parse_id(text: &str) -> Option<String> {
    let id = text.trim();
    (!id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    .then(|| id.to_owned())
}

/// The host name (UTS namespace), or `unknown`.
#[must_use]
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|h| parse_id(&h))
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_from_metadata() {
        assert_eq!(parse_id("ins-3g445roi\n").as_deref(), Some("ins-3g445roi"));
        assert_eq!(parse_id(""), None);
        assert_eq!(parse_id("<html>"), None);
        assert_eq!(parse_id("a b"), None);
        assert_eq!(parse_id(&"x".repeat(200)), None);
    }

    #[tokio::test]
    async fn configured_id_needs_no_metadata() {
        let id = Identity::new(NodeConfig {
            instance_id: Some("ins-a".into()),
            ..NodeConfig::default()
        });
        assert_eq!(id.instance_id().await.expect("configured"), "ins-a");
        let none = Identity::new(NodeConfig::default());
        assert!(matches!(
            none.instance_id().await,
            Err(IdentityError::NotConfigured)
        ));
    }
}
