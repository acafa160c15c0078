//! A hostile-input sweep over both configuration parsers, bounded in time: random bytes,
//! random token soups from each format's alphabet, and mutations of real files. Whatever
//! comes in, loading returns (a configuration or errors) without panicking.

use std::path::Path;

use havip_agent::config::{self, Format};
use proptest::prelude::*;

/// Words, braces and punctuation keepalived.conf is made of.
const KEEPALIVED_ATOMS: &[&str] = &[
    "vrrp_instance",
    "VI_1",
    "vrrp_script",
    "chk",
    "vrrp_sync_group",
    "global_defs",
    "group",
    "interface",
    "eth0",
    "lo",
    "virtual_router_id",
    "51",
    "priority",
    "255",
    "0",
    "-1",
    "99999999999999999999",
    "advert_int",
    "0.001",
    "1.5",
    "version",
    "3",
    "state",
    "MASTER",
    "nopreempt",
    "preempt_delay",
    "authentication",
    "auth_type",
    "PASS",
    "auth_pass",
    "virtual_ipaddress",
    "192.0.2.1/24",
    "dev",
    "label",
    "unicast_peer",
    "unicast_src_ip",
    "track_script",
    "track_interface",
    "weight",
    "reverse",
    "script",
    "\"/bin/true\"",
    "include",
    "/dev/zero",
    "*",
    "{a,b}",
    "notify",
    "garp_master_delay",
    "{",
    "}",
    "{",
    "}",
    "\n",
    "\n",
    "\n",
    " ",
    "\t",
    "#",
    "!",
    "\"",
    "\\",
    "\\\n",
    "é",
    "\u{0}",
    "$X",
    "@a",
    "~",
];

/// TOML pieces.
const TOML_ATOMS: &[&str] = &[
    "[global]",
    "[[instance]]",
    "[scripts.chk]",
    "[[sync_group]]",
    "[cloud]",
    "name",
    "=",
    "\"VI_1\"",
    "interface",
    "vrid",
    "1",
    "256",
    "-1",
    "priority",
    "advert_interval",
    "\"100ms\"",
    "\"1.5s\"",
    "\"x\"",
    "lease",
    "\"3s\"",
    "allow_no_instances",
    "true",
    "track_scripts",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "\n",
    " ",
    "#",
    "'",
    "\"\"\"",
    "inf",
    "nan",
    "1e999",
    "version",
    "3",
    "virtual_ipaddresses",
    "\"192.0.2.1/33\"",
];

fn soup(atoms: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(atoms), 0..400).prop_map(|v| v.concat())
}

const SEED: &str = include_str!("../../tests/fixtures/tencent-havip-keepalived.conf");
const NATIVE: &str = include_str!("fixtures/config/toml/native.toml");

/// `text` with a slice replaced by `insert`.
fn mutate(text: &str, at: usize, len: usize, insert: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let at = at % (chars.len() + 1);
    let end = (at + len).min(chars.len());
    chars.splice(at..end, insert.chars());
    chars.into_iter().collect()
}

fn load_all_ways(text: &str) {
    for format in [Format::Keepalived, Format::Toml, Format::Auto] {
        let _ = config::load_str(text, Path::new("/nonexistent/fuzz.conf"), format);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_text_never_panics(text in ".{0,600}") {
        load_all_ways(&text);
    }

    #[test]
    fn keepalived_token_soup_never_panics(text in soup(KEEPALIVED_ATOMS)) {
        load_all_ways(&text);
    }

    #[test]
    fn toml_token_soup_never_panics(text in soup(TOML_ATOMS)) {
        load_all_ways(&text);
    }

    #[test]
    fn mutated_real_files_never_panic(
        at in 0usize..2000,
        len in 0usize..40,
        insert in soup(KEEPALIVED_ATOMS),
        toml_insert in soup(TOML_ATOMS),
    ) {
        load_all_ways(&mutate(SEED, at, len, &insert));
        load_all_ways(&mutate(NATIVE, at, len, &toml_insert));
    }
}
