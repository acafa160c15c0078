//! A client of the EC2 Query API (version 2016-11-15): `POST /` with the parameters as an
//! `application/x-www-form-urlencoded` body, signed with `SigV4` ([`super::sigv4`]); answers and
//! errors are XML (`<Response><Errors><Error><Code>`). Credentials are a key pair (with an
//! optional session token) or the instance profile's, through `IMDSv2`.

use std::{
    net::Ipv4Addr,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use super::{
    config::providers::{AwsConfig, INSTANCE_ROLE},
    credentials::{self, KeySettings},
    errors,
    metadata::Flavor,
    retry::Backoff,
    role::{KeySource, RoleKind},
    rpc::{self, RpcError},
    sigv4,
    stats::CloudStats,
    tencent::ClientError,
};

/// API version.
pub const VERSION: &str = "2016-11-15";
/// `AssignPrivateIpAddresses`.
pub const ASSIGN_PRIVATE_IP_ADDRESSES: &str = "AssignPrivateIpAddresses";
/// `DescribeNetworkInterfaces`.
pub const DESCRIBE_NETWORK_INTERFACES: &str = "DescribeNetworkInterfaces";
/// Environment variables of a key pair and its token, as AWS's tools read them.
pub const ENV: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];
const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The key source of `cfg`: the instance profile, the configured pair, else the environment.
/// The error says what is missing (never a key).
pub fn key_source(
    cfg: &AwsConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<KeySource, String> {
    credentials::role_pair_or_env(
        &KeySettings {
            use_role: cfg.credentials.as_deref() == Some(INSTANCE_ROLE),
            metadata_url: cfg.metadata_url(),
            role: (Flavor::Aws, RoleKind::AwsInstanceProfile),
            role_name: cfg.role_name.as_ref(),
            pair: (
                cfg.access_key_id.as_ref(),
                cfg.secret_access_key.as_ref(),
                cfg.session_token.as_ref(),
            ),
            env: ENV,
            missing: "no credentials: set credentials = \"instance-role\", \
                      access_key_id/secret_access_key, or AWS_ACCESS_KEY_ID/\
                      AWS_SECRET_ACCESS_KEY",
        },
        env,
    )
}

/// One ENI of `DescribeNetworkInterfaces`: its id and private IPs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eni {
    /// `eni-...`.
    pub id: String,
    /// Its private IPv4 addresses.
    pub ips: Vec<Ipv4Addr>,
}

fn child_text<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .and_then(|c| c.text())
}

/// Reads an answer: an error document, or the document itself (returned as text).
pub fn check_answer(action: &str, status: u16, bytes: &[u8]) -> Result<String, RpcError> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let doc = roxmltree::Document::parse(&text).ok();
    if let Some(doc) = &doc
        && let Some(error) = doc
            .descendants()
            .find(|n| n.is_element() && n.tag_name().name() == "Error")
        && let Some(code) = child_text(error, "Code")
    {
        let request_id = doc
            .descendants()
            .find(|n| n.is_element() && matches!(n.tag_name().name(), "RequestID" | "RequestId"))
            .and_then(|n| n.text())
            .unwrap_or_default();
        return Err(RpcError::Api {
            action: action.to_owned(),
            code: code.to_owned(),
            message: child_text(error, "Message").unwrap_or_default().to_owned(),
            request_id: request_id.to_owned(),
            class: errors::classify(errors::AWS, code),
        });
    }
    if !(200..300).contains(&status) {
        return Err(RpcError::Http {
            action: action.to_owned(),
            status,
        });
    }
    if doc.is_none() {
        return Err(RpcError::Decode {
            action: action.to_owned(),
            what: "not XML".to_owned(),
        });
    }
    Ok(text)
}

/// The ENIs of a `DescribeNetworkInterfacesResponse`.
pub fn parse_enis(action: &str, xml: &str) -> Result<Vec<Eni>, RpcError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| RpcError::Decode {
        action: action.to_owned(),
        what: e.to_string(),
    })?;
    let Some(set) = doc
        .root_element()
        .children()
        .find(|n| n.is_element() && n.tag_name().name() == "networkInterfaceSet")
    else {
        return Err(RpcError::Decode {
            action: action.to_owned(),
            what: "no networkInterfaceSet".to_owned(),
        });
    };
    let enis = set
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "item")
        .filter_map(|item| {
            let id = child_text(item, "networkInterfaceId")?.to_owned();
            let ips = item
                .children()
                .find(|n| n.is_element() && n.tag_name().name() == "privateIpAddressesSet")
                .map(|s| {
                    s.children()
                        .filter(|n| n.is_element() && n.tag_name().name() == "item")
                        .filter_map(|i| child_text(i, "privateIpAddress")?.parse().ok())
                        .collect()
                })
                .unwrap_or_default();
            Some(Eni { id, ips })
        })
        .collect();
    Ok(enis)
}

/// An EC2 API client for one region.
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
    pub fn new(cfg: &AwsConfig, keys: KeySource, stats: CloudStats) -> Result<Self, ClientError> {
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

    /// Calls `action` once with `params`; the answer document as text.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<String, RpcError> {
        let creds = self
            .keys
            .current()
            .await
            .map_err(|source| RpcError::Credentials {
                action: action.to_owned(),
                source,
            })?;
        let mut form: Vec<(&str, &str)> = vec![("Action", action), ("Version", VERSION)];
        form.extend_from_slice(params);
        let body = sigv4::canonical_query(&form);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let date = sigv4::amz_date(now);
        let mut headers: Vec<(&str, &str)> = vec![
            ("content-type", CONTENT_TYPE),
            ("host", &self.host),
            ("x-amz-date", &date),
        ];
        if let Some(token) = &creds.token {
            headers.push(("x-amz-security-token", token.expose()));
        }
        let signed = sigv4::sign(
            &creds.secret_id,
            &creds.secret_key,
            &sigv4::Request {
                method: "POST",
                canonical_uri: "/",
                query: &[],
                headers: &headers,
                payload: body.as_bytes(),
                region: &self.region,
                service: "ec2",
                amz_date: &date,
            },
        );
        let mut request = self
            .http
            .post(self.url.clone())
            .header("Authorization", signed.authorization);
        for (k, v) in &headers {
            request = request.header(*k, *v);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| RpcError::transport(action, e))?;
        let (status, bytes) = rpc::read_body(action, response).await?;
        check_answer(action, status, &bytes)
    }

    /// [`Self::call`], retried per [`rpc::retrying`].
    pub async fn call_retrying(
        &self,
        provider: &str,
        action: &str,
        params: &[(&str, &str)],
        backoff: &mut Backoff,
        deadline: Option<Instant>,
    ) -> Result<String, RpcError> {
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

    /// The ENIs holding private IP `ip`.
    pub async fn enis_with_ip(
        &self,
        provider: &str,
        ip: Ipv4Addr,
        backoff: &mut Backoff,
        deadline: Option<Instant>,
    ) -> Result<Vec<Eni>, RpcError> {
        let ip = ip.to_string();
        let params = [
            ("Filter.1.Name", "addresses.private-ip-address"),
            ("Filter.1.Value.1", ip.as_str()),
        ];
        let xml = self
            .call_retrying(
                provider,
                DESCRIBE_NETWORK_INTERFACES,
                &params,
                backoff,
                deadline,
            )
            .await?;
        parse_enis(DESCRIBE_NETWORK_INTERFACES, &xml)
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
        let xml = r#"<DescribeNetworkInterfacesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
            <requestId>r</requestId>
            <networkInterfaceSet><item><networkInterfaceId>eni-a</networkInterfaceId>
              <privateIpAddressesSet>
                <item><privateIpAddress>192.0.2.11</privateIpAddress><primary>true</primary></item>
                <item><privateIpAddress>192.0.2.200</privateIpAddress><primary>false</primary></item>
              </privateIpAddressesSet></item></networkInterfaceSet>
            </DescribeNetworkInterfacesResponse>"#;
        let text = check_answer(DESCRIBE_NETWORK_INTERFACES, 200, xml.as_bytes()).expect("ok");
        let enis = parse_enis(DESCRIBE_NETWORK_INTERFACES, &text).expect("enis");
        assert_eq!(
            enis,
            [Eni {
                id: "eni-a".into(),
                ips: vec![Ipv4Addr::new(192, 0, 2, 11), Ipv4Addr::new(192, 0, 2, 200)]
            }]
        );
        let err = r"<Response><Errors><Error><Code>RequestLimitExceeded</Code>
            <Message>Request limit exceeded.</Message></Error></Errors>
            <RequestID>r-1</RequestID></Response>";
        let e = check_answer(ASSIGN_PRIVATE_IP_ADDRESSES, 503, err.as_bytes()).expect_err("error");
        assert_eq!(e.class(), Some(errors::Class::Throttled));
        assert!(e.to_string().contains("r-1"), "{e}");
        assert!(matches!(
            check_answer(ASSIGN_PRIVATE_IP_ADDRESSES, 500, b"oops"),
            Err(RpcError::Http { status: 500, .. })
        ));
        assert!(matches!(
            check_answer(ASSIGN_PRIVATE_IP_ADDRESSES, 200, b"<a>"),
            Err(RpcError::Decode { .. })
        ));
        assert!(parse_enis(DESCRIBE_NETWORK_INTERFACES, "<x/>").is_err());
    }
}
