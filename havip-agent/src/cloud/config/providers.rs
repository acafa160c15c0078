//! `[cloud.alibaba]` / `[[cloud.alibaba_havip]]` and `[cloud.aws]` / `[[cloud.aws_private_ip]]`:
//! the accounts and providers of Alibaba Cloud `HaVip` and AWS private-IP reassignment, typed and
//! checked like the Tencent tables.
//!
//! ```toml
//! [cloud.alibaba]
//! region = "cn-hangzhou"
//! credentials = "ram-role"            # the ECS instance's RAM role; else a key pair
//!
//! [[cloud.alibaba_havip]]
//! instance = "VI_1"
//! havip_id = "havip-bp1v2tyjqkd4v2vo4xxxx"
//!
//! [cloud.aws]
//! region = "eu-west-1"
//! credentials = "instance-role"       # the instance profile through `IMDSv2`
//!
//! [[cloud.aws_private_ip]]
//! instance = "VI_1"
//! ```

use std::{net::Ipv4Addr, time::Duration};

use serde::Deserialize;

use super::{
    FieldError, check_entries, check_havip_id, check_url, default_confirm_timeout,
    default_recheck_interval, default_reconcile_interval, default_request_timeout, duration,
    field_error,
};
use crate::cloud::secret::Secret;

/// The value of `[cloud.alibaba] credentials` selecting the ECS RAM role.
pub const RAM_ROLE: &str = "ram-role";
/// The value of `[cloud.aws] credentials` selecting the instance profile.
pub const INSTANCE_ROLE: &str = "instance-role";
/// Default ECS metadata service.
pub const DEFAULT_ALIBABA_METADATA: &str = "http://100.100.100.200/latest/";
/// Default EC2 instance metadata service.
pub const DEFAULT_AWS_METADATA: &str = "http://169.254.169.254/latest/";

/// `[cloud.alibaba]`: region, endpoint and credentials of the Alibaba Cloud VPC API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlibabaConfig {
    /// Region (`cn-hangzhou`). Required.
    pub region: String,
    /// Endpoint. Default `https://vpc.<region>.aliyuncs.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `"ram-role"`: the ECS instance's RAM role. Default: `access_key_id`/`access_key_secret`,
    /// else `ALIBABA_CLOUD_ACCESS_KEY_ID`/`ALIBABA_CLOUD_ACCESS_KEY_SECRET` (and
    /// `ALIBABA_CLOUD_SECURITY_TOKEN`).
    #[serde(default)]
    pub credentials: Option<String>,
    /// `AccessKey` id.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// `AccessKey` secret.
    #[serde(default)]
    pub access_key_secret: Option<Secret>,
    /// STS token of temporary keys.
    #[serde(default)]
    pub security_token: Option<Secret>,
    /// The RAM role. Default: the one the metadata service lists.
    #[serde(default)]
    pub role_name: Option<String>,
    /// The metadata service. Default `http://100.100.100.200/latest/`.
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// Timeout of one API request. Default 5 s.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
}

impl AlibabaConfig {
    /// The endpoint in use.
    #[must_use]
    pub fn endpoint(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("https://vpc.{}.aliyuncs.com", self.region))
    }

    /// The metadata service in use.
    #[must_use]
    pub fn metadata_url(&self) -> &str {
        self.metadata_url
            .as_deref()
            .unwrap_or(DEFAULT_ALIBABA_METADATA)
    }
}

/// `[[cloud.alibaba_havip]]`: an instance whose VIP is an Alibaba Cloud `HaVip`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlibabaHavipConfig {
    /// The VRRP instance.
    pub instance: String,
    /// The `HaVip` (`havip-...`).
    pub havip_id: String,
    /// Unassociate every other ECS instance after this one is associated (a `HaVip` bound to one
    /// instance at a time). Default false: all nodes stay associated and the `HaVip` follows the
    /// gratuitous ARP of the master, which havip then confirms.
    #[serde(default)]
    pub exclusive: bool,
    /// How long the cloud gets to agree after this node takes over. Default 60 s.
    #[serde(default = "default_confirm_timeout", deserialize_with = "duration")]
    pub confirm_timeout: Duration,
    /// Pause between two checks while waiting. Default 2 s.
    #[serde(default = "default_recheck_interval", deserialize_with = "duration")]
    pub recheck_interval: Duration,
    /// Check period while master. Default 30 s.
    #[serde(default = "default_reconcile_interval", deserialize_with = "duration")]
    pub reconcile_interval: Duration,
}

/// `[cloud.aws]`: region, endpoint and credentials of the EC2 API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Region (`eu-west-1`). Required.
    pub region: String,
    /// Endpoint. Default `https://ec2.<region>.amazonaws.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// `"instance-role"`: the instance profile's credentials through `IMDSv2`. Default:
    /// `access_key_id`/`secret_access_key`, else `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
    /// (and `AWS_SESSION_TOKEN`).
    #[serde(default)]
    pub credentials: Option<String>,
    /// Access key id.
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// Secret access key.
    #[serde(default)]
    pub secret_access_key: Option<Secret>,
    /// Session token of temporary keys.
    #[serde(default)]
    pub session_token: Option<Secret>,
    /// The instance profile's role. Default: the one the metadata service lists.
    #[serde(default)]
    pub role_name: Option<String>,
    /// The instance metadata service. Default `http://169.254.169.254/latest/`.
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// Timeout of one API request. Default 5 s.
    #[serde(default = "default_request_timeout", deserialize_with = "duration")]
    pub request_timeout: Duration,
}

impl AwsConfig {
    /// The endpoint in use.
    #[must_use]
    pub fn endpoint(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("https://ec2.{}.amazonaws.com", self.region))
    }

    /// The metadata service in use.
    #[must_use]
    pub fn metadata_url(&self) -> &str {
        self.metadata_url.as_deref().unwrap_or(DEFAULT_AWS_METADATA)
    }
}

/// `[[cloud.aws_private_ip]]`: an instance whose VIP is a secondary private IP that the new
/// master reassigns to its own ENI.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsPrivateIpConfig {
    /// The VRRP instance.
    pub instance: String,
    /// The private IP. Default: the instance's first VIP.
    #[serde(default)]
    pub private_ip: Option<Ipv4Addr>,
    /// How long the move may take. Default 60 s.
    #[serde(default = "default_confirm_timeout", deserialize_with = "duration")]
    pub confirm_timeout: Duration,
    /// Pause between two checks. Default 2 s.
    #[serde(default = "default_recheck_interval", deserialize_with = "duration")]
    pub recheck_interval: Duration,
    /// Check period while master. Default 30 s.
    #[serde(default = "default_reconcile_interval", deserialize_with = "duration")]
    pub reconcile_interval: Duration,
}

fn check_account(
    table: &str,
    region: &str,
    endpoint: &str,
    metadata: &str,
    timeout: Duration,
    (mode, role_mode, has_key_pair): (Option<&str>, &str, bool),
    errors: &mut Vec<FieldError>,
) {
    if region.trim().is_empty() {
        errors.push(field_error(format!("{table}.region"), "must not be empty"));
    }
    check_url(endpoint, format!("{table}.endpoint"), errors);
    check_url(metadata, format!("{table}.metadata_url"), errors);
    if timeout.is_zero() {
        errors.push(field_error(
            format!("{table}.request_timeout"),
            "must be more than 0",
        ));
    }
    match mode {
        None => {}
        Some(m) if m == role_mode => {
            if has_key_pair {
                errors.push(field_error(
                    format!("{table}.credentials"),
                    format!("`{role_mode}` excludes a configured key pair"),
                ));
            }
        }
        Some(other) => errors.push(field_error(
            format!("{table}.credentials"),
            format!("`{other}`: the only value is `{role_mode}`"),
        )),
    }
}

/// Checks the Alibaba and AWS tables.
pub(super) fn check(settings: &super::Settings, instances: &[&str], errors: &mut Vec<FieldError>) {
    match &settings.alibaba {
        None if !settings.alibaba_havip.is_empty() => errors.push(field_error(
            "cloud.alibaba",
            "an Alibaba Cloud provider is configured but [cloud.alibaba] is missing",
        )),
        None => {}
        Some(a) => {
            if a.access_key_id.is_some() != a.access_key_secret.is_some() {
                errors.push(field_error(
                    "cloud.alibaba",
                    "set both access_key_id and access_key_secret, or neither",
                ));
            }
            check_account(
                "cloud.alibaba",
                &a.region,
                &a.endpoint(),
                a.metadata_url(),
                a.request_timeout,
                (
                    a.credentials.as_deref(),
                    RAM_ROLE,
                    a.access_key_id.is_some(),
                ),
                errors,
            );
        }
    }
    match &settings.aws {
        None if !settings.aws_private_ip.is_empty() => errors.push(field_error(
            "cloud.aws",
            "an AWS provider is configured but [cloud.aws] is missing",
        )),
        None => {}
        Some(a) => {
            if a.access_key_id.is_some() != a.secret_access_key.is_some() {
                errors.push(field_error(
                    "cloud.aws",
                    "set both access_key_id and secret_access_key, or neither",
                ));
            }
            check_account(
                "cloud.aws",
                &a.region,
                &a.endpoint(),
                a.metadata_url(),
                a.request_timeout,
                (
                    a.credentials.as_deref(),
                    INSTANCE_ROLE,
                    a.access_key_id.is_some(),
                ),
                errors,
            );
        }
    }
    check_entries(
        "cloud.alibaba_havip",
        &settings.alibaba_havip,
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
        "cloud.aws_private_ip",
        &settings.aws_private_ip,
        instances,
        errors,
        |p| {
            (
                &p.instance,
                [p.confirm_timeout, p.recheck_interval, p.reconcile_interval],
            )
        },
        |_, _, _| {},
    );
}
