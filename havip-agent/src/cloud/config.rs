//! The `[cloud]` table, typed: which providers report which instances, the Tencent Cloud account
//! and region, the node's identity. `config::Config` keeps `[cloud]` as a raw table; [`parse`]
//! gives it these types and checks them, and every error names its field
//! (`cloud.tencent_havip[0].havip_id: ...`).
//!
//! ```toml
//! [cloud.node]                          # who this node is in the cloud
//! instance_id = "ins-a1b2c3d4"          # else read from metadata_url
//! network_interface_id = "eni-a1b2c3d4" # else looked up through the API (migrate-ip)
//! # metadata_url = "http://metadata.tencentyun.com/latest/meta-data/"
//!
//! [cloud.tencent]                       # account, region, endpoint of the VPC API
//! region = "ap-guangzhou"
//! credentials_file = "/etc/havip/tencentcloud.toml"
//!
//! [[cloud.tencent_havip]]               # one per instance whose VIP is a HAVIP
//! instance = "VI_1"
//! havip_id = "havip-9o233uri"
//!
//! [[cloud.webhook]]
//! url = "https://hooks.example.com/havip"
//! secret_file = "/etc/havip/webhook.key"
//! ```

use std::{net::Ipv4Addr, path::PathBuf, time::Duration};

use serde::{Deserialize, Deserializer};

use super::secret::Secret;
use crate::config::parse_duration;

/// Default API endpoint of the VPC product.
pub const DEFAULT_ENDPOINT: &str = "https://vpc.tencentcloudapi.com";
/// Default per-request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time the cloud gets to agree after a takeover (Tencent documents a HAVIP switch
/// of about 10 s).
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);
/// Default pause between two checks while waiting for the cloud to agree.
pub const DEFAULT_RECHECK_INTERVAL: Duration = Duration::from_secs(2);
/// Default period of the reconciliation check while master.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(30);

/// A field of `[cloud]` that is wrong, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FieldError {
    /// Dotted path of the field: `cloud.tencent_havip[0].havip_id`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn field_error(path: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        path: path.into(),
        message: message.into(),
    }
}

/// `[cloud]`, typed.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `[cloud.node]`.
    pub node: NodeConfig,
    /// `[cloud.tencent]`.
    pub tencent: Option<TencentConfig>,
    /// `[[cloud.tencent_havip]]`.
    pub tencent_havip: Vec<HavipConfig>,
    /// `[[cloud.tencent_migrate_ip]]`.
    pub tencent_migrate_ip: Vec<MigrateConfig>,
    /// `[[cloud.webhook]]`.
    pub webhook: Vec<WebhookConfig>,
    /// `[cloud.alibaba]`.
    pub alibaba: Option<providers::AlibabaConfig>,
    /// `[[cloud.alibaba_havip]]`.
    pub alibaba_havip: Vec<providers::AlibabaHavipConfig>,
    /// `[cloud.aws]`.
    pub aws: Option<providers::AwsConfig>,
    /// `[[cloud.aws_private_ip]]`.
    pub aws_private_ip: Vec<providers::AwsPrivateIpConfig>,
}

impl Settings {
    /// Whether any provider is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.tencent_havip.is_empty()
            && self.tencent_migrate_ip.is_empty()
            && self.webhook.is_empty()
            && self.alibaba_havip.is_empty()
            && self.aws_private_ip.is_empty()
    }
}

/// `[cloud.node]`: this node's identity in the cloud.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// CVM instance id (`ins-...`). Default: read from `metadata_url`.
    pub instance_id: Option<String>,
    /// ENI id (`eni-...`). Default: the ENI of the instance whose MAC is the VRRP interface's,
    /// looked up through `DescribeNetworkInterfaces` when a provider needs it.
    pub network_interface_id: Option<String>,
    /// Instance metadata service, e.g. `http://metadata.tencentyun.com/latest/meta-data/`;
    /// `instance-id` is read below it. Default: none (identity from this table only).
    pub metadata_url: Option<String>,
    /// A name for this node in webhook events. Default: `global.router_id`, else the host name.
    pub name: Option<String>,
}

/// `[cloud.tencent]`: account, region and endpoint of the Tencent Cloud VPC API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TencentConfig {
    /// Region of the VPC (`ap-guangzhou`). Required.
    pub region: String,
    /// API endpoint. Default `https://vpc.tencentcloudapi.com`; tests point it at a local server.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `SecretId`. Prefer `credentials_file` or the environment.
    #[serde(default)]
    pub secret_id: Option<String>,
    /// `SecretKey`. Prefer `credentials_file` or the environment.
    #[serde(default)]
    pub secret_key: Option<Secret>,
    /// A TOML file with `secret_id` and `secret_key` (mode 0600), and `token` for STS
    /// credentials.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// Timeout of one API request. Default 5 s.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
    /// An STS token going with `secret_id`/`secret_key` (sent as `X-TC-Token`).
    #[serde(default)]
    pub token: Option<Secret>,
    /// `"cam-role"`: temporary credentials of the CVM's CAM role, from the metadata service.
    /// Default: a key pair (configuration, file, environment).
    #[serde(default)]
    pub credentials: Option<String>,
    /// The CAM role (with `credentials = "cam-role"`). Default: the one the metadata service
    /// lists.
    #[serde(default)]
    pub role_name: Option<String>,
    /// The CVM metadata service. Default `http://metadata.tencentyun.com/latest/meta-data/`.
    #[serde(default)]
    pub metadata_url: Option<String>,
}

/// Default CVM metadata service.
pub const DEFAULT_TENCENT_METADATA: &str = "http://metadata.tencentyun.com/latest/meta-data/";
/// The value of `credentials` that selects the CAM role.
pub const CAM_ROLE: &str = "cam-role";

impl TencentConfig {
    /// The endpoint in use.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT)
    }

    /// The metadata service in use.
    #[must_use]
    pub fn metadata_url(&self) -> &str {
        self.metadata_url
            .as_deref()
            .unwrap_or(DEFAULT_TENCENT_METADATA)
    }
}

/// `[[cloud.tencent_havip]]`: an instance whose VIP is a Tencent Cloud HAVIP.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HavipConfig {
    /// The VRRP instance (keepalived `vrrp_instance` name).
    pub instance: String,
    /// The HAVIP (`havip-...`).
    pub havip_id: String,
    /// An EIP to keep associated with the HAVIP (`HaVipAssociateAddressIp`). Default: none.
    #[serde(default)]
    pub eip: Option<Ipv4Addr>,
    /// How long the cloud gets to agree after this node takes over. Default 60 s.
    #[serde(default = "default_confirm_timeout", deserialize_with = "duration")]
    pub confirm_timeout: Duration,
    /// Pause between re-announcement and the next check while waiting. Default 2 s.
    #[serde(default = "default_recheck_interval", deserialize_with = "duration")]
    pub recheck_interval: Duration,
    /// Check period while master. Default 30 s.
    #[serde(default = "default_reconcile_interval", deserialize_with = "duration")]
    pub reconcile_interval: Duration,
}

/// `[[cloud.tencent_migrate_ip]]`: an instance whose VIP is a secondary private IP moved between
/// ENIs with `MigratePrivateIpAddress`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateConfig {
    /// The VRRP instance.
    pub instance: String,
    /// The private IP to move. Default: the instance's first VIP.
    #[serde(default)]
    pub private_ip: Option<Ipv4Addr>,
    /// How long the move may take. Default 60 s.
    #[serde(default = "default_confirm_timeout", deserialize_with = "duration")]
    pub confirm_timeout: Duration,
    /// Pause between two polls of the task. Default 2 s.
    #[serde(default = "default_recheck_interval", deserialize_with = "duration")]
    pub recheck_interval: Duration,
    /// Check period while master. Default 30 s.
    #[serde(default = "default_reconcile_interval", deserialize_with = "duration")]
    pub reconcile_interval: Duration,
}

/// `[[cloud.webhook]]`: POST every state change as JSON.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    /// HMAC-SHA256 key of the `X-Havip-Signature` header.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// A file holding the key (trailing newline ignored); instead of `secret`.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Instances to report. Default: all.
    #[serde(default)]
    pub instances: Vec<String>,
    /// Timeout of one POST. Default 5 s.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
}

fn default_request_timeout() -> Duration {
    DEFAULT_REQUEST_TIMEOUT
}
fn default_confirm_timeout() -> Duration {
    DEFAULT_CONFIRM_TIMEOUT
}
fn default_recheck_interval() -> Duration {
    DEFAULT_RECHECK_INTERVAL
}
fn default_reconcile_interval() -> Duration {
    DEFAULT_RECONCILE_INTERVAL
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Types and checks `[cloud]`. `instances` are the names of the configured VRRP instances.
pub fn parse(table: &toml::Table, instances: &[&str]) -> Result<Settings, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut settings = Settings::default();
    for (key, value) in table {
        let path = format!("cloud.{key}");
        match key.as_str() {
            "node" => {
                if let Some(v) = typed(value, &path, &mut errors) {
                    settings.node = v;
                }
            }
            "tencent" => settings.tencent = typed(value, &path, &mut errors),
            "tencent_havip" => settings.tencent_havip = typed_list(value, &path, &mut errors),
            "tencent_migrate_ip" => {
                settings.tencent_migrate_ip = typed_list(value, &path, &mut errors);
            }
            "webhook" => settings.webhook = typed_list(value, &path, &mut errors),
            "alibaba" => settings.alibaba = typed(value, &path, &mut errors),
            "alibaba_havip" => settings.alibaba_havip = typed_list(value, &path, &mut errors),
            "aws" => settings.aws = typed(value, &path, &mut errors),
            "aws_private_ip" => settings.aws_private_ip = typed_list(value, &path, &mut errors),
            _ => errors.push(field_error(
                path,
                "unknown key; expected one of `node`, `tencent`, `tencent_havip`, \
                 `tencent_migrate_ip`, `webhook`, `alibaba`, `alibaba_havip`, `aws`, \
                 `aws_private_ip`",
            )),
        }
    }
    if errors.is_empty() {
        check(&settings, instances, &mut errors);
    }
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    value: &toml::Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    match value.clone().try_into::<T>() {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(field_error(path, e.message().trim_end()));
            None
        }
    }
}

fn typed_list<T: serde::de::DeserializeOwned>(
    value: &toml::Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Vec<T> {
    let Some(items) = value.as_array() else {
        errors.push(field_error(
            path,
            format!("expected an array of tables (`[[{path}]]`)"),
        ));
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| typed(item, &format!("{path}[{i}]"), errors))
        .collect()
}

fn check_url(url: &str, path: String, errors: &mut Vec<FieldError>) {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        Ok(_) => errors.push(field_error(path, format!("`{url}` is not an http(s) URL"))),
        Err(e) => errors.push(field_error(path, format!("`{url}`: {e}"))),
    }
}

fn check_instance(
    name: &str,
    path: String,
    instances: &[&str],
    seen: &mut Vec<String>,
    errors: &mut Vec<FieldError>,
) {
    if !instances.contains(&name) {
        errors.push(field_error(
            path,
            format!("no VRRP instance named `{name}` is configured"),
        ));
    } else if seen.iter().any(|s| s == name) {
        errors.push(field_error(
            path,
            format!("instance `{name}` is already reported by this provider"),
        ));
    } else {
        seen.push(name.to_owned());
    }
}

fn check_timing(
    path: &str,
    confirm: Duration,
    recheck: Duration,
    reconcile: Duration,
    errors: &mut Vec<FieldError>,
) {
    for (key, value) in [
        ("confirm_timeout", confirm),
        ("recheck_interval", recheck),
        ("reconcile_interval", reconcile),
    ] {
        if value.is_zero() {
            errors.push(field_error(format!("{path}.{key}"), "must be more than 0"));
        }
    }
    if recheck > confirm {
        errors.push(field_error(
            format!("{path}.recheck_interval"),
            "is longer than confirm_timeout",
        ));
    }
}

/// Checks the entries of the provider list `table` (`cloud.tencent_havip`): each names a
/// configured VRRP instance not named before, passes the provider's own checks (`own`, given
/// the entry's path), and has sane timings. `fields` gives an entry's instance and its
/// `confirm_timeout`, `recheck_interval` and `reconcile_interval`: serde cannot flatten a
/// shared timing table into a `deny_unknown_fields` struct, so each entry keeps its own fields
/// and this one function checks them all alike.
fn check_entries<T>(
    table: &str,
    entries: &[T],
    instances: &[&str],
    errors: &mut Vec<FieldError>,
    fields: impl Fn(&T) -> (&str, [Duration; 3]),
    own: impl Fn(&T, &str, &mut Vec<FieldError>),
) {
    let mut seen = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("{table}[{i}]");
        let (instance, [confirm, recheck, reconcile]) = fields(entry);
        check_instance(
            instance,
            format!("{path}.instance"),
            instances,
            &mut seen,
            errors,
        );
        own(entry, &path, errors);
        check_timing(&path, confirm, recheck, reconcile, errors);
    }
}

/// `havip_id` of the entry at `path` is not empty.
fn check_havip_id(havip_id: &str, path: &str, errors: &mut Vec<FieldError>) {
    if havip_id.trim().is_empty() {
        errors.push(field_error(format!("{path}.havip_id"), "must not be empty"));
    }
}

/// `[cloud.tencent]` and `[cloud.node]`.
fn check_account_and_node(settings: &Settings, errors: &mut Vec<FieldError>) {
    let uses_tencent =
        !settings.tencent_havip.is_empty() || !settings.tencent_migrate_ip.is_empty();
    match &settings.tencent {
        None if uses_tencent => errors.push(field_error(
            "cloud.tencent",
            "a Tencent Cloud provider is configured but [cloud.tencent] is missing",
        )),
        None => {}
        Some(t) => {
            if t.region.trim().is_empty() {
                errors.push(field_error("cloud.tencent.region", "must not be empty"));
            }
            check_url(t.endpoint(), "cloud.tencent.endpoint".into(), errors);
            if t.request_timeout.is_zero() {
                errors.push(field_error(
                    "cloud.tencent.request_timeout",
                    "must be more than 0",
                ));
            }
            if t.secret_id.is_some() != t.secret_key.is_some() {
                errors.push(field_error(
                    "cloud.tencent",
                    "set both secret_id and secret_key, or neither",
                ));
            }
            match t.credentials.as_deref() {
                None => {}
                Some(CAM_ROLE) => {
                    if t.secret_id.is_some() || t.credentials_file.is_some() {
                        errors.push(field_error(
                            "cloud.tencent.credentials",
                            "`cam-role` excludes secret_id/secret_key and credentials_file",
                        ));
                    }
                    check_url(
                        t.metadata_url(),
                        "cloud.tencent.metadata_url".into(),
                        errors,
                    );
                }
                Some(other) => errors.push(field_error(
                    "cloud.tencent.credentials",
                    format!("`{other}`: the only value is `cam-role`"),
                )),
            }
        }
    }
    if let Some(url) = &settings.node.metadata_url {
        check_url(url, "cloud.node.metadata_url".into(), errors);
    }
    // The providers compare the cloud's view with this node's identity: it must be knowable.
    let knows_instance =
        settings.node.instance_id.is_some() || settings.node.metadata_url.is_some();
    let knows_eni = settings.node.network_interface_id.is_some() || knows_instance;
    if (!settings.tencent_havip.is_empty() && !knows_instance)
        || (!settings.tencent_migrate_ip.is_empty() && !knows_eni)
    {
        errors.push(field_error(
            "cloud.node",
            "set instance_id (or metadata_url to read it from the instance metadata service)",
        ));
    }
}

fn check(settings: &Settings, instances: &[&str], errors: &mut Vec<FieldError>) {
    check_account_and_node(settings, errors);
    providers::check(settings, instances, errors);
    check_entries(
        "cloud.tencent_havip",
        &settings.tencent_havip,
        instances,
        errors,
        |h| {
            (
                &h.instance,
                [h.confirm_timeout, h.recheck_interval, h.reconcile_interval],
            )
        },
        |h, path, errors| check_havip_id(&h.havip_id, path, errors),
    );
    check_entries(
        "cloud.tencent_migrate_ip",
        &settings.tencent_migrate_ip,
        instances,
        errors,
        |m| {
            (
                &m.instance,
                [m.confirm_timeout, m.recheck_interval, m.reconcile_interval],
            )
        },
        |_, _, _| {},
    );
    for (i, w) in settings.webhook.iter().enumerate() {
        let path = format!("cloud.webhook[{i}]");
        check_url(&w.url, format!("{path}.url"), errors);
        if w.secret.is_some() == w.secret_file.is_some() {
            errors.push(field_error(
                path.clone(),
                "set exactly one of secret and secret_file (the HMAC key of X-Havip-Signature)",
            ));
        }
        if w.timeout.is_zero() {
            errors.push(field_error(
                format!("{path}.timeout"),
                "must be more than 0",
            ));
        }
        let mut seen = Vec::new();
        for (j, name) in w.instances.iter().enumerate() {
            check_instance(
                name,
                format!("{path}.instances[{j}]"),
                instances,
                &mut seen,
                errors,
            );
        }
    }
}

pub mod providers;

#[cfg(test)]
mod tests;
