//! What the clouds' error codes mean for havip, in one table per cloud taken from their
//! documentation: Tencent Cloud's common error codes and the codes its VPC API reference lists for
//! `DescribeHaVips`, `HaVipAssociateAddressIp`, `MigratePrivateIpAddress`,
//! `DescribeVpcTaskResult` and `DescribeNetworkInterfaces`; Alibaba Cloud's common (gateway)
//! codes and those of `AssociateHaVip`, `UnassociateHaVip` and `DescribeHaVips`; the EC2 API's
//! common client and server codes and those of `AssignPrivateIpAddresses` and
//! `DescribeNetworkInterfaces`.
//!
//! A code is looked up exactly first, then by its head (`InvalidParameterValue.Foo` ->
//! `InvalidParameterValue`), so a new sub-code of a documented family keeps the family's class;
//! a code no table knows is [`Class::Unknown`] (not retried, logged with the code).

use super::retry::Disposition;

/// What can be done about a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// A server-side fault that the next try may not hit (`InternalError`).
    Transient,
    /// Another operation on the same resource is still running (a mutex, an in-progress state):
    /// retry with backoff once it is done.
    Busy,
    /// Request rate limited: retry, later than a transient fault.
    Throttled,
    /// The request's time is too far from the cloud's: retried (a fresh timestamp may pass once
    /// NTP caught up) and logged with a hint about the clock.
    Clock,
    /// Temporary credentials expired or their token is invalid: fetch new ones, then retry.
    ExpiredToken,
    /// The credentials are wrong or lack a permission: retrying cannot help (permanent, auth).
    Auth,
    /// A parameter, resource id, region or quota is wrong: retrying cannot help (permanent,
    /// configuration).
    Config,
    /// Not in the table: not retried; the log shows the code.
    Unknown,
}

impl Class {
    /// The retry behaviour of the class.
    #[must_use]
    pub const fn disposition(self) -> Disposition {
        match self {
            Self::Transient | Self::Busy | Self::Clock | Self::ExpiredToken => Disposition::Retry,
            Self::Throttled => Disposition::BackOff,
            Self::Auth | Self::Config | Self::Unknown => Disposition::GiveUp,
        }
    }

    /// A word for logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::Busy => "busy",
            Self::Throttled => "throttled",
            Self::Clock => "clock",
            Self::ExpiredToken => "expired-token",
            Self::Auth => "permanent-auth",
            Self::Config => "permanent-config",
            Self::Unknown => "unknown",
        }
    }
}

use Class::{Auth, Busy, Clock, Config, ExpiredToken, Throttled, Transient};

/// Tencent Cloud API 3.0: common error codes, then the VPC codes of the actions used.
pub const TENCENT: &[(&str, Class)] = &[
    // Common error codes.
    ("ActionOffline", Config),
    ("AuthFailure", Auth),
    ("AuthFailure.InvalidAuthorization", Auth),
    ("AuthFailure.InvalidSecretId", Auth),
    ("AuthFailure.MFAFailure", Auth),
    ("AuthFailure.SecretIdNotFound", Auth),
    ("AuthFailure.SignatureExpire", Clock),
    ("AuthFailure.SignatureFailure", Auth),
    ("AuthFailure.TokenFailure", ExpiredToken),
    ("AuthFailure.UnauthorizedOperation", Auth),
    ("DryRunOperation", Config),
    ("FailedOperation", Transient),
    ("InternalError", Transient),
    ("InternalError.ModuleError", Transient),
    ("InternalServerError", Transient),
    ("InvalidAction", Config),
    ("InvalidParameter", Config),
    ("InvalidParameterValue", Config),
    ("InvalidRequest", Config),
    ("IpInBlacklist", Auth),
    ("IpNotInWhitelist", Auth),
    ("LimitExceeded", Config),
    ("MissingParameter", Config),
    ("NoSuchProduct", Config),
    ("NoSuchVersion", Config),
    ("RequestLimitExceeded", Throttled),
    (
        "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
        Throttled,
    ),
    ("RequestLimitExceeded.IPLimitExceeded", Throttled),
    ("RequestLimitExceeded.UinLimitExceeded", Throttled),
    ("RequestSizeLimitExceeded", Config),
    ("ResourceInUse", Busy),
    ("ResourceInsufficient", Config),
    ("ResourceNotFound", Config),
    ("ResourceUnavailable", Transient),
    ("ResponseSizeLimitExceeded", Config),
    ("ServiceUnavailable", Transient),
    ("UnauthorizedOperation", Auth),
    ("UnknownParameter", Config),
    ("UnsupportedOperation", Config),
    ("UnsupportedProtocol", Config),
    ("UnsupportedRegion", Config),
    // VPC codes of DescribeHaVips, HaVipAssociateAddressIp, MigratePrivateIpAddress,
    // DescribeVpcTaskResult, DescribeNetworkInterfaces.
    ("InvalidParameter.Coexist", Config),
    ("InvalidParameter.FilterInvalidKey", Config),
    ("InvalidParameter.FilterNotDict", Config),
    ("InvalidParameter.FilterValuesNotList", Config),
    ("InvalidParameterValue.LimitExceeded", Config),
    ("InvalidParameterValue.Malformed", Config),
    ("InvalidParameterValue.NotUtf8EncodingError", Config),
    ("InvalidParameterValue.Range", Config),
    ("InvalidParameterValue.TooLong", Config),
    ("LimitExceeded.ActionLimited", Throttled),
    ("UnauthorizedOperation.AttachmentNotFound", Config),
    ("UnauthorizedOperation.PrimaryIp", Config),
    ("UnsupportedOperation.BindEIP", Config),
    ("UnsupportedOperation.MutexOperationTaskRunning", Busy),
    ("UnsupportedOperation.PrimaryIp", Config),
    ("UnsupportedOperation.UnsupportedBindLocalZoneEIP", Config),
];

/// Alibaba Cloud (RPC gateway common codes, then VPC `AssociateHaVip`, `UnassociateHaVip`,
/// `DescribeHaVips`).
pub const ALIBABA: &[(&str, Class)] = &[
    ("Throttling", Throttled),
    ("Throttling.Api", Throttled),
    ("Throttling.User", Throttled),
    ("ServiceUnavailable", Transient),
    ("InternalError", Transient),
    ("UnknownError", Transient),
    ("InvalidTimeStamp.Expired", Clock),
    ("InvalidTimeStamp.Format", Config),
    ("SignatureNonceUsed", Transient),
    ("SignatureDoesNotMatch", Auth),
    ("IncompleteSignature", Auth),
    ("InvalidAccessKeyId.NotFound", Auth),
    ("InvalidAccessKeyId.Inactive", Auth),
    ("InvalidSecurityToken.Expired", ExpiredToken),
    ("InvalidSecurityToken.Malformed", ExpiredToken),
    ("InvalidSecurityToken.MismatchWithAccessKey", ExpiredToken),
    ("Forbidden", Auth),
    ("Forbidden.RAM", Auth),
    ("Forbidden.AccessKeyDisabled", Auth),
    ("Forbidden.NoPermission", Auth),
    ("InvalidAction.NotFound", Config),
    ("InvalidVersion", Config),
    ("MissingParameter", Config),
    ("InvalidParameter", Config),
    ("InvalidRegionId.NotFound", Config),
    ("InvalidRegionId.MalFormed", Config),
    // AssociateHaVip / UnassociateHaVip / DescribeHaVips.
    ("OperationConflict", Busy),
    ("IncorrectStatus", Busy),
    ("IncorrectHaVipStatus", Busy),
    ("IncorrectInstanceStatus", Busy),
    ("IncorrectStatus.HaVip", Busy),
    ("TaskConflict", Busy),
    ("LastTokenProcessing", Busy),
    ("OperationFailed.ConcurrentOperation", Busy),
    ("InvalidHaVipId.NotFound", Config),
    ("InvalidHaVipInstanceId.NotFound", Config),
    ("InvalidInstanceId.NotFound", Config),
    ("InvalidInstanceId.NotSameVSwitch", Config),
    ("InvalidInstanceId.AlreadyAssociated", Config),
    ("InvalidRegionId", Config),
    ("QuotaExceeded", Config),
    ("QuotaExceeded.HaVipAssociated", Config),
    ("Forbidden.NotAllowedInState", Busy),
    // Listed on AssociateHaVip's reference page.
    ("InvalidVip.Status", Busy),
    ("CountLimitExceed.HaVipOnInstance", Config),
    ("CountLimitExceeded.HaVipOnECSInstance", Config),
];

/// The EC2 Query API (common client and server codes, then `AssignPrivateIpAddresses` and
/// `DescribeNetworkInterfaces`).
pub const AWS: &[(&str, Class)] = &[
    ("RequestLimitExceeded", Throttled),
    ("Throttling", Throttled),
    ("InternalError", Transient),
    ("InternalFailure", Transient),
    ("ServiceUnavailable", Transient),
    ("Unavailable", Transient),
    ("RequestExpired", Clock),
    ("ExpiredToken", ExpiredToken),
    ("AuthFailure", Auth),
    ("Blocked", Auth),
    ("InvalidClientTokenId", Auth),
    ("OptInRequired", Auth),
    ("PendingVerification", Auth),
    ("SignatureDoesNotMatch", Auth),
    ("UnauthorizedOperation", Auth),
    ("DryRunOperation", Config),
    ("IncompleteSignature", Auth),
    ("InvalidAction", Config),
    ("InvalidParameter", Config),
    ("InvalidParameterCombination", Config),
    ("InvalidParameterValue", Config),
    ("InvalidQueryParameter", Config),
    ("MalformedQueryString", Config),
    ("MissingAction", Config),
    ("MissingParameter", Config),
    ("UnknownParameter", Config),
    ("UnsupportedOperation", Config),
    ("UnsupportedProtocol", Config),
    ("ValidationError", Config),
    // AssignPrivateIpAddresses / DescribeNetworkInterfaces.
    ("IncorrectState", Busy),
    ("InvalidNetworkInterfaceID.NotFound", Config),
    ("InvalidNetworkInterfaceID.Malformed", Config),
    ("InvalidNetworkInterfaceId.Malformed", Config),
    ("InvalidIPAddress.InUse", Config),
    ("InvalidAddress.Malformed", Config),
    ("PrivateIpAddressLimitExceeded", Config),
    ("InvalidFilter", Config),
    ("InvalidNextToken", Config),
];

/// The class of `code` in `table`: exact, else by its head, else [`Class::Unknown`].
#[must_use]
pub fn classify(table: &[(&str, Class)], code: &str) -> Class {
    let find = |c: &str| table.iter().find(|(k, _)| *k == c).map(|(_, v)| *v);
    find(code)
        .or_else(|| code.split_once('.').and_then(|(head, _)| find(head)))
        .unwrap_or(Class::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_transient_codes_are_retried() {
        for code in [
            "InternalServerError",
            "UnsupportedOperation.MutexOperationTaskRunning",
        ] {
            assert_eq!(
                classify(TENCENT, code).disposition(),
                Disposition::Retry,
                "{code}"
            );
        }
        assert_eq!(
            classify(TENCENT, "UnsupportedOperation.MutexOperationTaskRunning"),
            Busy
        );
    }

    #[test]
    fn families_and_unknown_codes() {
        assert_eq!(classify(TENCENT, "RequestLimitExceeded.NewKind"), Throttled);
        assert_eq!(classify(TENCENT, "InvalidParameterValue.Whatever"), Config);
        assert_eq!(classify(TENCENT, "AuthFailure.SignatureFailure"), Auth);
        assert_eq!(classify(TENCENT, "AuthFailure.TokenFailure"), ExpiredToken);
        assert_eq!(classify(TENCENT, "AuthFailure.SignatureExpire"), Clock);
        assert_eq!(classify(TENCENT, "UnsupportedOperation.PrimaryIp"), Config);
        assert_eq!(classify(TENCENT, "NoSuchThing"), Class::Unknown);
        assert_eq!(
            classify(TENCENT, "NoSuchThing").disposition(),
            Disposition::GiveUp
        );
        assert_eq!(classify(ALIBABA, "Throttling.User"), Throttled);
        assert_eq!(classify(ALIBABA, "IncorrectHaVipStatus"), Busy);
        assert_eq!(
            classify(ALIBABA, "InvalidSecurityToken.Expired"),
            ExpiredToken
        );
        assert_eq!(classify(ALIBABA, "InvalidHaVipId.NotFound"), Config);
        assert_eq!(classify(AWS, "RequestLimitExceeded"), Throttled);
        assert_eq!(classify(AWS, "ExpiredToken"), ExpiredToken);
        assert_eq!(classify(AWS, "InvalidNetworkInterfaceID.NotFound"), Config);
        assert_eq!(classify(AWS, "UnauthorizedOperation"), Auth);
    }

    #[test]
    fn every_row_is_unique_and_every_class_has_a_disposition() {
        for table in [TENCENT, ALIBABA, AWS] {
            for (i, (code, class)) in table.iter().enumerate() {
                assert!(table[..i].iter().all(|(c, _)| c != code), "{code} twice");
                assert_eq!(classify(table, code), *class, "{code}");
                assert_ne!(class.as_str(), "");
            }
        }
    }
}
