//! Value types of the model, each with its TOML forms: [`Version`] (an integer),
//! [`InitialState`] and [`AuthType`] (keepalived's words), and the types written either as a
//! string or as a table: [`VirtualAddress`] (`"192.0.2.3/24"`), [`TrackInterface`] and
//! [`TrackScript`] (a name), [`Command`] (a command line).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

/// VRRP protocol version; written as the integer `2` or `3`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// VRRP v2, RFC 3768 (keepalived's default).
    #[default]
    V2,
    /// VRRP v3, RFC 9568.
    V3,
}

impl Version {
    /// The version number on the wire.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version with that number.
    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.number())
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("VRRP version 2 or 3")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                Version::from_number(v)
                    .ok_or_else(|| E::custom(format!("VRRP version must be 2 or 3, not {v}")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        deserializer.deserialize_i64(V)
    }
}

/// Initial state of an instance, with keepalived's words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    /// Start as MASTER (immediately only with priority 255, keepalived's rule).
    Master,
    /// Start as BACKUP and wait for the master-down timer.
    #[default]
    Backup,
}

/// VRRP v2 authentication (RFC 2338 5.3.6): only the simple password is supported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// The authentication type, `"PASS"`.
    #[serde(rename = "type")]
    pub kind: AuthType,
    /// The password, at most 8 bytes.
    pub pass: String,
}

/// VRRP v2 authentication types havip implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthType {
    /// Simple text password (keepalived `auth_type PASS`). `AH` is not supported.
    #[serde(rename = "PASS")]
    Pass,
}

/// A virtual address: `"192.0.2.3/24"`, `"2001:db8::3/64"`, or a table
/// `{ address = "192.0.2.4/32", dev = "eth1", label = "eth1:vip" }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VirtualAddress {
    /// The address, IPv4 or IPv6 (one family per instance, see `Instance::family`).
    pub address: IpAddr,
    /// Prefix length, 0..=32 (IPv4) or 0..=128 (IPv6). Default the whole address (32 or 128)
    /// when written without one, keepalived's rule.
    pub prefix_len: u8,
    /// Interface to add it to. Default: the instance's interface.
    pub dev: Option<String>,
    /// Address label (`eth0:1` style). Default: none.
    pub label: Option<String>,
}

impl VirtualAddress {
    /// `address/prefix_len` on the instance's interface, no label.
    pub fn new(address: impl Into<IpAddr>, prefix_len: u8) -> Self {
        Self {
            address: address.into(),
            prefix_len,
            dev: None,
            label: None,
        }
    }

    /// The address if it is IPv4.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        match self.address {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }
    }
}

/// Why an address could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// A prefix length that is not 0..=32 (IPv4) or 0..=128 (IPv6).
    #[error("prefix length in `{input}` must be 0..={max}")]
    Prefix {
        /// The text as written.
        input: String,
        /// The longest prefix of the address's family.
        max: u8,
    },
    /// Neither an IPv4 nor an IPv6 address.
    #[error("`{input}` is not an IP address")]
    NotIp {
        /// The text as written.
        input: String,
    },
}

impl FromStr for VirtualAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let address = addr.parse::<IpAddr>().map_err(|_| AddressError::NotIp {
            input: s.to_owned(),
        })?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix_len = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max && !p.starts_with('+'))
                .ok_or_else(|| AddressError::Prefix {
                    input: s.to_owned(),
                    max,
                })?,
        };
        Ok(Self::new(address, prefix_len))
    }
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// The table form of a [`VirtualAddress`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VirtualAddressTable {
    address: String,
    dev: Option<String>,
    label: Option<String>,
}

impl TryFrom<VirtualAddressTable> for VirtualAddress {
    type Error = AddressError;

    fn try_from(t: VirtualAddressTable) -> Result<Self, AddressError> {
        Ok(Self {
            dev: t.dev,
            label: t.label,
            ..t.address.parse()?
        })
    }
}

impl Serialize for VirtualAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.dev.is_none() && self.label.is_none() {
            return serializer.collect_str(self);
        }
        let mut s = serializer.serialize_struct("VirtualAddress", 3)?;
        s.serialize_field("address", &self.to_string())?;
        if let Some(dev) = &self.dev {
            s.serialize_field("dev", dev)?;
        }
        if let Some(label) = &self.label {
            s.serialize_field("label", label)?;
        }
        s.end()
    }
}

impl<'de> Deserialize<'de> for VirtualAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        str_or_table::<D, Self, VirtualAddressTable>(
            deserializer,
            "an address like \"192.0.2.3/24\" or a table { address, dev, label }",
        )
    }
}

/// An interface whose state is tracked: `"eth1"` or `{ name = "eth1", weight = -20 }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackInterface {
    /// Interface name.
    pub name: String,
    /// Priority adjustment, -253..=253. Default 0: interface down means FAULT.
    pub weight: i16,
    /// Adjust the priority the other way round (keepalived `reverse`). Default false.
    pub reverse: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackInterfaceTable {
    name: String,
    #[serde(default)]
    weight: i16,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    reverse: bool,
}

impl From<TrackInterfaceTable> for TrackInterface {
    fn from(t: TrackInterfaceTable) -> Self {
        Self {
            name: t.name,
            weight: t.weight,
            reverse: t.reverse,
        }
    }
}

impl Serialize for TrackInterface {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.weight == 0 && !self.reverse {
            return serializer.serialize_str(&self.name);
        }
        TrackInterfaceTable {
            name: self.name.clone(),
            weight: self.weight,
            reverse: self.reverse,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TrackInterface {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        str_or_table::<D, Self, TrackInterfaceTable>(
            deserializer,
            "an interface name or a table { name, weight, reverse }",
        )
    }
}

/// A tracked script: `"checkhaproxy"` or `{ name = "checkhaproxy", weight = -30 }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackScript {
    /// Name of a `[scripts.NAME]` entry.
    pub name: String,
    /// Priority adjustment, -253..=253. Default (none): the script's weight.
    pub weight: Option<i16>,
    /// `reverse` / `noreverse`. Default (none): the script's setting.
    pub reverse: Option<bool>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackScriptTable {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weight: Option<i16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reverse: Option<bool>,
}

impl From<TrackScriptTable> for TrackScript {
    fn from(t: TrackScriptTable) -> Self {
        Self {
            name: t.name,
            weight: t.weight,
            reverse: t.reverse,
        }
    }
}

impl Serialize for TrackScript {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.weight.is_none() && self.reverse.is_none() {
            return serializer.serialize_str(&self.name);
        }
        TrackScriptTable {
            name: self.name.clone(),
            weight: self.weight,
            reverse: self.reverse,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TrackScript {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        str_or_table::<D, Self, TrackScriptTable>(
            deserializer,
            "a script name or a table { name, weight, reverse }",
        )
    }
}

/// A notify command: `"/etc/havip/notify.sh master"`, or
/// `{ command = "...", user = "havip", group = "havip" }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command {
    /// Command line, split into words like keepalived does (whitespace separates words, single
    /// quotes keep spaces inside one).
    pub command: String,
    /// User to run as. Default (none): `[global].script_user`.
    pub user: Option<String>,
    /// Group to run as. Default (none): the user's primary group.
    pub group: Option<String>,
}

impl Command {
    /// A command run as the default script user.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
            user: None,
            group: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandTable {
    command: String,
    user: Option<String>,
    group: Option<String>,
}

impl From<CommandTable> for Command {
    fn from(t: CommandTable) -> Self {
        Self {
            command: t.command,
            user: t.user,
            group: t.group,
        }
    }
}

impl FromStr for Command {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl Serialize for Command {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.user.is_none() && self.group.is_none() {
            return serializer.serialize_str(&self.command);
        }
        let mut s = serializer.serialize_struct("Command", 3)?;
        s.serialize_field("command", &self.command)?;
        if let Some(user) = &self.user {
            s.serialize_field("user", user)?;
        }
        if let Some(group) = &self.group {
            s.serialize_field("group", group)?;
        }
        s.end()
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        str_or_table::<D, Self, CommandTable>(
            deserializer,
            "a command line or a table { command, user, group }",
        )
    }
}

/// Deserializes `T` from a string (through `FromStr`) or from its table form `Tb`.
fn str_or_table<'de, D, T, Tb>(deserializer: D, expecting: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
    Tb: Deserialize<'de>,
    T: TryFrom<Tb>,
    <T as TryFrom<Tb>>::Error: fmt::Display,
{
    struct V<T, Tb>(&'static str, std::marker::PhantomData<(T, Tb)>);

    impl<'de, T, Tb> Visitor<'de> for V<T, Tb>
    where
        T: FromStr + TryFrom<Tb>,
        T::Err: fmt::Display,
        <T as TryFrom<Tb>>::Error: fmt::Display,
        Tb: Deserialize<'de>,
    {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            v.parse().map_err(E::custom)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            let table = Tb::deserialize(de::value::MapAccessDeserializer::new(map))?;
            T::try_from(table).map_err(de::Error::custom)
        }
    }

    deserializer.deserialize_any(V::<T, Tb>(expecting, std::marker::PhantomData))
}

impl FromStr for TrackInterface {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self {
            name: s.to_owned(),
            weight: 0,
            reverse: false,
        })
    }
}

impl FromStr for TrackScript {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self {
            name: s.to_owned(),
            weight: None,
            reverse: None,
        })
    }
}
