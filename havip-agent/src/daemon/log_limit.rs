//! Rate limiting for WARN lines that a peer (or an attacker) can trigger at will: at most one
//! line per key per period, and that line says how many were left out since the last one.

use std::{collections::HashMap, time::Duration};

use crate::vrrp::Instant;

/// How often a line of one key may be logged.
pub const PERIOD: Duration = Duration::from_secs(10);

/// Per-key state of the limiter.
#[derive(Debug, Default)]
pub struct LogLimit {
    /// Key -> when it was last logged, and how many were suppressed since.
    keys: HashMap<&'static str, (Instant, u64)>,
}

impl LogLimit {
    /// Whether a line of `key` may be logged at `now`: `Some(suppressed)` (how many were left
    /// out since the last line) or `None` (leave this one out; it is counted).
    pub fn check(&mut self, key: &'static str, now: Instant) -> Option<u64> {
        match self.keys.get_mut(key) {
            Some((last, suppressed)) if now.saturating_duration_since(*last) < PERIOD => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                let n = *suppressed;
                *last = now;
                *suppressed = 0;
                Some(n)
            }
            None => {
                self.keys.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_per_period_with_the_count_left_out() {
        let mut l = LogLimit::default();
        let t = |ms| Instant::from_millis(ms);
        assert_eq!(l.check("address_mismatch", t(0)), Some(0));
        assert_eq!(l.check("address_mismatch", t(100)), None);
        assert_eq!(l.check("address_mismatch", t(9_999)), None);
        // Another key has its own budget.
        assert_eq!(l.check("auth_mismatch", t(5_000)), Some(0));
        assert_eq!(l.check("address_mismatch", t(10_000)), Some(2));
        assert_eq!(l.check("address_mismatch", t(10_001)), None);
        assert_eq!(l.check("address_mismatch", t(30_000)), Some(1));
    }
}
