//! Tracking: interface state ([`link`]) and health-check scripts ([`script`]) turned into what
//! keepalived makes of them for an instance: FAULT, or an effective priority.
//!
//! keepalived's rules (`track_interface`, `track_script`, `vrrp_script` in keepalived.conf(5)):
//! - weight 0: the object down means FAULT;
//! - weight > 0: added to the priority while the object is up;
//! - weight < 0: added (so subtracted) while the object is down;
//! - `reverse` flips the sign of the adjustment, under the same condition;
//! - the instance's own interface is tracked with weight 0 unless `dont_track_primary`;
//! - the effective priority stays in 1..=254; an address owner (255) keeps 255.

pub mod link;
pub mod script;

use std::collections::{BTreeMap, HashMap};

use crate::config;

/// A change reported by a watcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackEvent {
    /// An interface is (or is not) up and running.
    Link {
        /// Interface index.
        ifindex: u32,
        /// Interface name.
        name: String,
        /// `IFF_UP` and `IFF_RUNNING`.
        up: bool,
    },
    /// A script changed state after its rise/fall hysteresis.
    Script {
        /// The `vrrp_script` name.
        name: String,
        /// Up (healthy).
        ok: bool,
    },
    /// A BFD session went Up, or left Up (keepalived `track_bfd`).
    Bfd {
        /// The `bfd_instance` name.
        name: String,
        /// The session is Up.
        up: bool,
    },
}

/// What is tracked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Object {
    /// An interface, by name.
    Interface(String),
    /// A `vrrp_script`, by name.
    Script(String),
    /// A `bfd_instance`, by name.
    Bfd(String),
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Interface(n) => write!(f, "interface {n}"),
            Self::Script(n) => write!(f, "script {n}"),
            Self::Bfd(n) => write!(f, "bfd {n}"),
        }
    }
}

/// One tracked object of an instance, with its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    /// The object.
    pub object: Object,
    /// keepalived weight, -253..=253; 0 means FAULT when down.
    pub weight: i16,
    /// keepalived `reverse`.
    pub reverse: bool,
}

impl Tracked {
    /// The priority adjustment while the object is `up` (or not).
    #[must_use]
    pub fn adjustment(&self, up: bool) -> i32 {
        let w = i32::from(self.weight);
        let signed = if self.reverse { -w } else { w };
        match (self.weight.signum(), up) {
            (1, true) | (-1, false) => signed,
            _ => 0,
        }
    }

    /// Whether the object being `up` (or not) puts the instance in FAULT.
    #[must_use]
    pub fn faults(&self, up: bool) -> bool {
        self.weight == 0 && !up
    }
}

/// The latest known state of every tracked object.
#[derive(Clone, Debug, Default)]
pub struct States {
    links: HashMap<String, bool>,
    scripts: HashMap<String, bool>,
    bfds: HashMap<String, bool>,
}

impl States {
    /// Records `ev`; returns whether anything changed.
    pub fn apply(&mut self, ev: &TrackEvent) -> bool {
        let (map, name, up) = match ev {
            TrackEvent::Link { name, up, .. } => (&mut self.links, name, *up),
            TrackEvent::Script { name, ok } => (&mut self.scripts, name, *ok),
            TrackEvent::Bfd { name, up } => (&mut self.bfds, name, *up),
        };
        map.insert(name.clone(), up) != Some(up)
    }

    /// Seeds a script's state before its first run (keepalived `init_fail`).
    pub fn seed_script(&mut self, name: &str, ok: bool) {
        self.scripts.entry(name.to_owned()).or_insert(ok);
    }

    /// Seeds a BFD session's state before it is first heard: down, as in keepalived, where
    /// an instance tracking a session with weight 0 stays in FAULT until the session is Up.
    pub fn seed_bfd(&mut self, name: &str) {
        self.bfds.entry(name.to_owned()).or_insert(false);
    }

    /// Whether `object` is up; an object not heard of yet counts as up.
    #[must_use]
    pub fn up(&self, object: &Object) -> bool {
        match object {
            Object::Interface(n) => self.links.get(n).copied().unwrap_or(true),
            Object::Script(n) => self.scripts.get(n).copied().unwrap_or(true),
            Object::Bfd(n) => self.bfds.get(n).copied().unwrap_or(true),
        }
    }
}

/// What the tracked objects make of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Some weight-0 object is down.
    pub fault: bool,
    /// Configured priority plus the adjustments, in 1..=254 (255 stays 255).
    pub priority: u8,
}

/// The tracked objects of one instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracker {
    base: u8,
    objects: Vec<Tracked>,
}

/// A `track_script` that names no `vrrp_script`.
#[derive(Debug, thiserror::Error)]
#[error("instance {instance}: track_script {script:?} names no vrrp_script")]
pub struct UnknownScript {
    /// Instance.
    pub instance: String,
    /// The missing script.
    pub script: String,
}

impl Tracker {
    /// The objects `inst` tracks: its own interface (unless `dont_track_primary`), its
    /// `track_interface` and `track_script` entries, and those of its sync groups.
    pub fn new(
        inst: &config::Instance,
        scripts: &BTreeMap<String, config::Script>,
        groups: &[config::SyncGroup],
    ) -> Result<Self, UnknownScript> {
        let mut objects = Vec::new();
        if !inst.dont_track_primary {
            objects.push(Tracked {
                object: Object::Interface(inst.interface.clone()),
                weight: 0,
                reverse: false,
            });
        }
        let member_of = groups
            .iter()
            .filter(|g| g.instances.iter().any(|n| n == &inst.name));
        let ifaces = inst
            .track_interfaces
            .iter()
            .chain(member_of.clone().flat_map(|g| g.track_interfaces.iter()));
        for t in ifaces {
            let object = Object::Interface(t.name.clone());
            // Tracking the primary interface again with a weight replaces the implicit entry.
            objects.retain(|o: &Tracked| !(o.object == object && o.weight == 0 && t.weight != 0));
            objects.push(Tracked {
                object,
                weight: t.weight,
                reverse: t.reverse,
            });
        }
        let tracked_scripts = inst
            .track_scripts
            .iter()
            .chain(member_of.flat_map(|g| g.track_scripts.iter()));
        for t in tracked_scripts {
            let script = scripts.get(&t.name).ok_or_else(|| UnknownScript {
                instance: inst.name.clone(),
                script: t.name.clone(),
            })?;
            objects.push(Tracked {
                object: Object::Script(t.name.clone()),
                weight: t.weight.unwrap_or(script.weight),
                reverse: t.reverse.unwrap_or(script.reverse),
            });
        }
        objects.dedup();
        Ok(Self {
            base: inst.priority,
            objects,
        })
    }

    /// Adds the instance's `track_bfd` entries; a weight or reverse left out comes from the
    /// `bfd_instance` (keepalived `track_bfd`). Then those of the sync groups it is a member of,
    /// with weight 0 whatever is written: keepalived ignores tracking weights in a
    /// `vrrp_sync_group` (without `sync_group_tracking_weight`, which havip does not take), so
    /// a session that is not Up faults the member, and through the group every member. Entries
    /// naming no session are left out (the configuration's validation refuses them).
    #[must_use]
    pub fn with_bfds(
        mut self,
        inst: &config::Instance,
        bfd: &BTreeMap<String, config::BfdInstance>,
        groups: &[config::SyncGroup],
    ) -> Self {
        for t in &inst.track_bfds {
            if let Some(b) = bfd.get(&t.name) {
                self.objects.push(Tracked {
                    object: Object::Bfd(t.name.clone()),
                    weight: t.weight.unwrap_or(b.weight),
                    reverse: t.reverse.unwrap_or(b.reverse),
                });
            }
        }
        let member_of = groups
            .iter()
            .filter(|g| g.instances.iter().any(|n| n == &inst.name));
        for t in member_of.flat_map(|g| g.track_bfds.iter()) {
            if bfd.contains_key(&t.name) {
                self.objects.push(Tracked {
                    object: Object::Bfd(t.name.clone()),
                    weight: 0,
                    reverse: false,
                });
            }
        }
        self.objects.dedup();
        self
    }

    /// The tracked objects.
    #[must_use]
    pub fn objects(&self) -> &[Tracked] {
        &self.objects
    }

    /// The scripts this instance tracks.
    pub fn scripts(&self) -> impl Iterator<Item = &str> {
        self.objects.iter().filter_map(|t| match &t.object {
            Object::Script(n) => Some(n.as_str()),
            Object::Interface(_) | Object::Bfd(_) => None,
        })
    }

    /// The instance's fault and effective priority under `states`.
    #[must_use]
    pub fn verdict(&self, states: &States) -> Verdict {
        let mut fault = false;
        let mut delta = 0i32;
        for t in &self.objects {
            let up = states.up(&t.object);
            fault |= t.faults(up);
            delta += t.adjustment(up);
        }
        let priority = if self.base == 255 {
            255
        } else {
            u8::try_from((i32::from(self.base) + delta).clamp(1, 254)).unwrap_or(1)
        };
        Verdict { fault, priority }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{TrackInterface, TrackScript};

    fn instance() -> config::Instance {
        let mut i = config::Instance::new("VI_1", "eth0", 51);
        i.priority = 100;
        i
    }

    fn scripts(weight: i16) -> BTreeMap<String, config::Script> {
        let mut s = config::Script::new("/bin/true");
        s.weight = weight;
        BTreeMap::from([("chk".to_owned(), s)])
    }

    fn link(name: &str, up: bool) -> TrackEvent {
        TrackEvent::Link {
            ifindex: 1,
            name: name.into(),
            up,
        }
    }

    fn script(ok: bool) -> TrackEvent {
        TrackEvent::Script {
            name: "chk".into(),
            ok,
        }
    }

    #[test]
    fn own_interface_down_is_fault_unless_dont_track_primary() {
        let mut states = States::default();
        let t = Tracker::new(&instance(), &BTreeMap::new(), &[]).expect("ok");
        assert!(!t.verdict(&states).fault, "unknown counts as up");
        assert!(states.apply(&link("eth0", false)));
        assert!(!states.apply(&link("eth0", false)), "no change");
        assert_eq!(
            t.verdict(&states),
            Verdict {
                fault: true,
                priority: 100
            }
        );
        let mut i = instance();
        i.dont_track_primary = true;
        let t = Tracker::new(&i, &BTreeMap::new(), &[]).expect("ok");
        assert!(!t.verdict(&states).fault);
    }

    #[test]
    fn weights_follow_keepalived() {
        let mut i = instance();
        i.dont_track_primary = true;
        i.track_interfaces = vec![
            TrackInterface {
                name: "eth1".into(),
                weight: 10,
                reverse: false,
            },
            TrackInterface {
                name: "eth2".into(),
                weight: -20,
                reverse: false,
            },
        ];
        let t = Tracker::new(&i, &BTreeMap::new(), &[]).expect("ok");
        let mut s = States::default();
        s.apply(&link("eth1", true));
        s.apply(&link("eth2", true));
        assert_eq!(t.verdict(&s).priority, 110, "+10 while eth1 is up");
        s.apply(&link("eth2", false));
        assert_eq!(t.verdict(&s).priority, 90, "-20 while eth2 is down");
        s.apply(&link("eth1", false));
        assert_eq!(t.verdict(&s).priority, 80);
        assert!(!t.verdict(&s).fault);
    }

    #[test]
    fn script_weight_zero_faults_and_overrides_apply() {
        let mut i = instance();
        i.track_scripts = vec![TrackScript {
            name: "chk".into(),
            weight: None,
            reverse: None,
        }];
        let t = Tracker::new(&i, &scripts(0), &[]).expect("ok");
        let mut s = States::default();
        s.apply(&script(false));
        assert!(t.verdict(&s).fault);

        i.track_scripts[0].weight = Some(-30);
        let t = Tracker::new(&i, &scripts(0), &[]).expect("ok");
        assert_eq!(
            t.verdict(&s),
            Verdict {
                fault: false,
                priority: 70
            }
        );
        s.apply(&script(true));
        assert_eq!(t.verdict(&s).priority, 100);
    }

    #[test]
    fn bfd_sessions_start_down_and_weight_0_means_fault() {
        let mut i = instance();
        i.dont_track_primary = true;
        i.track_bfds = vec![
            TrackScript {
                name: "to_b".into(),
                weight: None,
                reverse: None,
            },
            TrackScript {
                name: "to_c".into(),
                weight: Some(-20),
                reverse: None,
            },
        ];
        let bfd = BTreeMap::from([
            (
                "to_b".to_owned(),
                config::BfdInstance::new([192, 0, 2, 12].into()),
            ),
            ("to_c".to_owned(), {
                let mut b = config::BfdInstance::new([192, 0, 2, 13].into());
                b.weight = 10;
                b
            }),
        ]);
        let t = Tracker::new(&i, &BTreeMap::new(), &[])
            .expect("ok")
            .with_bfds(&i, &bfd, &[]);
        let mut s = States::default();
        s.seed_bfd("to_b");
        s.seed_bfd("to_c");
        assert_eq!(
            t.verdict(&s),
            Verdict {
                fault: true,
                priority: 80
            },
            "down until first Up: FAULT (weight 0) and -20 (the track_bfd's weight)"
        );
        s.apply(&TrackEvent::Bfd {
            name: "to_b".into(),
            up: true,
        });
        s.apply(&TrackEvent::Bfd {
            name: "to_c".into(),
            up: true,
        });
        assert_eq!(
            t.verdict(&s),
            Verdict {
                fault: false,
                priority: 100
            }
        );
    }

    #[test]
    fn reverse_flips_the_sign() {
        let mut i = instance();
        i.track_scripts = vec![TrackScript {
            name: "chk".into(),
            weight: Some(15),
            reverse: Some(true),
        }];
        let t = Tracker::new(&i, &scripts(0), &[]).expect("ok");
        let mut s = States::default();
        s.apply(&script(true));
        assert_eq!(t.verdict(&s).priority, 85, "-15 while up");
        s.apply(&script(false));
        assert_eq!(t.verdict(&s).priority, 100);
    }

    #[test]
    fn priority_is_clamped_and_an_owner_keeps_255() {
        let mut i = instance();
        i.priority = 250;
        i.track_scripts = vec![TrackScript {
            name: "chk".into(),
            weight: Some(100),
            reverse: None,
        }];
        let t = Tracker::new(&i, &scripts(0), &[]).expect("ok");
        let mut s = States::default();
        s.apply(&script(true));
        assert_eq!(t.verdict(&s).priority, 254);
        i.priority = 5;
        i.track_scripts[0].weight = Some(-100);
        let t = Tracker::new(&i, &scripts(0), &[]).expect("ok");
        s.apply(&script(false));
        assert_eq!(t.verdict(&s).priority, 1);
        i.priority = 255;
        let t = Tracker::new(&i, &scripts(0), &[]).expect("ok");
        assert_eq!(t.verdict(&s).priority, 255);
    }

    #[test]
    fn sync_group_tracking_applies_to_members_and_unknown_scripts_are_errors() {
        let i = instance();
        let group = config::SyncGroup {
            name: "G".into(),
            instances: vec!["VI_1".into()],
            track_interfaces: vec![TrackInterface {
                name: "eth9".into(),
                weight: 0,
                reverse: false,
            }],
            track_scripts: vec![TrackScript {
                name: "nope".into(),
                weight: None,
                reverse: None,
            }],
            track_bfds: Vec::new(),
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
        };
        assert!(Tracker::new(&i, &scripts(0), std::slice::from_ref(&group)).is_err());
        let mut group = group;
        group.track_scripts.clear();
        let t = Tracker::new(&i, &scripts(0), &[group]).expect("ok");
        let mut s = States::default();
        s.apply(&link("eth9", false));
        assert!(t.verdict(&s).fault);
    }

    #[test]
    fn a_sync_groups_track_bfd_faults_its_members_whatever_the_weight() {
        let mut i = instance();
        i.dont_track_primary = true;
        let group = config::SyncGroup {
            name: "G".into(),
            instances: vec!["VI_1".into()],
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_bfds: vec![TrackScript {
                name: "to_b".into(),
                weight: Some(-20),
                reverse: Some(true),
            }],
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
        };
        let bfd = BTreeMap::from([(
            "to_b".to_owned(),
            config::BfdInstance::new([192, 0, 2, 12].into()),
        )]);
        let groups = std::slice::from_ref(&group);
        let t = Tracker::new(&i, &BTreeMap::new(), groups)
            .expect("ok")
            .with_bfds(&i, &bfd, groups);
        let mut s = States::default();
        s.seed_bfd("to_b");
        assert_eq!(
            t.verdict(&s),
            Verdict {
                fault: true,
                priority: 100
            },
            "the group's session is down: FAULT, the weight and reverse ignored"
        );
        s.apply(&TrackEvent::Bfd {
            name: "to_b".into(),
            up: true,
        });
        assert_eq!(
            t.verdict(&s),
            Verdict {
                fault: false,
                priority: 100
            }
        );
        // A non-member is not affected.
        let mut other = instance();
        other.name = "VI_2".into();
        other.dont_track_primary = true;
        let t = Tracker::new(&other, &BTreeMap::new(), groups)
            .expect("ok")
            .with_bfds(&other, &bfd, groups);
        s.seed_bfd("x");
        s.apply(&TrackEvent::Bfd {
            name: "to_b".into(),
            up: false,
        });
        assert!(!t.verdict(&s).fault);
    }
}
