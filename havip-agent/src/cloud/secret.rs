//! Secrets (API keys, webhook keys) in a type that cannot reach a log by accident: `Debug` and
//! `Display` print `[redacted]`; only [`Secret::expose`] gives the text, at the place that signs.

use std::fmt;

/// A secret string. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret itself, for signing. Never log what this returns.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (or only whitespace).
    #[must_use]
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        #[derive(Debug)]
        #[expect(dead_code, reason = "only printed")]
        struct Holder {
            key: Secret,
        }
        let s = Secret::new("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let printed = format!("{:?}", Holder { key: s.clone() });
        assert!(!printed.contains("Gu5t9x"), "{printed}");
        assert_eq!(s.expose(), "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE");
        assert!(Secret::new("  ").is_blank());
    }
}
