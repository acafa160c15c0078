//! BFD families (`havip_bfd_*`), read at scrape time from the BFD thread's shared
//! [`Stats`]: session state per neighbor, agreed intervals and detection time, state changes by
//! diagnostic, packets by outcome.

use std::fmt;

use prometheus_client::{encoding::DescriptorEncoder, registry::Unit};

use super::collect::{Labels, counters, gauges};
use crate::bfd::{State, Stats};

/// Writes every BFD family.
#[expect(
    clippy::too_many_lines,
    reason = "one family after the other, each a few lines; split they would repeat the labels"
)]
pub(super) fn encode(enc: &mut DescriptorEncoder, stats: &Stats) -> fmt::Result {
    let sessions = stats.sessions();
    let labels = |s: &crate::bfd::Snapshot| -> Labels {
        vec![
            ("bfd_instance", s.name.clone()),
            ("neighbor", s.neighbor.to_string()),
        ]
    };
    let states: Vec<(Labels, i64)> = sessions
        .iter()
        .flat_map(|s| {
            [State::AdminDown, State::Down, State::Init, State::Up].map(|st| {
                let mut l = labels(s);
                l.push(("state", st.name().to_owned()));
                (l, i64::from(s.state == st))
            })
        })
        .collect();
    gauges(
        enc,
        "havip_bfd_session_state",
        "BFD session state (RFC 5880): 1 for the current state of each session",
        None,
        &states,
    )?;
    let secs = |d: std::time::Duration| d.as_secs_f64();
    let tx: Vec<(Labels, f64)> = sessions
        .iter()
        .map(|s| (labels(s), secs(s.tx_interval)))
        .collect();
    gauges(
        enc,
        "havip_bfd_tx_interval",
        "Agreed BFD transmit interval before jitter: max(our Desired Min TX, remote Required \
         Min RX)",
        Some(&Unit::Seconds),
        &tx,
    )?;
    let rx: Vec<(Labels, f64)> = sessions
        .iter()
        .map(|s| (labels(s), secs(s.rx_interval)))
        .collect();
    gauges(
        enc,
        "havip_bfd_rx_interval",
        "Agreed BFD receive interval: max(our Required Min RX, remote Desired Min TX)",
        Some(&Unit::Seconds),
        &rx,
    )?;
    let detect: Vec<(Labels, f64)> = sessions
        .iter()
        .filter_map(|s| s.detection_time.map(|d| (labels(s), secs(d))))
        .collect();
    gauges(
        enc,
        "havip_bfd_detection_time",
        "BFD detection time: remote Detect Mult x agreed receive interval",
        Some(&Unit::Seconds),
        &detect,
    )?;
    let changes: Vec<(Labels, u64)> = stats
        .changes()
        .into_iter()
        .map(|((name, to, diag), n)| {
            (
                vec![
                    ("bfd_instance", name),
                    ("state", to.to_owned()),
                    ("diag", diag.to_owned()),
                ],
                n,
            )
        })
        .collect();
    counters(
        enc,
        "havip_bfd_state_changes",
        "BFD session state changes, by new state and local diagnostic",
        None,
        &changes,
    )?;
    let received: Vec<(Labels, u64)> = stats
        .received_counts()
        .into_iter()
        .map(|(outcome, n)| (vec![("outcome", outcome.to_owned())], n))
        .collect();
    counters(
        enc,
        "havip_bfd_packets_received",
        "BFD Control packets received, by outcome (accepted, or why discarded)",
        None,
        &received,
    )?;
    counters(
        enc,
        "havip_bfd_kernel_deadline_extensions",
        "BFD detection deadlines that had passed when the BFD thread ran but were moved by the \
         XDP program's receive timestamp of a packet still queued for the thread (a Down its \
         own late scheduling would have caused)",
        None,
        &[(Vec::new(), stats.kernel_extended_count())],
    )?;
    let (sent, errors) = stats.sent_counts();
    counters(
        enc,
        "havip_bfd_packets_sent",
        "BFD Control packets sent, and sends that failed",
        None,
        &[
            (vec![("result", "ok".to_owned())], sent),
            (vec![("result", "error".to_owned())], errors),
        ],
    )
}
