//! A client of the Alibaba Cloud VPC API (version 2016-04-28, RPC style): `POST /` with the
//! parameters in the query string, signed with `ACS3-HMAC-SHA256` ([`super::acs3`]); answers are
//! JSON, errors `{"Code", "Message", "RequestId"}` with an HTTP error status. Credentials are a
//! key pair (with an optional STS token) or the ECS instance's RAM role.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::{
    acs3,
    config::providers::{AlibabaConfig, RAM_ROLE},
    credentials::{self, KeySettings},
    errors,
    metadata::Flavor,
    retry::Backoff,
    role::{KeySource, RoleKind},
    rpc::{self, RpcError},
    stats::CloudStats,
    tencent::ClientError,
};

/// API version of the VPC actions.
pub const VERSION: &str = "2016-04-28";
/// `DescribeHaVips`.
pub const DESCRIBE_HA_VIPS: &str = "DescribeHaVips";
/// `AssociateHaVip` (asynchronous).
pub const ASSOCIATE_HA_VIP: &str = "AssociateHaVip";
/// `UnassociateHaVip` (asynchronous).
pub const UNASSOCIATE_HA_VIP: &str = "UnassociateHaVip";
/// Environment variables of a key pair and its token, as Alibaba's tools read them.
pub const ENV: [&str; 3] = [
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
];
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The key source of `cfg`: the RAM role, the configured pair, else the environment.
/// The error says what is missing (never a key).
pub fn key_source(
    cfg: &AlibabaConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<KeySource, String> {
    credentials::role_pair_or_env(
        &KeySettings {
            use_role: cfg.credentials.as_deref() == Some(RAM_ROLE),
            metadata_url: cfg.metadata_url(),
            role: (Flavor::Alibaba, RoleKind::AlibabaRam),
            role_name: cfg.role_name.as_ref(),
            pair: (
                cfg.access_key_id.as_ref(),
                cfg.access_key_secret.as_ref(),
                cfg.security_token.as_ref(),
            ),
            env: ENV,
            missing: "no credentials: set credentials = \"ram-role\", access_key_id/\
                      access_key_secret, or ALIBABA_CLOUD_ACCESS_KEY_ID/\
                      ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        },
        env,
    )
}

/// One `HaVip` of `DescribeHaVips`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HaVip {
    /// `havip-...`.
    pub ha_vip_id: Option<String>,
    /// Its private IP.
    pub ip_address: Option<String>,
    /// `Available`, `InUse`, ...
    pub status: Option<String>,
    /// The instance the `HaVip` currently answers on (the one whose ARP won).
    pub master_instance_id: Option<String>,
    /// The associated instances.
    pub associated_instances: Option<Associated>,
}

/// `AssociatedInstances`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Associated {
    /// The instance ids.
    #[serde(rename = "associatedInstance")]
    pub ids: Vec<String>,
}

impl HaVip {
    /// The associated instance ids.
    #[must_use]
    pub fn associated(&self) -> &[String] {
        self.associated_instances
            .as_ref()
            .map_or(&[], |a| a.ids.as_slice())
    }

    /// The master instance, if any.
    #[must_use]
    pub fn master(&self) -> Option<&str> {
        self.master_instance_id.as_deref().filter(|s| !s.is_empty())
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", default)]
struct HaVipSet {
    ha_vip: Vec<HaVip>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", default)]
struct Described {
    ha_vips: HaVipSet,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorDoc {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

/// Reads an answer: an error document, or the typed answer.
pub fn parse_answer<T: serde::de::DeserializeOwned>(
    action: &str,
    status: u16,
    bytes: &[u8],
) -> Result<T, RpcError> {
    let ok = (200..300).contains(&status);
    if !ok {
        if let Ok(e) = serde_json::from_slice::<ErrorDoc>(bytes)
            && let Some(code) = e.code.filter(|c| !c.is_empty())
        {
            let class = errors::classify(errors::ALIBABA, &code);
            return Err(RpcError::Api {
                action: action.to_owned(),
                code,
                message: e.message.unwrap_or_default(),
                request_id: e.request_id.unwrap_or_default(),
                class,
            });
        }
        return Err(RpcError::Http {
            action: action.to_owned(),
            status,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| RpcError::Decode {
        action: action.to_owned(),
        what: e.to_string(),
    })
}

/// A VPC API client for one region.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    url: reqwest::Url,
    host: String,
    region: String,
    keys: KeySource,
    stats: CloudStats,
}

impl Client {
    /// A client for `cfg` signing with `keys`.
    pub fn new(
        cfg: &AlibabaConfig,
        keys: KeySource,
        stats: CloudStats,
    ) -> Result<Self, ClientError> {
        let (http, url, host) = rpc::http_client(&cfg.endpoint(), cfg.request_timeout)?;
        Ok(Self {
            http,
            url,
            host,
            region: cfg.region.clone(),
            keys,
            stats,
        })
    }

    /// Calls `action` once with `params` (plus `RegionId`).
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<T, RpcError> {
        let creds = self
            .keys
            .current()
            .await
            .map_err(|source| RpcError::Credentials {
                action: action.to_owned(),
                source,
            })?;
        let mut query: Vec<(&str, &str)> = vec![("RegionId", self.region.as_str())];
        query.extend_from_slice(params);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let date = acs3::acs_date(now);
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let mut headers: Vec<(&str, &str)> = vec![
            ("host", &self.host),
            ("x-acs-action", action),
            ("x-acs-content-sha256", EMPTY_SHA256),
            ("x-acs-date", &date),
            ("x-acs-signature-nonce", &nonce),
            ("x-acs-version", VERSION),
        ];
        if let Some(token) = &creds.token {
            headers.push(("x-acs-security-token", token.expose()));
        }
        let signed = acs3::sign(
            &creds.secret_id,
            &creds.secret_key,
            &acs3::Request {
                method: "POST",
                canonical_uri: "/",
                query: &query,
                headers: &headers,
                payload: b"",
            },
        );
        let mut url = self.url.clone();
        url.set_query(Some(&super::sigv4::canonical_query(&query)));
        let mut request = self
            .http
            .post(url)
            .header("Authorization", signed.authorization);
        for (k, v) in &headers {
            request = request.header(*k, *v);
        }
        let response = request
            .send()
            .await
            .map_err(|e| RpcError::transport(action, e))?;
        let (status, bytes) = rpc::read_body(action, response).await?;
        parse_answer(action, status, &bytes)
    }

    /// [`Self::call`], retried per [`rpc::retrying`].
    pub async fn call_retrying<T: serde::de::DeserializeOwned>(
        &self,
        provider: &str,
        action: &str,
        params: &[(&str, &str)],
        backoff: &mut Backoff,
        deadline: Option<Instant>,
    ) -> Result<T, RpcError> {
        rpc::retrying(
            &self.stats,
            &self.keys,
            provider,
            action,
            backoff,
            deadline,
            || self.call(action, params),
        )
        .await
    }

    /// `DescribeHaVips` for one `HaVip`; `None` when it does not exist.
    pub async fn describe_ha_vip(
        &self,
        provider: &str,
        havip_id: &str,
        backoff: &mut Backoff,
        deadline: Option<Instant>,
    ) -> Result<Option<HaVip>, RpcError> {
        let params = [("Filter.1.Key", "HaVipId"), ("Filter.1.Value.1", havip_id)];
        let d: Described = self
            .call_retrying(provider, DESCRIBE_HA_VIPS, &params, backoff, deadline)
            .await?;
        Ok(d.ha_vips
            .ha_vip
            .into_iter()
            .find(|h| h.ha_vip_id.as_deref() == Some(havip_id)))
    }

    /// The key source, for the startup log.
    #[must_use]
    pub fn describe_keys(&self) -> String {
        self.keys.describe()
    }

    /// The endpoint.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        self.url.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_answers_parse() {
        let body = br#"{"RequestId":"r","TotalCount":1,"PageNumber":1,"PageSize":10,
            "HaVips":{"HaVip":[{"HaVipId":"havip-1","IpAddress":"192.0.2.200","Status":"InUse",
            "MasterInstanceId":"i-a","AssociatedInstanceType":"EcsInstance",
            "AssociatedInstances":{"associatedInstance":["i-a","i-b"]}}]}}"#;
        let d: Described = parse_answer(DESCRIBE_HA_VIPS, 200, body).expect("parses");
        let h = &d.ha_vips.ha_vip[0];
        assert_eq!(h.master(), Some("i-a"));
        assert_eq!(h.associated(), ["i-a", "i-b"]);
        let err = parse_answer::<Described>(
            ASSOCIATE_HA_VIP,
            400,
            br#"{"RequestId":"r","Code":"IncorrectHaVipStatus","Message":"busy"}"#,
        )
        .expect_err("error");
        assert_eq!(err.class(), Some(errors::Class::Busy));
        assert!(matches!(
            parse_answer::<Described>(DESCRIBE_HA_VIPS, 502, b"<html>"),
            Err(RpcError::Http { status: 502, .. })
        ));
        assert!(matches!(
            parse_answer::<Described>(DESCRIBE_HA_VIPS, 200, b"{"),
            Err(RpcError::Decode { .. })
        ));
    }
}
