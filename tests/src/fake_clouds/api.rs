//! What the fakes answer: the metadata services and the two APIs.

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr},
    sync::Mutex,
    time::Instant,
};

use http_body_util::Full;
use hyper::{HeaderMap, Method, Response, body::Bytes};
use serde_json::json;

use super::{
    Call, Pending, Sim, lock, response,
    roles::{Lookup, rfc3339, unix},
    sig,
};

fn text(status: u16, body: impl Into<String>) -> Response<Full<Bytes>> {
    response(status, "text/plain", body.into())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The metadata services.
pub(super) fn metadata(
    sim: &Mutex<Sim>,
    peer: IpAddr,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Response<Full<Bytes>> {
    let mut sim = lock(sim);
    let Some((cloud, rest)) = path.trim_start_matches('/').split_once("/latest/") else {
        return text(404, "not found");
    };
    let token_headers = match cloud {
        "aws" => Some((
            "x-aws-ec2-metadata-token-ttl-seconds",
            "x-aws-ec2-metadata-token",
        )),
        "alibaba" => Some((
            "x-aliyun-ecs-metadata-token-ttl-seconds",
            "x-aliyun-ecs-metadata-token",
        )),
        "tencent" => None,
        _ => return text(404, "not found"),
    };
    if let Some((ttl, token)) = token_headers {
        if rest == "api/token" {
            if *method != Method::PUT || header(headers, ttl).is_none() {
                return text(400, "missing TTL");
            }
            let t = format!("mdtoken-{cloud}-{:016x}", rand::random::<u64>());
            sim.metadata_tokens.push(t.clone());
            return text(200, t);
        }
        // IMDSv2 refuses a GET without a valid token; the hardened Alibaba mode does too.
        let ok = header(headers, token).is_some_and(|t| sim.metadata_tokens.iter().any(|x| x == t));
        if !ok {
            return text(401, "");
        }
    }
    let node = sim.nodes.iter().find(|n| IpAddr::V4(n.ip) == peer).cloned();
    let role_dir = match cloud {
        "tencent" => "meta-data/cam/security-credentials/",
        "alibaba" => "meta-data/ram/security-credentials/",
        _ => "meta-data/iam/security-credentials/",
    };
    if rest == "meta-data/instance-id" {
        return match node {
            Some(n) => text(200, n.instance_id),
            None => text(404, "unknown caller"),
        };
    }
    if let Some(mac) = rest
        .strip_prefix("meta-data/network/interfaces/macs/")
        .and_then(|r| r.strip_suffix("/interface-id"))
    {
        let found = sim.nodes.iter().find(|n| {
            let m: Vec<String> = n.mac.iter().map(|b| format!("{b:02x}")).collect();
            m.join(":") == mac
        });
        return match found {
            Some(n) => text(200, n.eni_id.clone()),
            None => text(404, "no such MAC"),
        };
    }
    // Tencent's paths sit below meta-data/ already (the client's base includes it).
    let rest = if cloud == "tencent" {
        format!("meta-data/{}", rest.trim_start_matches("meta-data/"))
    } else {
        rest.to_owned()
    };
    if rest == role_dir {
        return text(200, sim.role_name.clone());
    }
    if let Some(role) = rest.strip_prefix(role_dir) {
        if role != sim.role_name {
            return text(404, "no such role");
        }
        let set = sim.roles.issue(match cloud {
            "tencent" => "AKID",
            "alibaba" => "STS.",
            _ => "ASIA",
        });
        let doc = match cloud {
            "tencent" => json!({
                "TmpSecretId": set.id, "TmpSecretKey": set.key, "Token": set.token,
                "ExpiredTime": unix(set.expires), "Expiration": rfc3339(set.expires),
                "Code": "Success",
            }),
            "alibaba" => json!({
                "AccessKeyId": set.id, "AccessKeySecret": set.key, "SecurityToken": set.token,
                "Expiration": rfc3339(set.expires), "LastUpdated": rfc3339(std::time::SystemTime::now()),
                "Code": "Success",
            }),
            _ => json!({
                "Code": "Success", "LastUpdated": rfc3339(std::time::SystemTime::now()),
                "Type": "AWS-HMAC", "AccessKeyId": set.id, "SecretAccessKey": set.key,
                "Token": set.token, "Expiration": rfc3339(set.expires),
            }),
        };
        return response(200, "application/json", doc.to_string());
    }
    text(404, "not found")
}

/// Which API a request is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Api {
    Alibaba,
    Aws,
}

fn error(sim: &mut Sim, api: Api, action: &str, code: &str) -> Response<Full<Bytes>> {
    sim.calls.push(Call {
        action: action.to_owned(),
        outcome: code.to_owned(),
    });
    let id = sim.request_id();
    let status = match code {
        "Throttling" | "Throttling.User" | "RequestLimitExceeded" => 503,
        "InternalError" | "ServiceUnavailable" => 500,
        c if c.contains("NotFound") => 404,
        c if c.starts_with("Forbidden") || c.contains("Auth") || c.contains("Token") => 403,
        _ => 400,
    };
    match api {
        Api::Alibaba => response(
            status,
            "application/json",
            json!({"RequestId": id, "HostId": "vpc.fake", "Code": code, "Message": "fake"})
                .to_string(),
        ),
        Api::Aws => response(
            status,
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>fake</Message></Error></Errors><RequestID>{id}</RequestID></Response>"
            ),
        ),
    }
}

/// Checks credentials and signature; `Err(code)` to refuse.
fn authenticate(
    sim: &Sim,
    api: Api,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Result<(), &'static str> {
    let (auth, token_header) = match api {
        Api::Alibaba => (sig::parse_acs3(headers), "x-acs-security-token"),
        Api::Aws => (sig::parse_sigv4(headers), "x-amz-security-token"),
    };
    let (bad_sig, unknown, expired) = match api {
        Api::Alibaba => (
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId.NotFound",
            "InvalidSecurityToken.Expired",
        ),
        Api::Aws => ("SignatureDoesNotMatch", "AuthFailure", "ExpiredToken"),
    };
    let auth = auth.ok_or(bad_sig)?;
    let key = match sim.roles.lookup(&auth.id) {
        Lookup::Valid { key, token } => {
            // The token must be sent and signed.
            if header(headers, token_header) != Some(token.as_str())
                || !auth.signed.split(';').any(|h| h == token_header)
            {
                return Err(expired);
            }
            key
        }
        Lookup::Expired => return Err(expired),
        Lookup::Unknown => return Err(unknown),
    };
    let ok = match api {
        Api::Alibaba => sig::acs3_ok(&auth, headers, query, body, &key),
        Api::Aws => sig::sigv4_ok(&auth, headers, query, body, &key),
    };
    if ok { Ok(()) } else { Err(bad_sig) }
}

/// Serves one API request.
pub(super) fn api(
    sim: &Mutex<Sim>,
    headers: &HeaderMap,
    query: &str,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let mut sim = lock(sim);
    sim.tick();
    let api = if header(headers, "authorization").is_some_and(|a| a.starts_with("AWS4")) {
        Api::Aws
    } else {
        Api::Alibaba
    };
    let params: Vec<(String, String)> = match api {
        Api::Alibaba => sig::pairs(query),
        Api::Aws => sig::pairs(&String::from_utf8_lossy(body)),
    };
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let action = match api {
        Api::Alibaba => header(headers, "x-acs-action")
            .unwrap_or_default()
            .to_owned(),
        Api::Aws => get("Action"),
    };
    if let Err(code) = authenticate(&sim, api, headers, query, body) {
        return error(&mut sim, api, &action, code);
    }
    if !sim.fail_next.is_empty() {
        let code = sim.fail_next.remove(0);
        return error(&mut sim, api, &action, &code);
    }
    match (api, action.as_str()) {
        (Api::Alibaba, "DescribeHaVips") => describe_ha_vips(&mut sim, &get("Filter.1.Value.1")),
        (Api::Alibaba, "AssociateHaVip" | "UnassociateHaVip") => {
            let (havip, instance) = (get("HaVipId"), get("InstanceId"));
            let Some(node) = sim.nodes.iter().position(|n| n.instance_id == instance) else {
                return error(&mut sim, api, &action, "InvalidInstanceId.NotFound");
            };
            if !sim.havips.contains_key(&havip) {
                return error(&mut sim, api, &action, "InvalidHaVipId.NotFound");
            }
            let at = Instant::now() + sim.task_delay;
            let change = if action == "AssociateHaVip" {
                Pending::Associate(havip, node)
            } else {
                Pending::Unassociate(havip, node)
            };
            sim.pending.push((at, change));
            ok_json(&mut sim, &action, &json!({}))
        }
        (Api::Aws, "DescribeNetworkInterfaces") => {
            let ip = get("Filter.1.Value.1");
            describe_enis(&mut sim, ip.parse().ok())
        }
        (Api::Aws, "AssignPrivateIpAddresses") => {
            let (eni, ip) = (get("NetworkInterfaceId"), get("PrivateIpAddress.1"));
            let Ok(ip) = ip.parse::<Ipv4Addr>() else {
                return error(&mut sim, api, &action, "InvalidParameterValue");
            };
            if !sim.nodes.iter().any(|n| n.eni_id == eni) {
                return error(&mut sim, api, &action, "InvalidNetworkInterfaceID.NotFound");
            }
            let held_elsewhere = sim.private_ips.get(&ip).is_some_and(|e| *e != eni);
            if held_elsewhere && get("AllowReassignment") != "true" {
                return error(&mut sim, api, &action, "InvalidParameterValue");
            }
            let at = Instant::now() + sim.task_delay;
            sim.pending.push((at, Pending::Assign(ip, eni.clone())));
            let id = record_ok(&mut sim, &action);
            response(
                200,
                "text/xml",
                format!(
                    "<AssignPrivateIpAddressesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>{id}</requestId><networkInterfaceId>{eni}</networkInterfaceId><assignedPrivateIpAddressesSet><item><privateIpAddress>{ip}</privateIpAddress></item></assignedPrivateIpAddressesSet><return>true</return></AssignPrivateIpAddressesResponse>"
                ),
            )
        }
        _ => error(
            &mut sim,
            api,
            &action,
            if api == Api::Aws {
                "InvalidAction"
            } else {
                "InvalidAction.NotFound"
            },
        ),
    }
}

fn record_ok(sim: &mut Sim, action: &str) -> String {
    sim.calls.push(Call {
        action: action.to_owned(),
        outcome: "ok".to_owned(),
    });
    sim.request_id()
}

fn ok_json(sim: &mut Sim, action: &str, fields: &serde_json::Value) -> Response<Full<Bytes>> {
    let id = record_ok(sim, action);
    let mut v = fields.clone();
    if let Some(o) = v.as_object_mut() {
        o.insert("RequestId".to_owned(), json!(id));
    }
    response(200, "application/json", v.to_string())
}

fn describe_ha_vips(sim: &mut Sim, id: &str) -> Response<Full<Bytes>> {
    let set: Vec<serde_json::Value> = sim
        .havips
        .iter()
        .filter(|(k, _)| id.is_empty() || *k == id)
        .map(|(k, h)| {
            let ids: Vec<String> = h
                .associated
                .iter()
                .filter_map(|n| sim.nodes.get(*n).map(|n| n.instance_id.clone()))
                .collect();
            let master = h
                .master
                .and_then(|n| sim.nodes.get(n))
                .map(|n| n.instance_id.clone())
                .unwrap_or_default();
            json!({
                "HaVipId": k, "IpAddress": h.vip.map(|v| v.to_string()),
                "Status": if ids.is_empty() { "Available" } else { "InUse" },
                "MasterInstanceId": master, "AssociatedInstanceType": "EcsInstance",
                "AssociatedInstances": { "associatedInstance": ids },
                "VpcId": "vpc-fake", "VSwitchId": "vsw-fake",
            })
        })
        .collect();
    let total = set.len();
    ok_json(
        sim,
        "DescribeHaVips",
        &json!({ "HaVips": { "HaVip": set }, "TotalCount": total, "PageNumber": 1, "PageSize": 10 }),
    )
}

fn describe_enis(sim: &mut Sim, ip: Option<Ipv4Addr>) -> Response<Full<Bytes>> {
    let items = sim
        .nodes
        .iter()
        .filter(|n| ip.is_none_or(|ip| sim.private_ips.get(&ip) == Some(&n.eni_id)))
        .fold(String::new(), |mut acc, n| {
            let ips = std::iter::once(n.ip)
                .chain(
                    sim.private_ips
                        .iter()
                        .filter(|(_, e)| **e == n.eni_id)
                        .map(|(ip, _)| *ip),
                )
                .fold(String::new(), |mut acc, ip| {
                    let _ = write!(acc, "<item><privateIpAddress>{ip}</privateIpAddress></item>");
                    acc
                });
            let _ = write!(
                acc,
                "<item><networkInterfaceId>{}</networkInterfaceId><attachment><instanceId>{}</instanceId></attachment><privateIpAddressesSet>{ips}</privateIpAddressesSet></item>",
                n.eni_id, n.instance_id
            );
            acc
        });
    let id = record_ok(sim, "DescribeNetworkInterfaces");
    response(
        200,
        "text/xml",
        format!(
            "<DescribeNetworkInterfacesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>{id}</requestId><networkInterfaceSet>{items}</networkInterfaceSet></DescribeNetworkInterfacesResponse>"
        ),
    )
}
