//! Each migration's accounting per instantiation of its struct, in memory that does not grow
//! with the state: a generic struct may have any number of instantiations in a state (300,000
//! distinct ones took gigabytes, and the text report printed a line for each). The first
//! [`MAX_INSTANCES`] instantiations by name are accounted one by one; the others together, per
//! migration, with how many they are (exact up to [`EXACT_INSTANTIATIONS`], then an estimate).
//!
//! Neither what is kept one by one nor the examples of the others depend on how the state is
//! split into key ranges, so the report is the same on any number of threads:
//! - a range keeps its first instantiations by name, and every one among the first of the whole
//!   state is among the first of each range it appears in (so it is never counted together in
//!   one range and one by one in another); ranges merged keep the first of their union;
//! - the others keep their first examples in key order (the source entry's number, then the
//!   instantiation's name); an instantiation moved to the others brings its own first examples,
//!   and a later example of it can never be among the first of all while its earlier ones are
//!   not.

use super::distinct::Distinct;
use super::Bounded;
use std::collections::{BTreeMap, BTreeSet};

/// Instantiations accounted one by one (the first by name); the others are counted together.
pub const MAX_INSTANCES: usize = 100;
/// Distinct instantiations counted together exactly before the count becomes an estimate
/// (memory: a hash of each).
pub const EXACT_INSTANTIATIONS: usize = 10_000;

/// What became of one stored value of a migrated struct.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    Migrated,
    /// The migration failed on it: where it is held, and why.
    Failed {
        held: &'a str,
        reason: &'a str,
    },
    /// Left on the old version without failing: where it is held, and why.
    Left {
        held: &'a str,
        why: &'a str,
    },
}

/// An example: the source entry it was read from (its number: key order), where the value is
/// held, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Noted {
    pub entry: u64,
    pub held: String,
    pub reason: String,
}

/// One instantiation's accounting.
#[derive(Debug, Clone, Default)]
pub struct InstanceCount {
    pub found: u64,
    pub migrated: u64,
    pub failed: u64,
    pub left: u64,
    /// The first failures and values left behind, in key order.
    pub failures: Bounded<Noted>,
    pub left_examples: Bounded<Noted>,
}

impl InstanceCount {
    fn new(examples: usize) -> InstanceCount {
        InstanceCount { failures: Bounded::new(examples), left_examples: Bounded::new(examples), ..Default::default() }
    }

    fn add(&mut self, entry: u64, outcome: Outcome<'_>) {
        self.found += 1;
        let note = |held: &str, reason: &str| Noted { entry, held: held.to_owned(), reason: reason.to_owned() };
        match outcome {
            Outcome::Migrated => self.migrated += 1,
            Outcome::Failed { held, reason } => {
                self.failed += 1;
                if self.failures.wants_more() {
                    self.failures.push(note(held, reason));
                } else {
                    self.failures.count_one();
                }
            }
            Outcome::Left { held, why } => {
                self.left += 1;
                if self.left_examples.wants_more() {
                    self.left_examples.push(note(held, why));
                } else {
                    self.left_examples.count_one();
                }
            }
        }
    }

    /// This count followed by the next key range's.
    fn merge(&mut self, other: InstanceCount) {
        self.found += other.found;
        self.migrated += other.migrated;
        self.failed += other.failed;
        self.left += other.left;
        self.failures.extend(other.failures);
        self.left_examples.extend(other.left_examples);
    }
}

/// An example of an instantiation counted with others: its source entry's number, the
/// instantiation, where the value is held, and why (in that order: key order first).
pub type OtherNoted = (u64, String, String, String);

/// The first `max` examples in key order, and the count of all.
#[derive(Debug, Clone, Default)]
pub struct First {
    pub total: u64,
    items: BTreeSet<OtherNoted>,
    max: usize,
}

impl First {
    fn new(max: usize) -> First {
        First { total: 0, items: BTreeSet::new(), max }
    }

    /// Whether an example read from `entry` could be kept (callers build none that would not).
    fn wants(&self, entry: u64) -> bool {
        self.items.len() < self.max || self.items.last().is_some_and(|last| entry <= last.0)
    }

    /// Keeps `item` if it is among the first (it is not counted: callers count).
    fn offer(&mut self, item: OtherNoted) {
        self.items.insert(item);
        if self.items.len() > self.max {
            self.items.pop_last();
        }
    }

    fn merge(&mut self, other: First) {
        self.max = self.max.max(other.max);
        self.total += other.total;
        for item in other.items {
            self.offer(item);
        }
    }

    /// The examples kept, in key order.
    pub fn items(&self) -> impl Iterator<Item = &OtherNoted> {
        self.items.iter()
    }
}

/// The instantiations of one migration's struct past the first, counted together.
#[derive(Debug, Clone)]
pub struct Others {
    distinct: Distinct,
    pub found: u64,
    pub migrated: u64,
    pub failed: u64,
    pub left: u64,
    pub failures: First,
    pub left_examples: First,
}

impl Others {
    fn new(examples: usize) -> Others {
        Others {
            distinct: Distinct::new(EXACT_INSTANTIATIONS),
            found: 0,
            migrated: 0,
            failed: 0,
            left: 0,
            failures: First::new(examples),
            left_examples: First::new(examples),
        }
    }

    /// How many instantiations, and whether the count is exact.
    pub fn instantiations(&self) -> (u64, bool) {
        self.distinct.count()
    }

    fn add(&mut self, name: &str, entry: u64, outcome: Outcome<'_>) {
        self.distinct.add(name.as_bytes());
        self.found += 1;
        let note = |held: &str, reason: &str| (entry, name.to_owned(), held.to_owned(), reason.to_owned());
        match outcome {
            Outcome::Migrated => self.migrated += 1,
            Outcome::Failed { held, reason } => {
                self.failed += 1;
                self.failures.total += 1;
                if self.failures.wants(entry) {
                    self.failures.offer(note(held, reason));
                }
            }
            Outcome::Left { held, why } => {
                self.left += 1;
                self.left_examples.total += 1;
                if self.left_examples.wants(entry) {
                    self.left_examples.offer(note(held, why));
                }
            }
        }
    }

    /// Takes in an instantiation accounted one by one until now.
    fn absorb(&mut self, name: &str, c: InstanceCount) {
        self.distinct.add(name.as_bytes());
        self.found += c.found;
        self.migrated += c.migrated;
        self.failed += c.failed;
        self.left += c.left;
        for (mine, theirs) in [(&mut self.failures, c.failures), (&mut self.left_examples, c.left_examples)] {
            mine.total += theirs.total;
            for n in theirs.items() {
                mine.offer((n.entry, name.to_owned(), n.held.clone(), n.reason.clone()));
            }
        }
    }

    fn merge(&mut self, other: Others) {
        self.distinct.merge(other.distinct);
        self.found += other.found;
        self.migrated += other.migrated;
        self.failed += other.failed;
        self.left += other.left;
        self.failures.merge(other.failures);
        self.left_examples.merge(other.left_examples);
    }
}

/// Every migration's accounting per instantiation of its struct.
#[derive(Debug, Default)]
pub struct Instances {
    /// The first instantiations by name (rendered tag): the migration, and the counts.
    detailed: BTreeMap<String, (String, InstanceCount)>,
    /// The others, per migration.
    others: BTreeMap<String, Others>,
    /// Examples kept per list.
    examples: usize,
    /// Values migrated of one instantiation already among the detailed, not yet added to its
    /// count: consecutive values are mostly of one instantiation, and looking each up by name
    /// compared names sharing long prefixes (1.5% of a rehearsal). Added by [`Instances::settle`]
    /// before any other count, and at the end of a range.
    pending: Option<(String, u64)>,
}

impl Instances {
    pub fn new(examples: usize) -> Instances {
        Instances { examples, ..Instances::default() }
    }

    /// Values left on the old version without failing, of every instantiation.
    pub fn left(&self) -> u64 {
        self.detailed.values().map(|(_, c)| c.left).sum::<u64>() + self.others.values().map(|o| o.left).sum::<u64>()
    }

    /// Counts one value of instantiation `name` of the struct migration `migration` carries,
    /// read from source entry `entry`.
    pub fn count(&mut self, name: &str, migration: &str, entry: u64, outcome: Outcome<'_>) {
        if matches!(outcome, Outcome::Migrated) {
            if let Some((pending, n)) = &mut self.pending {
                if pending.as_str() == name {
                    *n += 1;
                    return;
                }
            }
        }
        self.settle();
        if let Some((_, c)) = self.detailed.get_mut(name) {
            if matches!(outcome, Outcome::Migrated) {
                self.pending = Some((name.to_owned(), 1));
                return;
            }
            c.add(entry, outcome);
            return;
        }
        let first = self.detailed.len() < MAX_INSTANCES
            || self.detailed.last_key_value().is_some_and(|(last, _)| name < last.as_str());
        if !first {
            let examples = self.examples;
            self.others.entry(migration.to_owned()).or_insert_with(|| Others::new(examples)).add(name, entry, outcome);
            return;
        }
        let mut c = InstanceCount::new(self.examples);
        c.add(entry, outcome);
        self.detailed.insert(name.to_owned(), (migration.to_owned(), c));
        self.trim();
    }

    /// Adds the values migrated not yet counted (see `pending`). A range's pass settles its
    /// counts when it ends; every other method expects them settled.
    pub fn settle(&mut self) {
        if let Some((name, n)) = self.pending.take() {
            if let Some((_, c)) = self.detailed.get_mut(&name) {
                c.found += n;
                c.migrated += n;
            }
        }
    }

    /// Moves the instantiations past the first [`MAX_INSTANCES`] by name to the others.
    fn trim(&mut self) {
        while self.detailed.len() > MAX_INSTANCES {
            let Some((name, (migration, c))) = self.detailed.pop_last() else { break };
            let examples = self.examples;
            self.others.entry(migration).or_insert_with(|| Others::new(examples)).absorb(&name, c);
        }
    }

    /// These counts followed by the next key range's.
    pub fn merge(&mut self, mut other: Instances) {
        self.settle();
        other.settle();
        self.examples = self.examples.max(other.examples);
        for (migration, o) in other.others {
            match self.others.get_mut(&migration) {
                Some(mine) => mine.merge(o),
                None => {
                    self.others.insert(migration, o);
                }
            }
        }
        for (name, (migration, c)) in other.detailed {
            match self.detailed.get_mut(&name) {
                Some((_, mine)) => mine.merge(c),
                None => {
                    self.detailed.insert(name, (migration, c));
                }
            }
        }
        self.trim();
    }

    /// The instantiations accounted one by one, by name: (name, migration, counts).
    pub fn detailed(&self) -> impl Iterator<Item = (&str, &str, &InstanceCount)> {
        debug_assert!(self.pending.is_none(), "counts read before they were settled");
        self.detailed.iter().map(|(name, (migration, c))| (name.as_str(), migration.as_str(), c))
    }

    /// The others, by migration.
    pub fn others(&self) -> impl Iterator<Item = (&str, &Others)> {
        self.others.iter().map(|(m, o)| (m.as_str(), o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` instantiations, each with a migrated value, a failure and a value left behind, at
    /// entries numbered in key order (three per instantiation), the instantiations met in an
    /// order other than their names' (as tags sort by their BCS, not their text).
    fn values(n: usize) -> Vec<(String, u64, usize)> {
        let mut out = Vec::new();
        for i in 0..n {
            let shuffled = (i * 7919) % n;
            for k in 0..3 {
                out.push((format!("0x1::c::B<0x{shuffled:06x}::c::C>"), (3 * i + k) as u64, k));
            }
        }
        out
    }

    fn count(into: &mut Instances, (name, entry, kind): &(String, u64, usize)) {
        let outcome = match kind {
            0 => Outcome::Migrated,
            1 => Outcome::Failed { held: "0x5", reason: "no" },
            _ => Outcome::Left { held: "0x6", why: "scope" },
        };
        into.count(name, "m", *entry, outcome);
    }

    /// What a report shows of the instances: each kept one's counts and examples, and the
    /// others' counts and examples.
    fn shown(i: &Instances) -> String {
        let mut s = String::new();
        for (name, m, c) in i.detailed() {
            s += &format!(
                "{name} {m} {} {} {} {} {:?} {:?}\n",
                c.found, c.migrated, c.failed, c.left, c.failures, c.left_examples
            );
        }
        for (m, o) in i.others() {
            let f: Vec<_> = o.failures.items().collect();
            let l: Vec<_> = o.left_examples.items().collect();
            s += &format!(
                "{m} {:?} {} {} {} {} {f:?} {} {l:?} {}\n",
                o.instantiations(),
                o.found,
                o.migrated,
                o.failed,
                o.left,
                o.failures.total,
                o.left_examples.total
            );
        }
        s
    }

    #[test]
    fn the_first_instantiations_are_kept_and_the_others_counted_together_the_same_for_any_split() {
        let all = values(3 * MAX_INSTANCES);
        // In key order, in one range.
        let mut whole = Instances::new(4);
        for v in &all {
            count(&mut whole, v);
        }
        whole.settle();
        assert_eq!(whole.detailed().count(), MAX_INSTANCES);
        let (m, others) = whole.others().next().unwrap();
        assert_eq!(
            (m, others.instantiations(), others.found),
            ("m", (2 * MAX_INSTANCES as u64, true), 6 * MAX_INSTANCES as u64)
        );
        assert_eq!(
            (others.failed, others.left, others.failures.total),
            (2 * MAX_INSTANCES as u64, 2 * MAX_INSTANCES as u64, 2 * MAX_INSTANCES as u64)
        );
        // The kept ones are the first by name; the others' examples the first in key order.
        let kept: Vec<&str> = whole.detailed().map(|(n, _, _)| n).collect();
        assert_eq!(kept[0], "0x1::c::B<0x000000::c::C>");
        assert_eq!(kept[MAX_INSTANCES - 1], format!("0x1::c::B<0x{:06x}::c::C>", MAX_INSTANCES - 1));
        let first: Vec<u64> = others.failures.items().map(|(e, ..)| *e).collect();
        let expected: Vec<u64> =
            all.iter().filter(|(n, _, k)| *k == 1 && !kept.contains(&n.as_str())).map(|(_, e, _)| *e).take(4).collect();
        assert_eq!(first, expected);
        // Split anywhere (ranges of key order): the same.
        for cut in [1, 7, all.len() / 2, all.len() - 5] {
            let (a, b) = all.split_at(cut);
            let mut left = Instances::new(4);
            for v in a {
                count(&mut left, v);
            }
            let mut right = Instances::new(4);
            for v in b {
                count(&mut right, v);
            }
            let mut merged = Instances::default();
            merged.merge(left);
            merged.merge(right);
            assert_eq!(shown(&merged), shown(&whole), "cut at {cut}");
        }
    }

    /// Values migrated one after another are counted together and added when another count
    /// comes, or the range ends: every instantiation's counts are those of its values, split
    /// anywhere.
    #[test]
    fn runs_of_migrated_values_are_counted_whole_for_any_split() {
        let mut all = Vec::new();
        for i in 0..2 * MAX_INSTANCES {
            let name = format!("0x1::c::B<0x{:06x}::c::C>", (i * 7919) % (2 * MAX_INSTANCES));
            for k in 0..(i % 5) + 1 {
                all.push((name.clone(), all.len() as u64, if k == 3 { 1 } else { 0 }));
            }
        }
        let tally = |name: &str| {
            let of: Vec<_> = all.iter().filter(|(n, _, _)| n == name).collect();
            (of.len() as u64, of.iter().filter(|(_, _, k)| *k == 0).count() as u64)
        };
        for cut in [0, 3, all.len() / 3, all.len() - 1] {
            let (a, b) = all.split_at(cut);
            let mut merged = Instances::default();
            for part in [a, b] {
                let mut range = Instances::new(4);
                for v in part {
                    count(&mut range, v);
                }
                range.settle();
                merged.merge(range);
            }
            assert_eq!(merged.detailed().count(), MAX_INSTANCES);
            for (name, _, c) in merged.detailed() {
                assert_eq!((c.found, c.migrated), tally(name), "{name}, cut at {cut}");
            }
            let (_, o) = merged.others().next().unwrap();
            let kept: u64 = merged.detailed().map(|(_, _, c)| c.found).sum();
            assert_eq!(o.found + kept, all.len() as u64);
        }
    }

    #[test]
    fn memory_does_not_grow_with_the_instantiations() {
        let mut i = Instances::new(20);
        for n in 0..200_000u64 {
            i.count(&format!("0x1::c::B<0x{n:x}::c::C>"), "m", n, Outcome::Failed { held: "0x5", reason: "no" });
        }
        i.settle();
        assert_eq!(i.detailed().count(), MAX_INSTANCES);
        let (_, o) = i.others().next().unwrap();
        let (n, exact) = o.instantiations();
        assert!(!exact && (n as f64 - 199_900.0).abs() / 199_900.0 < 0.03, "{n}");
        assert_eq!((o.failures.total, o.failures.items().count()), (199_900, 20));
    }
}
