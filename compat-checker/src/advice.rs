//! What to do about a change: the rule's fix, made specific to the change where the diff knows
//! more (the field's name, whether a rename is declared, how a type changed).

use layout_diff::diff::types::Relation;
use layout_diff::{Change, Detail, RuleId};

/// The advice for `change`.
pub fn suggestion(change: &Change) -> String {
    let field = change.field.as_deref().unwrap_or("");
    match (change.rule, change.detail) {
        (RuleId::StructFieldAdded, _) => format!(
            "Minimize: could `{field}` live in a new struct, initialized on the fly? If it must be here, version the \
             module and declare the migration with `defaults = {{ {field} = \"...\" }}` (derived), or a hand-written \
             transform if the value depends on other fields."
        ),
        (RuleId::StructFieldRenamed, Some(Detail::Renamed { declared: true })) => {
            "Not necessary: the old name could stay. The declared rename copies the bytes.".to_owned()
        }
        (RuleId::StructFieldRenamed, _) => {
            let old = change.old.as_deref().unwrap_or("");
            let new = change.new.as_deref().unwrap_or(field);
            format!(
                "Not necessary: keep `{old}`. If the rename must happen, version the module and declare \
                 `renames = {{ {new} = \"{old}\" }}` in the migration (derived)."
            )
        }
        (RuleId::StructFieldRetyped, Some(Detail::Retyped(relation))) => match relation {
            Relation::Widened => "Version the module and migrate: widening is derived.".to_owned(),
            Relation::Repointed { derivable: true } => {
                "Version the module and migrate: the nested struct's changes are derived.".to_owned()
            }
            _ => "Version the module and migrate with a hand-written transform.".to_owned(),
        },
        (rule, _) => rule.rule().fix.to_owned(),
    }
}
