//! The rules a registry must keep, and their stable ids.
//!
//! Each rule exists because breaking it costs something that cannot be undone once a release is
//! on chain: an address used twice makes two modules' data indistinguishable, a skipped or
//! out-of-order address makes "the next address" ambiguous between branches of the release
//! process, and an open old version lets writes go to data that is being migrated away.

use super::{in_range, to_u64, ModuleVersion, Registry, ReleaseName, Violation, RESERVED_END};
use binary_format::{Address, ModuleId};
use std::collections::{BTreeMap, BTreeSet};

/// The file is not valid TOML, or has unknown keys, wrong types, bad addresses, release names or
/// module names.
pub const SYNTAX: &str = "syntax";
/// An address outside `0x0..=0x1000`, the range reserved for stdlib versions.
pub const RANGE: &str = "range";
/// Later versions' addresses are not exactly genesis+1, genesis+2, ... in release order.
pub const SEQUENCE: &str = "sequence";
/// An address is used by two version entries (other than first versions sharing genesis).
pub const REUSE: &str = "reuse";
/// Two different modules share an address other than genesis.
pub const SHARED_ADDRESS: &str = "shared-address";
/// A version's predecessor is missing, unknown, not older, or not the version just before it;
/// or a first version has one, or is not at genesis.
pub const PREDECESSOR: &str = "predecessor";
/// An old version is open, or the newest is closed without the module being retired (or open
/// although it is).
pub const CLOSED: &str = "closed";
/// No address is left in the reserved range.
pub const EXHAUSTED: &str = "exhausted";
/// A built release and the registry disagree about which module versions it holds.
pub const RELEASE_AGREEMENT: &str = "release-agreement";
/// Bump of a module the registry does not have.
pub const UNKNOWN_MODULE: &str = "unknown-module";
/// Adding a module the registry already has.
pub const MODULE_EXISTS: &str = "module-exists";
/// Bump of a retired module.
pub const RETIRED: &str = "retired";
/// A new version for a release no later than the module's newest version.
pub const STALE_RELEASE: &str = "stale-release";
/// The file could not be edited so that it reads back as the changed registry.
pub const EDIT: &str = "edit";

/// One version entry with where it is, the unit every rule looks at.
struct Entry<'a> {
    module: &'a str,
    index: usize,
    version: &'a ModuleVersion,
    line: Option<usize>,
}

impl Entry<'_> {
    fn describe(&self) -> String {
        format!("{}::{} ({})", self.version.address, self.module, self.version.release)
    }

    fn at(&self) -> String {
        match self.line {
            Some(line) => format!("line {line}"),
            None => "an entry added in memory".to_string(),
        }
    }
}

pub(super) fn check(registry: &Registry) -> Vec<Violation> {
    let entries: Vec<Entry<'_>> = registry
        .modules
        .iter()
        .flat_map(|(module, m)| {
            m.versions.iter().enumerate().map(move |(index, version)| Entry {
                module,
                index,
                version,
                line: registry.version_line(module, index),
            })
        })
        .collect();

    let mut out = Vec::new();
    range(registry, &entries, &mut out);
    sequence(registry, &entries, &mut out);
    reuse(registry, &entries, &mut out);
    predecessor(registry, &mut out);
    closed(registry, &mut out);
    // File order first (what a person fixes top to bottom), then rule, for a stable report.
    out.sort_by(|a, b| (a.line.is_none(), a.line, a.rule).cmp(&(b.line.is_none(), b.line, b.rule)));
    out
}

fn range(registry: &Registry, entries: &[Entry<'_>], out: &mut Vec<Violation>) {
    let end = Address::from_u64(RESERVED_END);
    if !in_range(registry.genesis) {
        out.push(Violation::new(
            RANGE,
            registry.lines.genesis,
            format!("genesis {} is outside 0x0..={end}, the range reserved for stdlib versions", registry.genesis),
        ));
    }
    for e in entries.iter().filter(|e| !in_range(e.version.address)) {
        out.push(Violation::new(
            RANGE,
            e.line,
            format!("{} is outside 0x0..={end}, the range reserved for stdlib versions", e.describe()),
        ));
    }
}

fn sequence(registry: &Registry, entries: &[Entry<'_>], out: &mut Vec<Violation>) {
    let genesis = registry.genesis;
    // Out-of-range addresses are reported by `range` alone.
    let mut later: Vec<&Entry<'_>> = entries.iter().filter(|e| e.index > 0 && in_range(e.version.address)).collect();
    later.retain(|e| {
        let above = e.version.address > genesis;
        if !above {
            out.push(Violation::new(
                SEQUENCE,
                e.line,
                format!(
                    "{} is a later version but its address is not above genesis {genesis}: later versions take \
                     genesis+1, genesis+2, ... in turn",
                    e.describe()
                ),
            ));
        }
        above
    });
    later.sort_by_key(|e| (e.version.address, e.line));

    // No gaps: the distinct addresses are exactly genesis+1, genesis+2, ...
    let Some(mut expected) = to_u64(genesis).and_then(|g| g.checked_add(1)) else { return };
    let mut previous: Option<Address> = None;
    for e in &later {
        if previous == Some(e.version.address) {
            continue; // a duplicate is `reuse`'s business
        }
        let Some(n) = to_u64(e.version.address) else { continue };
        if n > expected {
            let missing = if n - expected == 1 {
                format!("{:#x} is", expected)
            } else {
                format!("{:#x}..={:#x} are", expected, n - 1)
            };
            out.push(Violation::new(
                SEQUENCE,
                e.line,
                format!(
                    "{} leaves a gap: {missing} not allocated; later versions take genesis+1, genesis+2, ... with no \
                     gap",
                    e.describe()
                ),
            ));
        }
        expected = n.saturating_add(1);
        previous = Some(e.version.address);
    }

    // Release order: an address never belongs to an earlier release than a lower address.
    let mut latest_below: Option<&Entry<'_>> = None;
    let mut group_start = 0;
    while let Some(first) = later.get(group_start) {
        let group_end = later
            .iter()
            .skip(group_start)
            .position(|e| e.version.address != first.version.address)
            .map_or(later.len(), |n| group_start + n);
        let group = later.get(group_start..group_end).unwrap_or_default();
        for e in group {
            if let Some(witness) = latest_below.filter(|w| w.version.release > e.version.release) {
                out.push(Violation::new(
                    SEQUENCE,
                    e.line,
                    format!(
                        "{} is released before {} ({}) but has a higher address: addresses are handed out in \
                         release order",
                        e.describe(),
                        witness.describe(),
                        witness.at()
                    ),
                ));
            }
        }
        for e in group {
            if latest_below.is_none_or(|w| e.version.release > w.version.release) {
                latest_below = Some(e);
            }
        }
        group_start = group_end;
    }
}

fn reuse(registry: &Registry, entries: &[Entry<'_>], out: &mut Vec<Violation>) {
    let mut by_address: BTreeMap<Address, Vec<&Entry<'_>>> = BTreeMap::new();
    for e in entries {
        by_address.entry(e.version.address).or_default().push(e);
    }
    for (address, mut users) in by_address {
        if users.len() < 2 {
            continue;
        }
        users.sort_by_key(|e| (e.line.is_none(), e.line, e.module, e.index));
        for (i, e) in users.iter().enumerate() {
            let earlier = users.get(..i).unwrap_or_default();
            if let Some(same) = earlier.iter().find(|f| f.module == e.module) {
                out.push(Violation::new(
                    REUSE,
                    e.line,
                    format!(
                        "{} reuses {address}, already taken by {} ({}): every version gets its own address",
                        e.describe(),
                        same.describe(),
                        same.at()
                    ),
                ));
            } else if address != registry.genesis {
                if let Some(other) = earlier.first() {
                    out.push(Violation::new(
                        SHARED_ADDRESS,
                        e.line,
                        format!(
                            "{} shares {address} with {} ({}): two modules never share an address other than genesis",
                            e.describe(),
                            other.describe(),
                            other.at()
                        ),
                    ));
                }
            } else if e.index > 0 {
                // Genesis is shared by first versions only; a later version there collides with them.
                if let Some(other) = users.iter().find(|f| f.module != e.module) {
                    out.push(Violation::new(
                        REUSE,
                        e.line,
                        format!(
                            "{} reuses genesis {address}, which belongs to first versions such as {} ({})",
                            e.describe(),
                            other.describe(),
                            other.at()
                        ),
                    ));
                }
            }
        }
    }
}

fn predecessor(registry: &Registry, out: &mut Vec<Violation>) {
    for (module, entry) in &registry.modules {
        let versions = &entry.versions;
        for (i, v) in versions.iter().enumerate() {
            let line = registry.version_line(module, i);
            let this = format!("{}::{module} ({})", v.address, v.release);
            let Some(prev_index) = i.checked_sub(1) else {
                if let Some(p) = v.predecessor {
                    out.push(Violation::new(
                        PREDECESSOR,
                        line,
                        format!("{this} is the first version of {module} but names predecessor {p}"),
                    ));
                }
                if v.address != registry.genesis {
                    out.push(Violation::new(
                        PREDECESSOR,
                        line,
                        format!(
                            "{this} is the first version of {module} but is not at genesis {}: first versions are \
                             published at genesis",
                            registry.genesis
                        ),
                    ));
                }
                continue;
            };
            let Some(prev) = versions.get(prev_index) else { continue };
            if v.release <= prev.release {
                out.push(Violation::new(
                    PREDECESSOR,
                    line,
                    format!(
                        "{this} is not released after the version listed before it, {}::{module} ({}): versions are \
                         listed oldest first, one per release",
                        prev.address, prev.release
                    ),
                ));
            }
            match v.predecessor {
                Some(p) if p == prev.address => {}
                None => out.push(Violation::new(
                    PREDECESSOR,
                    line,
                    format!("{this} has no predecessor; it must name {}, the version before it", prev.address),
                )),
                Some(p) => {
                    let why = match versions.iter().position(|w| w.address == p) {
                        Some(j) if j < prev_index => {
                            format!(
                                "{p} is older, but the predecessor must be the version just before it, {}",
                                prev.address
                            )
                        }
                        Some(_) => format!("{p} is not older: it is listed at or after this version"),
                        None => format!("{p} is not a version of {module}"),
                    };
                    out.push(Violation::new(PREDECESSOR, line, format!("{this} names predecessor {p}, but {why}")));
                }
            }
        }
    }
}

fn closed(registry: &Registry, out: &mut Vec<Violation>) {
    for (module, entry) in &registry.modules {
        let last = entry.versions.len().saturating_sub(1);
        for (i, v) in entry.versions.iter().enumerate() {
            let line = registry.version_line(module, i);
            let this = format!("{}::{module} ({})", v.address, v.release);
            if i < last && !v.closed {
                out.push(Violation::new(
                    CLOSED,
                    line,
                    format!("{this} is not the newest version of {module} but is not closed: add `closed = true`"),
                ));
            } else if i == last && entry.retired && !v.closed {
                out.push(Violation::new(
                    CLOSED,
                    line.or_else(|| registry.lines.modules.get(module).and_then(|m| m.retired)),
                    format!("{module} is retired, so every version is closed, but its newest version {this} is open"),
                ));
            } else if i == last && !entry.retired && v.closed {
                out.push(Violation::new(
                    CLOSED,
                    line,
                    format!(
                        "{this} is the newest version of {module} and must stay open unless {module} is retired \
                         (`retired = true`)"
                    ),
                ));
            }
        }
    }
}

pub(super) fn check_release(registry: &Registry, release: ReleaseName, modules: &[ModuleId]) -> Vec<Violation> {
    let mut out = Vec::new();
    let present: BTreeSet<&ModuleId> = modules.iter().collect();
    for id in &present {
        match registry.lookup(id) {
            None => {
                let line = registry.module_line(&id.name);
                let known = match registry.versions_of(&id.name) {
                    Some(vs) => {
                        let addrs: Vec<String> = vs.iter().map(|v| v.address.to_string()).collect();
                        format!("the registry has {} only at {}", id.name, addrs.join(", "))
                    }
                    None => format!("the registry has no module {}", id.name),
                };
                out.push(Violation::new(RELEASE_AGREEMENT, line, format!("release {release} has {id}, but {known}")));
            }
            Some((name, v)) if v.release > release => {
                let index = registry.versions_of(name).and_then(|vs| vs.iter().position(|w| w.address == v.address));
                out.push(Violation::new(
                    RELEASE_AGREEMENT,
                    index.and_then(|i| registry.version_line(name, i)),
                    format!(
                        "release {release} has {id}, but the registry says {id} is first released in {}",
                        v.release
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    for (name, entry) in &registry.modules {
        for (i, v) in entry.versions.iter().enumerate() {
            let id = v.id(name);
            if v.release <= release && !present.contains(&id) {
                out.push(Violation::new(
                    RELEASE_AGREEMENT,
                    registry.version_line(name, i),
                    format!(
                        "release {release} lacks {id}, which the registry says ships from {} on (old versions stay \
                         published for reads and migration)",
                        v.release
                    ),
                ));
            }
        }
    }
    out
}
