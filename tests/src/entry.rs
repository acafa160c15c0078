//! Running one frame through either entry point of the program under `BPF_PROG_TEST_RUN`, with
//! tc's verdict mapped to XDP's numbering so that one expectation covers both (issue #15: one
//! logic, two entry points).

use aya::programs::{TestRun as _, TestRunOptions};
use havip_agent::dataplane::Dataplane;

/// XDP verdicts as the kernel numbers them (`enum xdp_action`).
pub const XDP_DROP: u32 = 1;
/// See [`XDP_DROP`].
pub const XDP_PASS: u32 = 2;
/// See [`XDP_DROP`].
pub const XDP_TX: u32 = 3;

/// tc verdicts (`include/uapi/linux/pkt_cls.h`): `TC_ACT_UNSPEC` is -1.
const TC_ACT_UNSPEC: u32 = u32::MAX;
const TC_ACT_SHOT: u32 = 2;
const TC_ACT_REDIRECT: u32 = 7;

/// Which program runs the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// `havip_xdp`.
    Xdp,
    /// `havip_tc` (the classifier).
    Tc,
}

impl Entry {
    /// `HAVIP_TEST_ENTRY=tc` runs a whole `BPF_PROG_TEST_RUN` file through the tc program.
    #[must_use]
    pub fn from_env() -> Self {
        if std::env::var("HAVIP_TEST_ENTRY").is_ok_and(|v| v == "tc") {
            Self::Tc
        } else {
            Self::Xdp
        }
    }
}

/// Whether the kernel's skb harness of `BPF_PROG_TEST_RUN` accepts `frame` for a tc program: it
/// refuses (`EINVAL`, before the program runs) a frame shorter than an Ethernet header, and an
/// IPv4 or IPv6 frame shorter than its fixed network header. Such frames are run through XDP
/// whatever the entry asked (the truncation tests), as the tc entry cannot be test-run on them.
#[must_use]
pub fn tc_can_run(frame: &[u8]) -> bool {
    match frame.get(12..14) {
        None => false,
        Some([0x08, 0x00]) => frame.len() >= 14 + 20,
        Some([0x86, 0xdd]) => frame.len() >= 14 + 40,
        Some(_) => true,
    }
}

/// Runs `frame` through `entry`'s program of `dp`: `(verdict in XDP numbering, bytes out)`.
/// # Panics
/// If the program is missing or the kernel refuses the run, or tc returns a verdict the
/// program never uses.
#[must_use]
pub fn run_entry(dp: &mut Dataplane, entry: Entry, frame: &[u8]) -> (u32, Vec<u8>) {
    let mut out = vec![0u8; frame.len() + 128];
    let opts = TestRunOptions {
        data_in: Some(frame),
        data_out: Some(&mut out),
        ..TestRunOptions::default()
    };
    let (verdict, size) = if entry == Entry::Tc && tc_can_run(frame) {
        let r = dp
            .tc_program()
            .expect("tc program")
            .test_run(opts)
            .expect("BPF_PROG_TEST_RUN (tc)");
        let v = match r.return_value {
            TC_ACT_UNSPEC => XDP_PASS,
            TC_ACT_SHOT => XDP_DROP,
            TC_ACT_REDIRECT => XDP_TX,
            other => panic!("tc verdict {other} is not one havip_tc returns"),
        };
        (v, r.data_size_out)
    } else {
        let r = dp
            .xdp_program()
            .expect("XDP program")
            .test_run(opts)
            .expect("BPF_PROG_TEST_RUN (XDP)");
        (r.return_value, r.data_size_out)
    };
    out.truncate(size as usize);
    (verdict, out)
}
