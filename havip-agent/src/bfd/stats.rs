//! What the BFD transport shares with the metrics endpoint and `havip-agent status`: the latest
//! [`Snapshot`] of every session, packets by outcome, and state changes by diagnostic. Written
//! by the BFD thread, read at scrape or status time; plain atomics and short locks, so a scrape
//! never holds up a transmission.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

use super::demux::{OUTCOMES, Snapshot};
use super::packet::{Diag, State};

/// Shared BFD counters and session views.
#[derive(Debug, Default)]
pub struct Stats {
    sessions: Mutex<Vec<Snapshot>>,
    received: [AtomicU64; OUTCOMES.len()],
    sent: AtomicU64,
    send_errors: AtomicU64,
    /// Detection deadlines that had passed when the thread ran, moved by a kernel receive
    /// timestamp instead of taking the session Down.
    kernel_extended: AtomicU64,
    /// (session, new state, diagnostic) -> count.
    changes: Mutex<BTreeMap<(String, &'static str, &'static str), u64>>,
}

impl Stats {
    /// Records the view of session `index` (the list grows as needed).
    pub fn set_session(&self, index: usize, snapshot: Snapshot) {
        let mut v = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        if v.len() <= index {
            v.resize(index + 1, snapshot.clone());
        }
        v[index] = snapshot;
    }

    /// Replaces every session's view (after sessions were added or removed).
    pub fn set_sessions(&self, snapshots: Vec<Snapshot>) {
        *self.sessions.lock().unwrap_or_else(PoisonError::into_inner) = snapshots;
    }

    /// Every session's latest view.
    pub fn sessions(&self) -> Vec<Snapshot> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts one received packet with outcome `index` of [`OUTCOMES`].
    pub fn received(&self, outcome: usize) {
        if let Some(c) = self.received.get(outcome) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// Counts one packet sent, or one that could not be.
    pub fn sent(&self, ok: bool) {
        if ok { &self.sent } else { &self.send_errors }.fetch_add(1, Relaxed);
    }

    /// Counts a detection deadline that a kernel receive timestamp moved past `now`.
    pub fn kernel_extended(&self) {
        self.kernel_extended.fetch_add(1, Relaxed);
    }

    /// Deadlines moved by kernel receive timestamps (each one a Down the thread's own delay
    /// would have caused).
    pub fn kernel_extended_count(&self) -> u64 {
        self.kernel_extended.load(Relaxed)
    }

    /// Counts a state change of `session`.
    pub fn changed(&self, session: &str, to: State, diag: Diag) {
        *self
            .changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((session.to_owned(), to.name(), diag.name()))
            .or_default() += 1;
    }

    /// Received packets by outcome, in the order of [`OUTCOMES`].
    pub fn received_counts(&self) -> [(&'static str, u64); OUTCOMES.len()] {
        std::array::from_fn(|i| (OUTCOMES[i], self.received[i].load(Relaxed)))
    }

    /// Packets sent and send errors.
    pub fn sent_counts(&self) -> (u64, u64) {
        (self.sent.load(Relaxed), self.send_errors.load(Relaxed))
    }

    /// State changes: `((session, state, diag), count)`.
    pub fn changes(&self) -> Vec<((String, &'static str, &'static str), u64)> {
        self.changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}
