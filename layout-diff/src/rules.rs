//! Every rule the diff applies, as data: a stable id, a class, what it means and what to do.
//!
//! A rule is one record of the `rules!` table: its [`RuleId`] (a type, so a change can only name
//! a rule that exists), its kebab-case id (stable once released), its [`Class`], a summary, the
//! reason for its class, the general fix, and a minimal example that is also its test fixture.
//! The enum and the table are generated together, so a rule cannot exist unregistered, and a
//! change's class always comes from its rule. `docs/rules.md` is generated from this table
//! (`compat-checker rules`) and a test keeps the two equal.

use serde::{Serialize, Serializer};
use std::fmt;

/// What a change means for an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Safe for a rolling, in-place upgrade.
    Compatible,
    /// Modules that import this one fail to link: they must be republished.
    LinkingBreaking,
    /// Stored data no longer decodes with the new layout: it must be migrated (in place, or
    /// at a versioned address), or the network halts on the first read.
    LayoutBreaking,
}

impl Class {
    /// The class as written in reports: `compatible`, `linking-breaking`, `layout-breaking`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Compatible => "compatible",
            Class::LinkingBreaking => "linking-breaking",
            Class::LayoutBreaking => "layout-breaking",
        }
    }
}

/// One rule: what changed, its class, why, and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: RuleId,
    pub class: Class,
    pub summary: &'static str,
    /// Why the rule has its class.
    pub reason: &'static str,
    /// What to do about it, in general (reports add what the change itself says).
    pub fix: &'static str,
    /// Old and new layout text of a minimal example (also the rule's test fixture).
    pub example: (&'static str, &'static str),
}

/// Generates [`RuleId`] and the table of [`Rule`]s from one list, in documentation order.
macro_rules! rules {
    ($($variant:ident = $id:literal, $class:ident, $summary:literal, $reason:literal, $fix:literal, $old:literal, $new:literal;)*) => {
        /// The id of a rule. Serialized (and displayed) as its stable kebab-case id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RuleId {
            $(#[doc = $summary] $variant,)*
        }

        impl RuleId {
            /// Every rule id, in documentation order.
            pub const ALL: &'static [RuleId] = &[$(RuleId::$variant,)*];

            /// The stable kebab-case id.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$variant => $id,)*
                }
            }

            /// The rule's record.
            pub fn rule(self) -> &'static Rule {
                match self {
                    $(RuleId::$variant => {
                        const RULE: Rule = Rule {
                            id: RuleId::$variant,
                            class: Class::$class,
                            summary: $summary,
                            reason: $reason,
                            fix: $fix,
                            example: ($old, $new),
                        };
                        &RULE
                    })*
                }
            }
        }
    };
}

rules! {
    ModuleAdded = "module-added", Compatible,
        "A module was added.",
        "Nothing refers to it yet.", "Nothing to do.",
        "", "struct S has key\n    a: u64";
    ModuleRemoved = "module-removed", LayoutBreaking,
        "A module was removed.",
        "Its stored structs can no longer be read and its importers no longer link.",
        "Keep the module, closed, in every later release.",
        "struct S has key\n    a: u64", "";
    BytecodeVersionDowngraded = "bytecode-version-downgraded", LinkingBreaking,
        "A module is written with an older bytecode version.",
        "Nodes that already run the newer version may refuse to load it.",
        "Write the module with at least its previous version.",
        "@v6\nstruct S has key\n    a: u64", "@v5\nstruct S has key\n    a: u64";
    StructAdded = "struct-added", Compatible,
        "A struct or enum was added.",
        "No data is stored under it yet; the seed's \"make it a new struct\" answer.",
        "Nothing to do; initialize it on the fly when it is first needed.",
        "struct S has key\n    a: u64", "struct S has key\n    a: u64\n  struct T has key\n    b: u64";
    StructRemoved = "struct-removed", LayoutBreaking,
        "A struct or enum was removed.",
        "Values stored under it can no longer be read; importers no longer link.",
        "Keep the struct; if it must go, version the module and migrate its data away.",
        "struct S has key\n    a: u64\n  struct T has key\n    b: u64", "struct S has key\n    a: u64";
    StructKindChanged = "struct-kind-changed", LayoutBreaking,
        "A struct became an enum, or an enum a struct.",
        "An enum's encoding starts with a variant tag: every stored value changes.",
        "Version the module and migrate with a hand-written transform.",
        "struct S has key\n    a: u64", "enum S has key\n    A\n      a: u64";
    StructAbilityAdded = "struct-ability-added", Compatible,
        "A struct gained an ability.",
        "Every existing use stays valid.", "Nothing to do.",
        "struct S has key\n    a: u64", "struct S has store, key\n    a: u64";
    StructAbilityRemoved = "struct-ability-removed", LinkingBreaking,
        "A struct lost `copy` or `drop`.",
        "Importers that copy or drop its values no longer verify.",
        "Keep the ability, or version the module and republish its importers.",
        "struct S has copy, drop\n    a: u64", "struct S has copy\n    a: u64";
    StructStorageAbilityRemoved = "struct-storage-ability-removed", LayoutBreaking,
        "A struct lost `key` or `store`.",
        "Values already in storage can no longer exist there.",
        "Keep the ability; if it must go, version the module and migrate the data out.",
        "struct S has store, key\n    a: u64", "struct S has key\n    a: u64";
    StructTypeParametersChanged = "struct-type-parameters-changed", LayoutBreaking,
        "A struct's number of type parameters changed.",
        "The type of every stored instance (`Balance<GAS>`) changes, so it is stored under another key.",
        "Version the module and migrate with a hand-written transform.",
        "struct S<T0> has key\n    a: u64", "struct S<T0, T1> has key\n    a: u64";
    StructTypeParameterConstrained = "struct-type-parameter-constrained", LinkingBreaking,
        "A type parameter gained a constraint.",
        "Importers that instantiate it with types lacking the ability no longer verify.",
        "Drop the new constraint, or version the module.",
        "struct S<T0> has key\n    a: u64", "struct S<T0: copy> has key\n    a: u64";
    StructTypeParameterRelaxed = "struct-type-parameter-relaxed", Compatible,
        "A type parameter lost a constraint.",
        "Every existing instantiation stays valid.", "Nothing to do.",
        "struct S<T0: copy> has key\n    a: u64", "struct S<T0> has key\n    a: u64";
    StructTypeParameterMadePhantom = "struct-type-parameter-made-phantom", Compatible,
        "A type parameter became phantom.",
        "Phantom parameters relax the abilities the struct derives from its arguments.", "Nothing to do.",
        "struct S<T0> has key\n    a: u64", "struct S<phantom T0> has key\n    a: u64";
    StructTypeParameterUnphantomed = "struct-type-parameter-unphantomed", LinkingBreaking,
        "A phantom type parameter became non-phantom.",
        "Importers that instantiate it with types lacking the struct's abilities no longer verify.",
        "Keep it phantom, or version the module.",
        "struct S<phantom T0> has key\n    a: u64", "struct S<T0> has key\n    a: u64";
    StructFieldAdded = "struct-field-added", LayoutBreaking,
        "A field was added.",
        "Stored values lack the field's bytes: reading them with the new layout fails.",
        "Minimize: could the field be a new struct, initialized on the fly? If not, version the module and migrate; the transform is derived when the migration declares the field's default.",
        "struct S has key\n    a: u64", "struct S has key\n    a: u64\n    b: bool";
    StructFieldRemoved = "struct-field-removed", LayoutBreaking,
        "A field was removed.",
        "Stored values carry bytes the new layout does not expect.",
        "Version the module and migrate; the transform is derived (the field's bytes are skipped).",
        "struct S has key\n    a: u64\n    b: bool", "struct S has key\n    a: u64";
    StructFieldsReordered = "struct-fields-reordered", LayoutBreaking,
        "Fields were reordered.",
        "BCS encodes fields in declaration order: stored values decode into the wrong fields.",
        "Restore the order; if it must change, version the module and migrate (derived).",
        "struct S has key\n    a: u64\n    b: u64", "struct S has key\n    b: u64\n    a: u64";
    StructFieldRenamed = "struct-field-renamed", LayoutBreaking,
        "A field was renamed.",
        "The bytes do not change, but the VM's compatibility check compares field names, so the module cannot be upgraded in place.",
        "Not necessary: keep the old name. If the rename must happen, version the module and declare the rename (derived: the bytes are copied).",
        "struct S has key\n    withdrawn: u64", "struct S has key\n    total_withdrawn: u64";
    StructNestedLayoutChanged = "struct-nested-layout-changed", LayoutBreaking,
        "A struct this stored struct holds (in a field, nested at any depth) changed layout.",
        "The stored struct's own declaration is unchanged, but its bytes embed the nested struct's: stored values no longer decode.",
        "Migrate the storing struct (in place, or version its module): the transform is derived when the nested struct's changes are.",
        "struct I has store\n    a: u64\n  struct S has key\n    i: 0x1::M::I", "struct I has store\n    a: u64\n    b: bool\n  struct S has key\n    i: 0x1::M::I";
    StructFieldRetyped = "struct-field-retyped", LayoutBreaking,
        "A field's type changed.",
        "Stored values encode the old type.",
        "Version the module and migrate: derived for integer widening and for a struct moved to its new version by derivable changes; hand-written otherwise.",
        "struct S has key\n    a: u64", "struct S has key\n    a: u128";
    EnumVariantAdded = "enum-variant-added", Compatible,
        "A variant was appended to an enum.",
        "Existing values keep their tags.", "Nothing to do.",
        "enum S has key\n    A\n      a: u64", "enum S has key\n    A\n      a: u64\n    B";
    EnumVariantInserted = "enum-variant-inserted", LayoutBreaking,
        "A variant was added before existing ones.",
        "Variants after it change tags: stored values decode as the wrong variant.",
        "Append new variants at the end.",
        "enum S has key\n    A\n      a: u64", "enum S has key\n    B\n    A\n      a: u64";
    EnumVariantRemoved = "enum-variant-removed", LayoutBreaking,
        "A variant was removed.",
        "Stored values of that variant, and the tags of those after it, no longer decode.",
        "Keep the variant; if it must go, version the module and migrate (hand-written).",
        "enum S has key\n    A\n      a: u64\n    B", "enum S has key\n    A\n      a: u64";
    EnumVariantsReordered = "enum-variants-reordered", LayoutBreaking,
        "Variants were reordered.",
        "Tags follow declaration order: stored values decode as other variants.",
        "Restore the order.",
        "enum S has key\n    A\n    B", "enum S has key\n    B\n    A";
    EnumVariantChanged = "enum-variant-changed", LayoutBreaking,
        "A variant's fields changed.",
        "Stored values of that variant no longer decode.",
        "Version the module and migrate (hand-written).",
        "enum S has key\n    A\n      a: u64", "enum S has key\n    A\n      a: u128";
    FunctionAdded = "function-added", Compatible,
        "A function was added.", "Nothing refers to it yet.", "Nothing to do.",
        "public fun f(): u64", "public fun f(): u64\n  public fun g()";
    FunctionRemoved = "function-removed", LinkingBreaking,
        "A public, friend or entry function was removed.",
        "Importers (or transactions) that call it no longer link.",
        "Keep it (it may abort), or version the module and republish its importers.",
        "public fun f(): u64", "fun g()";
    FunctionSignatureChanged = "function-signature-changed", LinkingBreaking,
        "A public, friend or entry function's parameters, results or type parameters changed.",
        "Callers were compiled against the old signature.",
        "Add a new function and keep the old one.",
        "public fun f(u64): u64", "public fun f(u128): u64";
    FunctionVisibilityReduced = "function-visibility-reduced", LinkingBreaking,
        "A function became less visible.",
        "Callers outside the new visibility no longer link.",
        "Keep the visibility.",
        "public fun f()", "friend fun f()";
    FunctionVisibilityWidened = "function-visibility-widened", Compatible,
        "A function became more visible.",
        "Every existing caller still links.", "Nothing to do.",
        "friend fun f()", "public fun f()";
    FunctionEntryRemoved = "function-entry-removed", LinkingBreaking,
        "A function is no longer `entry`.",
        "Transactions that call it directly fail.", "Keep it `entry`.",
        "public entry fun f()", "public fun f()";
    FunctionEntryAdded = "function-entry-added", Compatible,
        "A function became `entry`.",
        "Existing callers are unaffected.", "Nothing to do.",
        "public fun f()", "public entry fun f()";
    FriendRemoved = "friend-removed", LinkingBreaking,
        "A friend declaration was removed.",
        "The former friend's calls to friend functions no longer link.",
        "Keep the friend, or republish the former friend without those calls.",
        "friends 0x1::B\n  struct S has key\n    a: u64", "struct S has key\n    a: u64";
    FriendAdded = "friend-added", Compatible,
        "A friend declaration was added.", "Nothing breaks.", "Nothing to do.",
        "struct S has key\n    a: u64", "friends 0x1::B\n  struct S has key\n    a: u64";
    ClosedVersionChanged = "closed-version-changed", LayoutBreaking,
        "An old, closed version kept in the new release differs from what was published.",
        "Migrations read old data through the closed version: it must stay as it was.",
        "Restore the closed version exactly; make changes in the newest version.",
        "struct S has key\n    a: u64", "struct S has key\n    a: u64\n    b: u64";
}

impl RuleId {
    /// The rule with this kebab-case id.
    pub fn parse(id: &str) -> Option<RuleId> {
        RuleId::ALL.iter().copied().find(|r| r.as_str() == id)
    }

    /// The rule's class.
    pub fn class(self) -> Class {
        self.rule().class
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Every rule, in documentation order.
pub fn rules() -> impl Iterator<Item = &'static Rule> {
    RuleId::ALL.iter().map(|id| id.rule())
}

/// The rules table as Markdown: what `docs/rules.md` holds.
pub fn markdown() -> String {
    use std::fmt::Write;
    let mut out = String::from(
        "# Compatibility rules\n\n\
         Every change `compat-checker check` reports carries one of these rule ids. Ids never change once\n\
         released. Classes: **compatible** (safe for a rolling, in-place upgrade), **linking-breaking**\n\
         (modules that import this one must be republished), **layout-breaking** (stored data no longer\n\
         decodes: the module needs a versioned address and a migration).\n\n\
         Generated from `layout-diff/src/rules.rs` by `compat-checker rules`; a test keeps it current.\n\n\
         | id | class | what changed | why | what to do |\n|---|---|---|---|---|\n",
    );
    for r in rules() {
        let _ = writeln!(out, "| `{}` | {} | {} | {} | {} |", r.id, r.class.as_str(), r.summary, r.reason, r.fix);
    }
    out.push_str("\n## Examples\n\nEach example is also the rule's test fixture (`compat-checker/tests/rules.rs`).\n");
    for r in rules() {
        let _ = writeln!(out, "\n### `{}`\n\n```text\n// old\n{}\n// new\n{}\n```", r.id, r.example.0, r.example.1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_is_registered_once_kebab_case_and_parses_back() {
        let mut ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "two rules share an id");
        for &id in RuleId::ALL {
            assert_eq!(id.rule().id, id, "{id} points at another rule's record");
            assert_eq!(RuleId::parse(id.as_str()), Some(id));
            assert!(id.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{id}");
        }
        assert_eq!(RuleId::parse("no-such-rule"), None);
    }
}
