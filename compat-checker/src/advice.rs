//! What to do about a change: the rule's fix, made specific to the change where the diff knows
//! more (the field's name, whether a rename is declared, how a type changed), then fitted to the
//! chain the release ships to and to what the gate found (stored or not, accepted by the chain
//! or not); and one cause found behind many changes.

use crate::chain::{Chain, ChainVerdict, Policy};
use crate::finding::{Concern, Finding, Status};
use crate::gate::GateContext;
use layout_diff::diff::types::Relation;
use layout_diff::{Change, Detail, RuleId};
use std::collections::{BTreeMap, BTreeSet};

/// The general advice for `change`, before the gate and the chain are known.
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

/// What the migration declaration of an in-place change needs to say, for this change.
fn in_place_detail(change: &Change) -> String {
    let field = change.field.as_deref().unwrap_or("");
    match (change.rule, change.detail) {
        (RuleId::StructFieldAdded, _) => format!(" with `defaults = {{ {field} = \"...\" }}` (derived)"),
        (RuleId::StructFieldRenamed, _) => {
            let old = change.old.as_deref().unwrap_or("");
            let new = change.new.as_deref().unwrap_or(field);
            format!(" with `renames = {{ {new} = \"{old}\" }}` (derived; or keep the old name)")
        }
        (RuleId::StructFieldRemoved | RuleId::StructFieldsReordered, _) => " (derived)".to_owned(),
        (RuleId::StructFieldRetyped, Some(Detail::Retyped(Relation::Widened))) => " (derived: widening)".to_owned(),
        (RuleId::StructNestedLayoutChanged, _) if change.derivable == Some(true) => {
            " (derived from the nested struct's changes)".to_owned()
        }
        _ => " (hand-written transform)".to_owned(),
    }
}

/// How the chain ships a release without its check, if it can.
fn unchecked_path(chain: Chain) -> &'static str {
    match chain {
        Chain::Diem => "as a framework write set (no check)",
        Chain::Aptos => "only with the arbitrary policy (no check)",
        Chain::Sui => "on no upgrade path: Sui checks every one",
    }
}

/// Whether the finding is about a friend (`public(package)`) function of the old release.
fn friend_function(f: &Finding, ctx: &GateContext<'_>) -> bool {
    let old_id = f.from.as_ref().unwrap_or(&f.module);
    ctx.old
        .iter()
        .find(|m| m.id() == *old_id)
        .and_then(|m| m.find_function(f.item.as_deref()?))
        .is_some_and(|g| g.visibility == binary_format::Visibility::Friend)
}

/// The advice for a gated finding, fitted to the chain and to what the gate found.
pub fn fitted(f: &Finding, ctx: &GateContext<'_>) -> String {
    let chain = ctx.profile.chain;
    let title = chain.title();
    let rejection = ctx
        .chain
        .rejections
        .iter()
        .find(|r| r.module == f.module && (r.item.as_deref() == f.item.as_deref() || r.item.is_none()));
    match (&f.status, f.concern) {
        (Status::Compatible, _) | (Status::Allowed { .. }, _) => f.suggestion.clone(),
        (Status::NotStored, _) => {
            let mut s = format!(
                "Nothing to migrate: {} is never stored (no `key`, held by no stored struct, in no container).",
                f.item.as_deref().unwrap_or("the struct")
            );
            if let Some(r) = rejection {
                s.push_str(&format!(
                    " {title} still rejects the change ({}): keep the old declaration, or ship it {}.",
                    r.rule,
                    unchecked_path(chain)
                ));
            }
            s
        }
        (_, Concern::Chain) => {
            if let Some(r) = rejection {
                let what = match f.rule {
                    RuleId::FunctionSignatureChanged => {
                        "add a function with the new signature beside the old one, and keep the old one (its body may abort)"
                    }
                    RuleId::FunctionRemoved => "keep the function; its body may abort",
                    RuleId::FunctionVisibilityReduced => "keep its visibility",
                    RuleId::FunctionEntryRemoved | RuleId::FunctionEntryAdded => "keep the entry flag as it was",
                    RuleId::FriendRemoved => "keep the friend declaration",
                    RuleId::ModuleRemoved => "keep the module in the release, even unused",
                    RuleId::StructAbilityRemoved => "keep the ability, or make the new shape a new struct",
                    RuleId::StructTypeParameterConstrained
                    | RuleId::StructTypeParameterUnphantomed
                    | RuleId::StructTypeParameterRelaxed
                    | RuleId::StructTypeParameterMadePhantom => "keep the type parameter as it was, or make a new struct",
                    RuleId::StructAbilityAdded => "leave the abilities as they were, or make the new shape a new struct",
                    RuleId::EnumVariantAdded => "keep the enum as it was and put the new case in a new enum",
                    RuleId::FunctionAdded | RuleId::StructAdded | RuleId::ModuleAdded => {
                        "this path allows no new code: upgrade with a policy that does (additive), or leave it out"
                    }
                    _ => "keep the old declaration, or add the new one beside it",
                };
                format!("{title} rejects it ({}): {what}. It ships as it is {}.", r.rule, unchecked_path(chain))
            } else if friend_function(f, ctx) && chain.friends_are_private() {
                format!("Nothing to do: {title} treats friend functions as private; only modules of the same package call them.")
            } else if !ctx.chain.checked {
                format!(
                    "{title} takes it without a check ({}); code outside the release compiled against the old one would fail \
                     to link: prefer adding the new item beside the old one.",
                    ctx.profile.policy
                )
            } else {
                format!("Nothing to do: {title}'s {} check accepts it.", ctx.profile.policy)
            }
        }
        (_, Concern::Storage) if f.from.is_none() && f.rule != RuleId::ClosedVersionChanged => {
            let addr = f.module.address;
            let detail = in_place_detail(f);
            let mut s = match chain {
                Chain::Diem => format!(
                    "Stored data: migrate it in place (declare `from = to = \"{addr}\"`{detail}; our hook rewrites every \
                     stored instance before any transaction reads it), or take the seed's remedies: a new struct \
                     initialized on the fly, or a versioned address with a migration."
                ),
                _ => format!(
                    "Stored data: {title} modules stay at their address, so migrate it in place (declare \
                     `from = to = \"{addr}\"`{detail}, run by our hook), or make the new data a new struct \
                     initialized on the fly."
                ),
            };
            if let Some(r) = rejection {
                s.push_str(&format!(
                    " {title} rejects the change in place ({}): it ships {}.",
                    r.rule,
                    unchecked_path(chain)
                ));
            }
            if matches!(f.rule, RuleId::StructRemoved | RuleId::ModuleRemoved) {
                s = "Keep it in the release (unchanged, even unused): its stored instances could no longer be read."
                    .to_owned();
                if let Some(r) = rejection {
                    s.push_str(&format!(" {title} rejects the release without it ({}).", r.rule));
                }
            }
            s
        }
        _ => f.suggestion.clone(),
    }
}

/// Every datatype path (`0x1::m::S`) in a type or signature text, in order.
fn datatype_paths(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes.get(i) == Some(&b'0')
            && bytes.get(i + 1) == Some(&b'x')
            && (i == 0 || !is_ident(bytes.get(i - 1).copied()))
        {
            let start = i;
            let mut j = i + 2;
            let mut parts = 0;
            while j < bytes.len() {
                let b = bytes.get(j).copied();
                if is_ident(b) {
                    j += 1;
                } else if b == Some(b':') && bytes.get(j + 1) == Some(&b':') {
                    parts += 1;
                    j += 2;
                } else {
                    break;
                }
            }
            if parts == 2 {
                if let Some(p) = text.get(start..j) {
                    out.push(p);
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn is_ident(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The datatypes that were swapped between `old` and `new` (same text otherwise), if that is all
/// that differs.
fn substitution(old: &str, new: &str) -> Option<BTreeSet<(String, String)>> {
    let (a, b) = (datatype_paths(old), datatype_paths(new));
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let mut replaced = old.to_owned();
    let mut pairs = BTreeSet::new();
    for (x, y) in a.iter().zip(&b) {
        if x != y {
            pairs.insert(((*x).to_owned(), (*y).to_owned()));
        }
    }
    for (x, y) in &pairs {
        replaced = replaced.replace(x.as_str(), y.as_str());
    }
    // A versioned move (same module and struct name, another address) is the seed's scheme at
    // work, not a cause to point out.
    let moved = |x: &str, y: &str| x.split_once("::").map(|p| p.1) == y.split_once("::").map(|p| p.1);
    (replaced == new && !pairs.is_empty() && !pairs.iter().all(|(x, y)| moved(x, y))).then_some(pairs)
}

/// Changes that share one cause: struct fields and function signatures whose only difference is
/// the same datatype(s) replaced by others (a type renamed, as when a fork renames its coin).
pub fn common_causes(findings: &[Finding], chain: &ChainVerdict) -> Vec<CommonCause> {
    let mut groups: BTreeMap<BTreeSet<(String, String)>, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        if !matches!(f.rule, RuleId::StructFieldRetyped | RuleId::FunctionSignatureChanged | RuleId::EnumVariantChanged)
        {
            continue;
        }
        let (Some(o), Some(n)) = (&f.old, &f.new) else { continue };
        if let Some(pairs) = substitution(o, n) {
            groups.entry(pairs).or_default().push(f);
        }
    }
    let mut out = Vec::new();
    for (pairs, fs) in groups.into_iter().filter(|(_, fs)| fs.len() >= 2) {
        let cause = pairs.iter().map(|(x, y)| format!("{x} became {y}")).collect::<Vec<_>>().join(", ");
        let structs: BTreeSet<String> = fs
            .iter()
            .filter(|f| f.rule != RuleId::FunctionSignatureChanged)
            .map(|f| format!("{}::{}", f.module, f.item.as_deref().unwrap_or("")))
            .collect();
        let functions = fs.iter().filter(|f| f.rule == RuleId::FunctionSignatureChanged).count();
        let stored = fs.iter().any(|f| f.concern == Concern::Storage);
        let mut advice = format!(
            "One change explains these {}: if the rename is not needed, keep the old type and every one of them goes away.",
            fs.len()
        );
        if stored {
            advice.push_str(
                " Otherwise each stored struct listed needs a migration, hand-written (the type itself changed, not its \
                 layout).",
            );
        }
        if functions > 0 && chain.checked && !chain.accepts {
            advice.push_str(&format!(
                " {} rejects the changed public signatures: keep functions with the old types beside the new ones.",
                chain.chain.title()
            ));
        } else if functions > 0 && chain.policy == Policy::Framework && chain.chain == Chain::Diem {
            advice.push_str(" The write set installs the new signatures without a check.");
        }
        out.push(CommonCause {
            cause,
            changes: fs.iter().map(|f| f.location()).collect(),
            structs: structs.len(),
            functions,
            advice,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renamed_type_is_found_as_the_only_difference() {
        assert_eq!(
            datatype_paths("0x1::coin::Coin<0x1::gas_coin::GAS>, &0xa::m::S"),
            vec!["0x1::coin::Coin", "0x1::gas_coin::GAS", "0xa::m::S"]
        );
        let s =
            substitution("0x1::coin::Coin<0x1::gas_coin::GAS>", "0x1::coin::Coin<0x1::libra_coin::LibraCoin>").unwrap();
        assert_eq!(s.len(), 1);
        assert!(substitution("u64", "u128").is_none());
        assert!(substitution("0x1::Coin::Coin<T0>", "0x3::Coin::Coin<T0>").is_none(), "a versioned move is no cause");
        assert!(substitution("(0x1::a::A, u64)", "(0x1::b::B, u128)").is_none());
    }
}

/// One cause behind many changes: a type renamed changes every field and signature using it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommonCause {
    pub cause: String,
    /// `module::item.field` of every change it explains.
    pub changes: Vec<String>,
    pub structs: usize,
    pub functions: usize,
    pub advice: String,
}
