//! How the XDP program's global counters become metric families. The table is
//! `havip_common::counter` (one `counters!` invocation gives each counter its index, ABI name,
//! family and label value); this module only re-exports it under the names the exposition uses.

use havip_common::counter as c;

/// A family of kernel counters.
pub type KernelFamily = c::Family;

/// Every family, in exposition order.
pub const FAMILIES: [KernelFamily; c::family::ALL.len()] = c::family::ALL;

/// The series of `family`: `(counter index, label value)`.
pub fn series_of(family: KernelFamily) -> impl Iterator<Item = (u32, &'static str)> {
    c::series_of(family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_one_series() {
        for i in 0..c::COUNT {
            let n = FAMILIES
                .iter()
                .flat_map(|f| series_of(*f))
                .filter(|(idx, _)| *idx == i)
                .count();
            assert_eq!(
                n,
                1,
                "counter {i} ({}) appears {n} times",
                c::NAMES[i as usize]
            );
        }
        for s in c::SERIES {
            assert!(FAMILIES.contains(&s.family), "{}", s.family.name);
            assert_eq!(
                s.family.label.is_some(),
                !s.label.is_empty(),
                "{}",
                s.family.name
            );
            // The label value is the ABI name without its family's prefix, but for the two
            // whose ABI name says where they sit instead.
            let abi = c::NAMES[s.index as usize];
            assert!(
                s.label.is_empty()
                    || abi.ends_with(s.label)
                    || (s.label, abi) == ("truncated_ethernet", "pass_truncated_eth")
                    || (s.label, abi) == ("vlan", "vlan_drop_vip"),
                "{abi} -> {}",
                s.label
            );
        }
    }

    #[test]
    fn label_values_are_unique_within_a_family() {
        for f in FAMILIES {
            let labels: Vec<&str> = series_of(f).map(|(_, l)| l).collect();
            for (i, a) in labels.iter().enumerate() {
                assert!(!labels[i + 1..].contains(a), "{}: {a}", f.name);
            }
        }
    }

    #[test]
    fn new_paths_have_their_series() {
        let dropped: Vec<&str> = series_of(c::family::ADVERTS_DROPPED)
            .map(|(_, l)| l)
            .collect();
        for label in [
            "ip_checksum",
            "destination",
            "multicast_on_unicast",
            "addresses",
            "interval",
            "scratch",
            "ringbuf_full",
        ] {
            assert!(dropped.contains(&label), "{label}");
        }
        let arp: Vec<&str> = series_of(c::family::ARP_DROPPED).map(|(_, l)| l).collect();
        assert!(arp.contains(&"unsupported") && arp.contains(&"vlan"));
    }
}
