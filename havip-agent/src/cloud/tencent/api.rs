//! The VPC actions used, as (action name, JSON payload) builders and typed answers. Only the
//! fields havip reads are declared; every one is optional in the answer, because the API marks
//! many as "may return null".

use std::net::Ipv4Addr;

use serde::Deserialize;
use serde_json::{Value, json};

/// `DescribeHaVips`.
pub const DESCRIBE_HA_VIPS: &str = "DescribeHaVips";
/// `HaVipAssociateAddressIp` (asynchronous).
pub const HA_VIP_ASSOCIATE_ADDRESS_IP: &str = "HaVipAssociateAddressIp";
/// `MigratePrivateIpAddress` (asynchronous).
pub const MIGRATE_PRIVATE_IP_ADDRESS: &str = "MigratePrivateIpAddress";
/// `DescribeVpcTaskResult`: the state of an asynchronous action, by its `RequestId`.
pub const DESCRIBE_VPC_TASK_RESULT: &str = "DescribeVpcTaskResult";
/// `DescribeNetworkInterfaces`.
pub const DESCRIBE_NETWORK_INTERFACES: &str = "DescribeNetworkInterfaces";

/// Payload of `DescribeHaVips` for one HAVIP.
#[must_use]
pub fn describe_ha_vip(havip_id: &str) -> Value {
    json!({ "HaVipIds": [havip_id] })
}

/// Payload of `HaVipAssociateAddressIp`.
#[must_use]
pub fn associate_address_ip(havip_id: &str, eip: Ipv4Addr) -> Value {
    json!({ "HaVipId": havip_id, "AddressIp": eip.to_string() })
}

/// Payload of `MigratePrivateIpAddress`.
#[must_use]
pub fn migrate_private_ip(source_eni: &str, destination_eni: &str, ip: Ipv4Addr) -> Value {
    json!({
        "SourceNetworkInterfaceId": source_eni,
        "DestinationNetworkInterfaceId": destination_eni,
        "PrivateIpAddress": ip.to_string(),
    })
}

/// Payload of `DescribeVpcTaskResult`.
#[must_use]
pub fn task_result(task_id: &str) -> Value {
    json!({ "TaskId": task_id })
}

/// Payload of `DescribeNetworkInterfaces` for the ENIs holding private IP `ip`.
#[must_use]
pub fn interfaces_with_ip(ip: Ipv4Addr) -> Value {
    json!({ "Filters": [{ "Name": "address-ip", "Values": [ip.to_string()] }], "Limit": 100 })
}

/// Payload of `DescribeNetworkInterfaces` for the ENIs of CVM `instance_id`.
#[must_use]
pub fn interfaces_of_instance(instance_id: &str) -> Value {
    json!({
        "Filters": [{ "Name": "attachment.instance-id", "Values": [instance_id] }],
        "Limit": 100,
    })
}

/// One HAVIP of `DescribeHaVips`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HaVip {
    /// `havip-...`.
    pub ha_vip_id: Option<String>,
    /// Its private IP.
    pub vip: Option<String>,
    /// The ENI it is bound to (empty when unbound).
    pub network_interface_id: Option<String>,
    /// The CVM it is bound to (empty when unbound).
    pub instance_id: Option<String>,
    /// The EIP associated with it.
    pub address_ip: Option<String>,
    /// `AVAILABLE`, `UNBOUND`, ...
    pub state: Option<String>,
}

fn present(v: Option<&String>) -> Option<&str> {
    v.map(String::as_str).filter(|s| !s.is_empty())
}

impl HaVip {
    /// The CVM it is bound to, if any.
    #[must_use]
    pub fn bound_instance(&self) -> Option<&str> {
        present(self.instance_id.as_ref())
    }

    /// The ENI it is bound to, if any.
    #[must_use]
    pub fn bound_eni(&self) -> Option<&str> {
        present(self.network_interface_id.as_ref())
    }

    /// The associated EIP, if any.
    #[must_use]
    pub fn eip(&self) -> Option<&str> {
        present(self.address_ip.as_ref())
    }
}

/// Answer of `DescribeHaVips`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HaVips {
    /// The HAVIPs (null when none).
    pub ha_vip_set: Option<Vec<HaVip>>,
}

/// Answer of an action that only returns a `RequestId`.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct Empty {}

/// Answer of `DescribeVpcTaskResult`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TaskResult {
    /// `SUCCESS`, `FAILED` or `RUNNING`.
    pub status: Option<String>,
    /// Free text.
    pub output: Option<String>,
}

/// The state of an asynchronous task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// Done.
    Success,
    /// Failed.
    Failed,
    /// Still running (or a status this client does not know, which is treated the same).
    Running,
}

impl TaskResult {
    /// The status.
    #[must_use]
    pub fn status(&self) -> TaskStatus {
        match self.status.as_deref() {
            Some("SUCCESS") => TaskStatus::Success,
            Some("FAILED") => TaskStatus::Failed,
            _ => TaskStatus::Running,
        }
    }
}

/// A private IP of an ENI.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PrivateIp {
    /// The address.
    pub private_ip_address: Option<String>,
    /// Whether it is the ENI's primary IP.
    pub primary: Option<bool>,
}

/// What an ENI is attached to.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Attachment {
    /// The CVM.
    pub instance_id: Option<String>,
}

/// One ENI of `DescribeNetworkInterfaces`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkInterface {
    /// `eni-...`.
    pub network_interface_id: Option<String>,
    /// Its MAC, `20:90:6F:..`.
    pub mac_address: Option<String>,
    /// Its private IPs.
    pub private_ip_address_set: Option<Vec<PrivateIp>>,
    /// What it is attached to.
    pub attachment: Option<Attachment>,
}

impl NetworkInterface {
    /// Whether `ip` is one of its private IPs.
    #[must_use]
    pub fn holds(&self, ip: Ipv4Addr) -> bool {
        let ip = ip.to_string();
        self.private_ip_address_set
            .iter()
            .flatten()
            .any(|p| p.private_ip_address.as_deref() == Some(ip.as_str()))
    }

    /// Whether its MAC is `mac` (any case, `:` or `-` separated).
    #[must_use]
    pub fn has_mac(&self, mac: [u8; 6]) -> bool {
        self.mac_address
            .as_deref()
            .and_then(|m| crate::net::iface::parse_mac(&m.replace('-', ":")))
            == Some(mac)
    }
}

/// Answer of `DescribeNetworkInterfaces`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkInterfaces {
    /// The ENIs.
    pub network_interface_set: Option<Vec<NetworkInterface>>,
}
