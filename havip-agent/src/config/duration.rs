//! Durations as people write them: `"100ms"`, `"1s"`, `"1.5s"`, `"2m"`, `"1m30s"` in TOML, and
//! keepalived's decimal seconds (`0.1`, `2.71828`).
//!
//! Arithmetic is done on integers, so `"0.1s"` is exactly 100 ms and never 99.999 ms.

use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing to parse.
    #[error("empty duration")]
    Empty,
    /// A number is malformed (a sign, two dots, no digits...).
    #[error(
        "`{input}` is not a duration: expected a number followed by a unit, like \"1s\" or \"100ms\""
    )]
    Malformed {
        /// The text as written.
        input: String,
    },
    /// A number has no unit after it.
    #[error(
        "`{input}` has no unit: write \"{input}s\" for seconds or \"{input}ms\" for milliseconds"
    )]
    MissingUnit {
        /// The text as written.
        input: String,
    },
    /// The unit is not one of `ns`, `us`, `ms`, `s`, `m`, `h`.
    #[error("unknown unit `{unit}` in `{input}`: use ns, us, ms, s, m or h")]
    UnknownUnit {
        /// The unknown unit.
        unit: String,
        /// The text as written.
        input: String,
    },
    /// More decimals than the resolution allows.
    #[error("`{input}` is more precise than {resolution} allows")]
    TooPrecise {
        /// The text as written.
        input: String,
        /// The finest step accepted, in words ("1 ns", "1 us").
        resolution: &'static str,
    },
    /// The value does not fit.
    #[error("`{input}` is too large")]
    Overflow {
        /// The text as written.
        input: String,
    },
}

/// Parses a duration with units: one or more `<number><unit>` pairs, the number possibly
/// decimal (`"1.5s"`), units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() {
            return Err(DurationError::Malformed {
                input: input.to_owned(),
            });
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit.trim() {
            "" => {
                return Err(DurationError::MissingUnit {
                    input: input.to_owned(),
                });
            }
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3600 * NANOS_PER_SEC,
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: other.to_owned(),
                    input: input.to_owned(),
                });
            }
        };
        let nanos = scaled(number, unit_nanos, input, "1 ns")?;
        total = total
            .checked_add(nanos)
            .ok_or_else(|| DurationError::Overflow {
                input: input.to_owned(),
            })?;
        rest = next;
    }
    nanos_to_duration(total, input)
}

/// Parses keepalived's decimal seconds (`1`, `0.1`, `2.71828`) with at most `max_decimals`
/// digits after the point (keepalived's resolution: 6 for timers in microseconds, 3 for
/// `vrrp_script` intervals in milliseconds).
pub fn parse_seconds(input: &str, max_decimals: usize) -> Result<Duration, DurationError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if let Some((_, decimals)) = text.split_once('.')
        && decimals.len() > max_decimals
    {
        return Err(DurationError::TooPrecise {
            input: input.to_owned(),
            resolution: match max_decimals {
                0 => "1 s",
                1..=3 => "1 ms",
                _ => "1 us",
            },
        });
    }
    let nanos = scaled(text, NANOS_PER_SEC, input, "1 ns")?;
    nanos_to_duration(nanos, input)
}

/// `number` (digits, optionally one `.` and more digits) times `unit_nanos`, exactly.
fn scaled(
    number: &str,
    unit_nanos: u128,
    input: &str,
    resolution: &'static str,
) -> Result<u128, DurationError> {
    let malformed = || DurationError::Malformed {
        input: input.to_owned(),
    };
    let overflow = || DurationError::Overflow {
        input: input.to_owned(),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && fraction.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || (number.contains('.') && fraction.is_empty())
    {
        return Err(malformed());
    }
    // Durations above u64 nanoseconds (584 years) are rejected anyway; 30 digits is plenty.
    if whole.len() > 30 || fraction.len() > 30 {
        return Err(overflow());
    }
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| overflow())?
    };
    let mut nanos = whole_value.checked_mul(unit_nanos).ok_or_else(overflow)?;
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().map_err(|_| malformed())?;
        let scale = 10u128
            .checked_pow(u32::try_from(fraction.len()).map_err(|_| overflow())?)
            .ok_or_else(overflow)?;
        let part = digits.checked_mul(unit_nanos).ok_or_else(overflow)?;
        if part % scale != 0 {
            return Err(DurationError::TooPrecise {
                input: input.to_owned(),
                resolution,
            });
        }
        nanos = nanos.checked_add(part / scale).ok_or_else(overflow)?;
    }
    Ok(nanos)
}

fn nanos_to_duration(nanos: u128, input: &str) -> Result<Duration, DurationError> {
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| DurationError::Overflow {
            input: input.to_owned(),
        })
}

/// Writes a duration in the largest unit that keeps it exact: `"5s"`, `"100ms"`, `"1500ms"`,
/// `"250us"`, `"0s"`. [`parse_duration`] reads it back to the same value.
pub fn format_duration(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos.is_multiple_of(NANOS_PER_SEC) {
        format!("{}s", nanos / NANOS_PER_SEC)
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        format!("{}us", nanos / 1_000)
    } else {
        format!("{nanos}ns")
    }
}

/// `#[serde(with = "duration::serde_duration")]` for a `Duration` written as a string.
pub mod serde_duration {
    use super::{Deserializer, Duration, DurationVisitor, Serializer, format_duration};

    /// Serializes as `"5s"`, `"100ms"`...
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*value))
    }

    /// Deserializes `"5s"`, `"100ms"`, `"1.5s"`...
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_str(DurationVisitor)
    }
}

/// `#[serde(with = "duration::serde_opt_duration")]` for an `Option<Duration>`.
pub mod serde_opt_duration {
    use super::{Deserializer, Duration, DurationVisitor, Serializer, format_duration};

    /// Serializes `Some(d)` as a string; `None` should be skipped with `skip_serializing_if`.
    #[expect(
        clippy::ref_option,
        reason = "serde's `with` passes the field by reference"
    )]
    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_str(&format_duration(*d)),
            None => serializer.serialize_none(),
        }
    }

    /// Deserializes a present value; a missing one is `None` through `#[serde(default)]`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        deserializer.deserialize_str(DurationVisitor).map(Some)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration string like \"1s\", \"100ms\" or \"1.5s\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_units_fractions_and_compounds() {
        assert_eq!(parse_duration("100ms"), Ok(ms(100)));
        assert_eq!(parse_duration("1s"), Ok(ms(1000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("0.1s"), Ok(ms(100)));
        assert_eq!(parse_duration(".5s"), Ok(ms(500)));
        assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
        assert_eq!(parse_duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration(" 0s "), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_bad_durations() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("1"),
            Err(DurationError::MissingUnit { .. })
        ));
        assert!(matches!(
            parse_duration("1d"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("-1s"),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            parse_duration("1..2s"),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            parse_duration("1.s"),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            parse_duration("0.5ns"),
            Err(DurationError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999999h"),
            Err(DurationError::Overflow { .. })
        ));
    }

    #[test]
    fn keepalived_seconds() {
        assert_eq!(parse_seconds("1", 6), Ok(ms(1000)));
        assert_eq!(parse_seconds("0.1", 6), Ok(ms(100)));
        assert_eq!(
            parse_seconds("2.71828", 6),
            Ok(Duration::from_micros(2_718_280))
        );
        assert!(matches!(
            parse_seconds("0.0001", 3),
            Err(DurationError::TooPrecise { .. })
        ));
        assert!(matches!(
            parse_seconds("1s", 6),
            Err(DurationError::Malformed { .. })
        ));
        assert!(matches!(
            parse_seconds("-1", 6),
            Err(DurationError::Malformed { .. })
        ));
    }

    #[test]
    fn format_round_trips() {
        for d in [
            Duration::ZERO,
            ms(5000),
            ms(100),
            ms(1500),
            Duration::from_micros(2_718_280),
            Duration::from_nanos(7),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
        assert_eq!(format_duration(ms(1500)), "1500ms");
        assert_eq!(format_duration(ms(5000)), "5s");
    }
}
