//! Field-level comparison of two versions of a struct: which new field comes from which old one.
//!
//! Fields are matched by name, after the renames a migration declares. Of the fields left
//! unmatched, an old and a new one of the same rank and the same type are taken as a rename
//! (by the checker; a migration honours declared renames only). What
//! remains is removed (old) or added (new). Matched fields are retyped when their types differ,
//! and reordered when their relative order changed. Each of these is named, so a user can tell a
//! rename from a reorder from a type change.

use super::types::Relation;
use binary_format::Field;
use std::collections::BTreeMap;

/// What the mapping needs of a field: its name. Implemented for the normalized view's fields and
/// for the migrations' BCS layout fields, so that both map fields the same way.
pub trait Named {
    fn name(&self) -> &str;
}

impl Named for Field {
    fn name(&self) -> &str {
        &self.name
    }
}

/// Whether unmatched fields at the same position with related types are taken as a rename. The
/// checker guesses (to name the change); a migration never does (only declared renames count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renames {
    Guess,
    DeclaredOnly,
}

/// Where a field of the new layout gets its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldSource {
    /// From old field `index`, transformed as `relation` says.
    Old { index: usize, relation: Relation, renamed: bool, declared_rename: bool },
    /// A new field: its value comes from a declared default or a hand-written transform.
    Added,
}

/// The field mapping between two versions of a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMapping {
    /// One entry per new field, in new order.
    pub sources: Vec<FieldSource>,
    /// Old fields no new field comes from.
    pub removed: Vec<usize>,
    /// Names of matched fields whose relative order changed.
    pub reordered: Vec<String>,
}

impl FieldMapping {
    /// Whether the old bytes are the new bytes (nothing but declared renames).
    pub fn is_identity(&self) -> bool {
        self.removed.is_empty()
            && self.reordered.is_empty()
            && self
                .sources
                .iter()
                .enumerate()
                .all(|(i, s)| matches!(s, FieldSource::Old { index, relation: Relation::Same, .. } if *index == i))
    }
}

/// Maps `new` fields to `old` ones. `renames` is new name -> old name, as declared; `relate`
/// compares an old and a new field's type.
pub fn map_fields<F: Named>(
    old: &[F],
    new: &[F],
    renames: &BTreeMap<String, String>,
    guess: Renames,
    relate: &mut dyn FnMut(&F, &F) -> Relation,
) -> FieldMapping {
    let mut sources = vec![FieldSource::Added; new.len()];
    let mut used = vec![false; old.len()];
    for (ni, nf) in new.iter().enumerate() {
        let declared = renames.get(nf.name());
        let wanted = declared.map_or(nf.name(), String::as_str);
        if let Some(oi) = old.iter().position(|of| of.name() == wanted) {
            if let (Some(u), Some(of), Some(src)) = (used.get_mut(oi), old.get(oi), sources.get_mut(ni)) {
                if !*u {
                    *u = true;
                    let relation = relate(of, nf);
                    *src = FieldSource::Old {
                        index: oi,
                        relation,
                        renamed: declared.is_some(),
                        declared_rename: declared.is_some(),
                    };
                }
            }
        }
    }
    // Undeclared renames: the unmatched old and new fields, taken in order and paired by rank,
    // whose types relate and whose new name the old struct did not have.
    if guess == Renames::Guess {
        let unmatched_old: Vec<usize> = (0..old.len()).filter(|&i| used.get(i) == Some(&false)).collect();
        let unmatched_new: Vec<usize> =
            (0..new.len()).filter(|&i| sources.get(i) == Some(&FieldSource::Added)).collect();
        for (&oi, &ni) in unmatched_old.iter().zip(&unmatched_new) {
            let (Some(of), Some(nf)) = (old.get(oi), new.get(ni)) else { continue };
            if old.iter().any(|o| o.name() == nf.name()) {
                continue;
            }
            // A field whose name and type both changed is not a rename.
            let relation = relate(of, nf);
            if matches!(relation, Relation::Same | Relation::Repointed { .. }) {
                if let (Some(u), Some(src)) = (used.get_mut(oi), sources.get_mut(ni)) {
                    *u = true;
                    *src = FieldSource::Old { index: oi, relation, renamed: true, declared_rename: false };
                }
            }
        }
    }
    let removed = used.iter().enumerate().filter(|(_, u)| !**u).map(|(i, _)| i).collect();
    // Reordered: matched fields whose old indices do not increase in new order. The fields off
    // the longest increasing run are the ones that moved.
    let matched: Vec<(usize, usize)> = sources
        .iter()
        .enumerate()
        .filter_map(|(ni, s)| match s {
            FieldSource::Old { index, .. } => Some((ni, *index)),
            FieldSource::Added => None,
        })
        .collect();
    let keep = longest_increasing(&matched.iter().map(|m| m.1).collect::<Vec<_>>());
    let reordered = matched
        .iter()
        .enumerate()
        .filter(|(k, _)| !keep.contains(k))
        .filter_map(|(_, (ni, _))| new.get(*ni).map(|f| f.name().to_owned()))
        .collect();
    FieldMapping { sources, removed, reordered }
}

/// Positions (into `xs`) of one longest strictly increasing subsequence. Field counts are small
/// (at most 255), so the quadratic method is fine.
fn longest_increasing(xs: &[usize]) -> Vec<usize> {
    let n = xs.len();
    let mut len = vec![1usize; n];
    let mut prev = vec![usize::MAX; n];
    for i in 0..n {
        for j in 0..i {
            let through_j = len.get(j).map_or(0, |l| l + 1);
            if xs.get(j) < xs.get(i) && through_j > len.get(i).copied().unwrap_or(0) {
                if let (Some(l), Some(p)) = (len.get_mut(i), prev.get_mut(i)) {
                    *l = through_j;
                    *p = j;
                }
            }
        }
    }
    let mut best = (0..n).max_by_key(|&i| (len.get(i).copied(), std::cmp::Reverse(i)));
    let mut out = Vec::new();
    while let Some(i) = best {
        out.push(i);
        best = prev.get(i).copied().filter(|&p| p != usize::MAX);
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::Type;

    fn fields(spec: &[(&str, Type)]) -> Vec<Field> {
        spec.iter().map(|(n, t)| Field { name: (*n).to_owned(), ty: t.clone() }).collect()
    }

    fn relate(a: &Field, b: &Field) -> Relation {
        let (a, b) = (&a.ty, &b.ty);
        if a == b {
            Relation::Same
        } else if *a == Type::U64 && *b == Type::U128 {
            Relation::Widened
        } else {
            Relation::Different
        }
    }

    #[test]
    fn rename_reorder_retype_add_remove_are_told_apart() {
        let old = fields(&[("a", Type::U64), ("b", Type::Bool), ("c", Type::U64), ("d", Type::Address)]);
        let new = fields(&[("c", Type::U128), ("a", Type::U64), ("bee", Type::Bool), ("e", Type::U8)]);
        let m = map_fields(&old, &new, &BTreeMap::new(), Renames::Guess, &mut relate);
        assert_eq!(m.removed, vec![3]);
        assert!(matches!(m.sources[0], FieldSource::Old { index: 2, relation: Relation::Widened, .. }));
        assert!(matches!(m.sources[2], FieldSource::Old { index: 1, renamed: true, declared_rename: false, .. }));
        assert_eq!(m.sources[3], FieldSource::Added);
        assert_eq!(m.reordered.len(), 1);
        assert!(!m.is_identity());
        // A migration only honours declared renames: `bee` is then a new field, `b` removed.
        let m = map_fields(&old, &new, &BTreeMap::new(), Renames::DeclaredOnly, &mut relate);
        assert_eq!(m.sources[2], FieldSource::Added);
        assert_eq!(m.removed, vec![1, 3]);
    }

    #[test]
    fn declared_rename_alone_is_an_identity() {
        let old = fields(&[("withdrawn", Type::U64)]);
        let new = fields(&[("total_withdrawn", Type::U64)]);
        let renames = BTreeMap::from([("total_withdrawn".to_owned(), "withdrawn".to_owned())]);
        let m = map_fields(&old, &new, &renames, Renames::DeclaredOnly, &mut relate);
        assert!(m.is_identity());
        assert!(matches!(m.sources[0], FieldSource::Old { declared_rename: true, .. }));
    }

    #[test]
    fn longest_increasing_picks_the_moved_ones() {
        assert_eq!(longest_increasing(&[0, 1, 2]), vec![0, 1, 2]);
        assert_eq!(longest_increasing(&[1, 0]).len(), 1);
        assert_eq!(longest_increasing(&[0, 2, 1, 3]).len(), 3);
        assert!(longest_increasing(&[]).is_empty());
    }
}
