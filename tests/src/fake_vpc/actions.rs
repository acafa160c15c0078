//! The VPC actions the fake serves, and the webhook receiver.

use std::{
    net::Ipv4Addr,
    sync::Mutex,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use http_body_util::Full;
use hyper::{HeaderMap, Response, body::Bytes};
use serde_json::{Value, json};

use super::{Call, Fault, Sim, Task, WebhookHit, header, json_response, lock, verify};

fn error(sim: &mut Sim, action: &str, code: &str, message: &str) -> Response<Full<Bytes>> {
    sim.calls.push(Call {
        action: action.to_owned(),
        outcome: code.to_owned(),
    });
    let id = sim.request_id();
    json_response(
        200,
        &json!({ "Response": { "Error": { "Code": code, "Message": message }, "RequestId": id } }),
    )
}

fn ok(sim: &mut Sim, action: &str, mut fields: Value) -> (Response<Full<Bytes>>, String) {
    sim.calls.push(Call {
        action: action.to_owned(),
        outcome: "ok".to_owned(),
    });
    let id = sim.request_id();
    if let Some(obj) = fields.as_object_mut() {
        obj.insert("RequestId".to_owned(), Value::String(id.clone()));
    }
    (json_response(200, &json!({ "Response": fields })), id)
}

/// Applies finished tasks.
pub(super) fn settle_tasks(sim: &mut Sim) {
    let now = Instant::now();
    for task in sim.tasks.values_mut() {
        if now >= task.ready
            && let Some((ip, eni)) = task.effect.take()
        {
            sim.private_ips.insert(ip, eni);
        }
    }
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn filter(v: &Value, name: &str) -> Option<String> {
    v.get("Filters")?
        .as_array()?
        .iter()
        .find(|f| f.get("Name").and_then(Value::as_str) == Some(name))?
        .get("Values")?
        .as_array()?
        .first()?
        .as_str()
        .map(str::to_owned)
}

/// Serves one API request.
pub(super) fn api(sim: &Mutex<Sim>, headers: &HeaderMap, body: &[u8]) -> Response<Full<Bytes>> {
    let mut sim = lock(sim);
    sim.tick();
    settle_tasks(&mut sim);
    let action = header(headers, "x-tc-action");
    if let Fault::Error(code) = sim.fault.clone() {
        return error(&mut sim, &action, &code, "injected fault");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (mut id, mut key) = (sim.secret_id.clone(), sim.secret_key.clone());
    let presented = header(headers, "authorization")
        .split_once("Credential=")
        .and_then(|(_, r)| r.split_once('/'))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_default();
    if let Some(roles) = &sim.roles {
        match roles.lookup(&presented) {
            crate::fake_clouds::roles::Lookup::Valid { key: k, token } => {
                // Temporary credentials are only valid with their token.
                if header(headers, "x-tc-token") != token {
                    return error(&mut sim, &action, "AuthFailure.TokenFailure", "bad token");
                }
                (id, key) = (presented, k);
            }
            crate::fake_clouds::roles::Lookup::Expired => {
                return error(
                    &mut sim,
                    &action,
                    "AuthFailure.TokenFailure",
                    "token expired",
                );
            }
            crate::fake_clouds::roles::Lookup::Unknown => {}
        }
    }
    if let Err(code) = verify::check(headers, body, &id, &key, now) {
        return error(&mut sim, &action, code, "signature check failed");
    }
    if header(headers, "x-tc-version") != super::VERSION {
        return error(&mut sim, &action, "NoSuchVersion", "unknown version");
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(&mut sim, &action, "InvalidParameter", "body is not JSON");
    };
    match action.as_str() {
        "DescribeHaVips" => describe_ha_vips(&mut sim, &req),
        "HaVipAssociateAddressIp" => associate(&mut sim, &req),
        "DescribeNetworkInterfaces" => describe_enis(&mut sim, &req),
        "MigratePrivateIpAddress" => migrate(&mut sim, &req),
        "DescribeVpcTaskResult" => task_result(&mut sim, &req),
        _ => error(&mut sim, &action, "InvalidAction", "unknown action"),
    }
}

fn describe_ha_vips(sim: &mut Sim, req: &Value) -> Response<Full<Bytes>> {
    let ids = strings(req, "HaVipIds");
    let set: Vec<Value> = sim
        .havips
        .iter()
        .filter(|(id, _)| ids.is_empty() || ids.contains(id))
        .map(|(id, h)| {
            let node = h.bound.and_then(|n| sim.nodes.get(n));
            json!({
                "HaVipId": id,
                "HaVipName": "test",
                "Vip": h.vip.to_string(),
                "VpcId": "vpc-test",
                "SubnetId": "subnet-test",
                "NetworkInterfaceId": node.map_or("", |n| n.eni_id.as_str()),
                "InstanceId": node.map_or("", |n| n.instance_id.as_str()),
                "AddressIp": h.eip.clone().unwrap_or_default(),
                "State": if node.is_some() { "AVAILABLE" } else { "UNBOUND" },
                "Business": "",
                "CreatedTime": "2026-01-01 00:00:00",
            })
        })
        .collect();
    let total = set.len();
    ok(
        sim,
        "DescribeHaVips",
        json!({ "HaVipSet": set, "TotalCount": total }),
    )
    .0
}

fn associate(sim: &mut Sim, req: &Value) -> Response<Full<Bytes>> {
    let id = req
        .get("HaVipId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let eip = req
        .get("AddressIp")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let action = "HaVipAssociateAddressIp";
    let Some(h) = sim.havips.get_mut(id) else {
        return error(sim, action, "InvalidParameterValue", "unknown HAVIP");
    };
    h.eip = Some(eip.to_owned());
    let ready = Instant::now() + sim.task_delay;
    let (resp, request_id) = ok(sim, action, json!({}));
    sim.tasks.insert(
        request_id,
        Task {
            ready,
            effect: None,
        },
    );
    resp
}

fn describe_enis(sim: &mut Sim, req: &Value) -> Response<Full<Bytes>> {
    let by_ip = filter(req, "address-ip");
    let by_instance = filter(req, "attachment.instance-id");
    let set: Vec<Value> = sim
        .nodes
        .iter()
        .filter(|n| by_instance.as_ref().is_none_or(|i| *i == n.instance_id))
        .filter(|n| {
            by_ip.as_ref().is_none_or(|ip| {
                ip.parse::<Ipv4Addr>()
                    .is_ok_and(|ip| sim.private_ips.get(&ip) == Some(&n.eni_id))
            })
        })
        .map(|n| {
            let ips: Vec<Value> = sim
                .private_ips
                .iter()
                .filter(|(_, eni)| **eni == n.eni_id)
                .map(|(ip, _)| json!({ "PrivateIpAddress": ip.to_string(), "Primary": false }))
                .collect();
            let mac: Vec<String> = n.mac.iter().map(|b| format!("{b:02X}")).collect();
            json!({
                "NetworkInterfaceId": n.eni_id,
                "MacAddress": mac.join(":"),
                "PrivateIpAddressSet": ips,
                "Attachment": { "InstanceId": n.instance_id },
                "Primary": true,
            })
        })
        .collect();
    let total = set.len();
    ok(
        sim,
        "DescribeNetworkInterfaces",
        json!({ "NetworkInterfaceSet": set, "TotalCount": total }),
    )
    .0
}

fn migrate(sim: &mut Sim, req: &Value) -> Response<Full<Bytes>> {
    let action = "MigratePrivateIpAddress";
    let text = |k: &str| {
        req.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (src, dst) = (
        text("SourceNetworkInterfaceId"),
        text("DestinationNetworkInterfaceId"),
    );
    let Ok(ip) = text("PrivateIpAddress").parse::<Ipv4Addr>() else {
        return error(sim, action, "InvalidParameterValue.Malformed", "bad IP");
    };
    if sim.private_ips.get(&ip) != Some(&src) {
        return error(
            sim,
            action,
            "InvalidParameterValue",
            "the source ENI does not hold the IP",
        );
    }
    if !sim.nodes.iter().any(|n| n.eni_id == dst) {
        return error(sim, action, "ResourceNotFound", "no such destination ENI");
    }
    let ready = Instant::now() + sim.task_delay;
    let (resp, request_id) = ok(sim, action, json!({}));
    sim.tasks.insert(
        request_id,
        Task {
            ready,
            effect: Some((ip, dst)),
        },
    );
    resp
}

fn task_result(sim: &mut Sim, req: &Value) -> Response<Full<Bytes>> {
    let action = "DescribeVpcTaskResult";
    let id = req
        .get("TaskId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(task) = sim.tasks.get(id) else {
        return error(sim, action, "ResourceNotFound", "no such task");
    };
    let status = if Instant::now() >= task.ready {
        "SUCCESS"
    } else {
        "RUNNING"
    };
    ok(
        sim,
        action,
        json!({ "Status": status, "Output": status, "Result": [] }),
    )
    .0
}

/// Serves one webhook delivery.
pub(super) fn webhook(sim: &Mutex<Sim>, headers: &HeaderMap, body: &[u8]) -> Response<Full<Bytes>> {
    let mut sim = lock(sim);
    let timestamp = header(headers, "x-havip-timestamp");
    let signed = format!("{timestamp}.{}", String::from_utf8_lossy(body));
    let expected = {
        use hmac::{Hmac, Mac as _};
        Hmac::<sha2::Sha256>::new_from_slice(sim.webhook_key.as_bytes())
            .map(|mut m| {
                m.update(signed.as_bytes());
                format!("sha256={}", hex::encode(m.finalize().into_bytes()))
            })
            .unwrap_or_default()
    };
    let signature_ok = header(headers, "x-havip-signature") == expected;
    let status = if !signature_ok {
        401
    } else if sim.webhook_fail_next > 0 {
        sim.webhook_fail_next -= 1;
        503
    } else {
        200
    };
    sim.webhook_hits.push(WebhookHit {
        event_id: header(headers, "x-havip-event-id"),
        signature_ok,
        status,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
    json_response(status, &json!({ "ok": status == 200 }))
}
