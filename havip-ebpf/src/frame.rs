//! One logic, two entry points: the frame a path reads and rewrites, whichever hook runs it.
//!
//! The parsing, the rules and the counters (`arp.rs`, `vrrp.rs`, `ndp.rs`, the VLAN check in
//! `main.rs`) are written once against [`Frame`] and return a [`Verdict`]; `havip_xdp` and
//! `havip_tc` only map that verdict to their hook's action (see [`Verdict`]).
//!
//! **Conversion rule** for a path written against `XdpContext` (apply it mechanically, keeping
//! names and structure):
//! - `fn f(ctx: &XdpContext, ..) -> u32` becomes `fn f<C: Frame>(ctx: &C, ..) -> Verdict`
//!   (a `Result<u32, E>` becomes `Result<Verdict, E>`);
//! - `xdp_action::XDP_PASS` / `XDP_DROP` / `XDP_TX` become `Verdict::Pass` / `Drop` / `Tx`
//!   (`XDP_ABORTED` has no use on a path: fail open or closed on purpose instead);
//! - `ctx.ingress_ifindex() as u32` becomes `ctx.ingress_ifindex()`;
//! - `bpf_xdp_load_bytes(ctx.ctx, off, dst, len)` becomes `ctx.load_bytes(off, dst, len)`;
//! - `bpf_xdp_adjust_tail(ctx.ctx, delta)` becomes `ctx.adjust_tail(delta)`;
//! - `ptr_at`, `ctx.data()`, `ctx.data_end()` stay as they are (direct packet access works the
//!   same on both hooks once the tc entry has made the headers linear).
//!
//! A helper that exists on one hook only (an XDP-only helper such as `bpf_xdp_adjust_head`) gets
//! a method here with an implementation for each hook, or the path stays XDP-only on purpose.

use aya_ebpf::{
    EbpfContext as _,
    bindings::__sk_buff,
    cty::c_void,
    helpers::generated::{
        bpf_skb_change_tail, bpf_skb_load_bytes, bpf_xdp_adjust_tail, bpf_xdp_load_bytes,
    },
    programs::{TcContext, XdpContext},
};

/// What a path decided about a frame; each entry point maps it to its hook's action.
///
/// | verdict | XDP | tc (tcx or `cls_bpf` direct action) |
/// |---|---|---|
/// | `Pass` | `XDP_PASS` | `TC_ACT_UNSPEC`: the next tc program runs, the stack if none |
/// | `Drop` | `XDP_DROP` | `TC_ACT_SHOT` |
/// | `Tx` (rewritten in place, send back out) | `XDP_TX` | `bpf_redirect(ifindex, 0)`: egress of the same interface |
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not ours to judge: the frame goes on as it came.
    Pass,
    /// Dropped (a VIP frame not handled by the rules, an invalid or consumed advert).
    Drop,
    /// The frame was rewritten into an answer: send it back out of the interface it came in on.
    Tx,
}

/// The frame under a hook: bounds for direct packet access, and the helpers whose names differ
/// between XDP and tc. Every method is a thin, force-inlined wrapper.
pub(crate) trait Frame {
    /// Address of the first byte of the (linear) frame.
    fn data(&self) -> usize;
    /// Address one past the last byte of the (linear) frame.
    fn data_end(&self) -> usize;
    /// The interface the frame arrived on (the key of the VIP and VRID tables).
    fn ingress_ifindex(&self) -> u32;
    /// Copies `len` bytes at `off` into `dst` with the hook's bounds-checked helper; 0 on
    /// success, a negative errno if any of them lies past the frame.
    ///
    /// # Safety
    /// `dst` must be valid for `len` bytes of writes.
    unsafe fn load_bytes(&self, off: u32, dst: *mut c_void, len: u32) -> i64;
    /// Grows (or, negative, shrinks) the frame's tail by `delta` bytes counted from the linear
    /// length `data_end - data`; 0 on success. Every packet pointer taken before is invalid
    /// afterwards (take them again with `ptr_at`).
    fn adjust_tail(&self, delta: i32) -> i64;
}

impl Frame for XdpContext {
    #[inline(always)]
    fn data(&self) -> usize {
        XdpContext::data(self)
    }

    #[inline(always)]
    fn data_end(&self) -> usize {
        XdpContext::data_end(self)
    }

    #[inline(always)]
    fn ingress_ifindex(&self) -> u32 {
        // An ifindex is a positive `int` in the kernel; the context field is a `u32`.
        XdpContext::ingress_ifindex(self) as u32
    }

    #[inline(always)]
    unsafe fn load_bytes(&self, off: u32, dst: *mut c_void, len: u32) -> i64 {
        // SAFETY: the caller guarantees `dst`; the helper bounds-checks the frame itself.
        unsafe { bpf_xdp_load_bytes(self.ctx, off, dst, len) }
    }

    #[inline(always)]
    fn adjust_tail(&self, delta: i32) -> i64 {
        // SAFETY: the helper checks the new length against the frame's room itself.
        unsafe { bpf_xdp_adjust_tail(self.ctx, delta) }
    }
}

impl Frame for TcContext {
    #[inline(always)]
    fn data(&self) -> usize {
        TcContext::data(self)
    }

    #[inline(always)]
    fn data_end(&self) -> usize {
        TcContext::data_end(self)
    }

    #[inline(always)]
    #[expect(
        clippy::misnamed_getters,
        reason = "at tc ingress the skb's own device is the ingress interface"
    )]
    fn ingress_ifindex(&self) -> u32 {
        // `ifindex` is the device the skb is on: at tc ingress, the interface it arrived on
        // (as XDP's `ingress_ifindex`). The `ingress_ifindex` field would do on a live device,
        // but `BPF_PROG_TEST_RUN` leaves it 0 and sets only the device (loopback).
        // SAFETY: the context is a live `__sk_buff` for this invocation.
        unsafe { (*self.as_ptr().cast::<__sk_buff>()).ifindex }
    }

    #[inline(always)]
    unsafe fn load_bytes(&self, off: u32, dst: *mut c_void, len: u32) -> i64 {
        // SAFETY: the caller guarantees `dst`; the helper reads non-linear data too.
        unsafe { bpf_skb_load_bytes(self.as_ptr(), off, dst, len) }
    }

    #[inline(always)]
    fn adjust_tail(&self, delta: i32) -> i64 {
        // tc resizes to an absolute length (at ingress it includes the Ethernet header the hook
        // pushed back for the program). Paths compute `delta` from the linear length they see
        // (`data_end - data`), so the target is taken from that length too, not `skb->len`.
        let Ok(linear) = i64::try_from(self.data_end() - self.data()) else {
            return -1;
        };
        let Ok(len) = u32::try_from(linear + i64::from(delta)) else {
            return -1;
        };
        // SAFETY: the helper checks the new length itself.
        unsafe { bpf_skb_change_tail(self.as_ptr().cast(), len, 0) }
    }
}
