//! How an old field type relates to a new one, across module versions.

use super::lineage::Lineage;
use binary_format::Type;

/// What turning a value of the old type into the new one takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The same type: bytes are copied.
    Same,
    /// An unsigned integer widened (`u64` to `u128`): derivable.
    Widened,
    /// The same struct, moved to its new version (possibly with changes of its own); `derivable`
    /// says whether those changes are.
    Repointed { derivable: bool },
    /// Anything else: a hand-written transform.
    Different,
}

impl Relation {
    pub fn derivable(self) -> bool {
        !matches!(self, Relation::Different | Relation::Repointed { derivable: false })
    }

    /// Combines the relations of parts (type arguments, elements) into the whole's.
    fn join(self, other: Relation) -> Relation {
        match (self, other) {
            (Relation::Different, _) | (_, Relation::Different) => Relation::Different,
            (Relation::Same, r) | (r, Relation::Same) => r,
            (a, b) => Relation::Repointed { derivable: a.derivable() && b.derivable() },
        }
    }
}

fn width(t: &Type) -> Option<u32> {
    Some(match t {
        Type::U8 => 8,
        Type::U16 => 16,
        Type::U32 => 32,
        Type::U64 => 64,
        Type::U128 => 128,
        Type::U256 => 256,
        _ => return None,
    })
}

/// Relates `old` (a type of the old release) to `new`. `struct_derivable` answers whether a
/// struct's own changes between its old and new version are derivable.
pub fn relate(
    old: &Type,
    new: &Type,
    lineage: &Lineage,
    struct_derivable: &mut dyn FnMut(&Type, &Type) -> bool,
) -> Relation {
    if old == new {
        return Relation::Same;
    }
    match (old, new) {
        (Type::Vector(a), Type::Vector(b)) => relate(a, b, lineage, struct_derivable),
        (Type::Datatype(a), Type::Datatype(b)) => {
            if lineage.successor(&a.module) != &b.module || a.name != b.name || a.type_args.len() != b.type_args.len() {
                return Relation::Different;
            }
            let args = a
                .type_args
                .iter()
                .zip(&b.type_args)
                .fold(Relation::Same, |acc, (x, y)| acc.join(relate(x, y, lineage, struct_derivable)));
            if args == Relation::Different {
                return Relation::Different;
            }
            if a.module == b.module {
                // Same struct, arguments changed.
                return args;
            }
            Relation::Repointed { derivable: args.derivable() && struct_derivable(old, new) }
        }
        _ => match (width(old), width(new)) {
            (Some(a), Some(b)) if a < b => Relation::Widened,
            _ => Relation::Different,
        },
    }
}
