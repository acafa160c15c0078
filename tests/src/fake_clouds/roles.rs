//! Temporary role credentials as the clouds' metadata services hand them out: every fetch
//! issues a new set (id, key, token) valid for `lifetime`; the API fakes accept a set until it
//! expires and refuse it after with the cloud's expired-token code.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// One issued set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// Access key id.
    pub id: String,
    /// Secret.
    pub key: String,
    /// Session token.
    pub token: String,
    /// Expiry.
    pub expires: SystemTime,
}

/// What a request's credentials are, as the API sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A valid set: verify the signature with this key; the request must carry this token.
    Valid {
        /// Secret.
        key: String,
        /// Token.
        token: String,
    },
    /// A set that was issued but has expired.
    Expired,
    /// Never issued.
    Unknown,
}

#[derive(Debug)]
struct Store {
    lifetime: Duration,
    issued: Vec<Issued>,
    next: u64,
}

/// The shared store of issued role credentials (cheap to clone).
#[derive(Clone, Debug)]
pub struct Roles(Arc<Mutex<Store>>);

impl Roles {
    /// A store issuing sets valid for `lifetime`.
    #[must_use]
    pub fn new(lifetime: Duration) -> Self {
        Self(Arc::new(Mutex::new(Store {
            lifetime,
            issued: Vec::new(),
            next: 0,
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Issues a new set whose id starts with `prefix`.
    pub fn issue(&self, prefix: &str) -> Issued {
        let mut s = self.lock();
        s.next += 1;
        let n = s.next;
        let set = Issued {
            id: format!("{prefix}ROLE{n:06}EXAMPLE"),
            key: format!(
                "role-secret-{n:06}-do-not-log-{:08x}",
                rand::random::<u32>()
            ),
            token: format!(
                "role-token-{n:06}-do-not-log-{:016x}",
                rand::random::<u64>()
            ),
            expires: SystemTime::now() + s.lifetime,
        };
        s.issued.push(set.clone());
        set
    }

    /// What `id` is now.
    #[must_use]
    pub fn lookup(&self, id: &str) -> Lookup {
        let s = self.lock();
        match s.issued.iter().find(|i| i.id == id) {
            Some(i) if SystemTime::now() < i.expires => Lookup::Valid {
                key: i.key.clone(),
                token: i.token.clone(),
            },
            Some(_) => Lookup::Expired,
            None => Lookup::Unknown,
        }
    }

    /// Every set issued so far.
    #[must_use]
    pub fn issued(&self) -> Vec<Issued> {
        self.lock().issued.clone()
    }
}

/// Unix seconds of `t`.
#[must_use]
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDTHH:MM:SSZ` of `t`, by counting days (independent of the agent's date code).
#[must_use]
pub fn rfc3339(t: SystemTime) -> String {
    let secs = unix(t);
    let mut days = secs / 86_400;
    let mut year = 1970;
    loop {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let len = if leap { 366 } else { 365 };
        if days < len {
            let feb = if leap { 29 } else { 28 };
            let months = [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            let mut month = 1;
            for m in months {
                if days < m {
                    break;
                }
                days -= m;
                month += 1;
            }
            let rest = secs % 86_400;
            return format!(
                "{year:04}-{month:02}-{:02}T{:02}:{:02}:{:02}Z",
                days + 1,
                rest / 3600,
                rest / 60 % 60,
                rest % 60
            );
        }
        days -= len;
        year += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_expire() {
        let r = Roles::new(Duration::from_millis(50));
        let a = r.issue("STS.");
        assert!(matches!(r.lookup(&a.id), Lookup::Valid { .. }));
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(r.lookup(&a.id), Lookup::Expired);
        assert_eq!(r.lookup("nope"), Lookup::Unknown);
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_hours(474_780)),
            "2024-02-29T12:00:00Z"
        );
    }
}
