//! One difference between two releases, named by its rule.
//!
//! A change says what differs and where; it does not say whether the difference stops a release
//! (that is a gate's question, asked with a registry, declarations and a chain's rules) nor what
//! to do about this one (advice, which depends on the chain too). Its class is its rule's.

use crate::rules::{Class, RuleId};
use binary_format::ModuleId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub rule: RuleId,
    /// The module in the new release (the old one, when it was removed).
    pub module: ModuleId,
    /// The version the module moved from, when it moved to a new address.
    pub from: Option<ModuleId>,
    /// The struct, enum or function.
    pub item: Option<String>,
    /// The field or variant.
    pub field: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
    pub message: String,
    /// For layout-breaking changes: whether the data transform can be derived automatically.
    pub derivable: Option<bool>,
    /// For renamed and retyped fields: what the advice needs to know.
    pub detail: Option<Detail>,
}

impl Change {
    /// A change of `rule` in `module`.
    pub fn new(rule: RuleId, module: &ModuleId, message: impl Into<String>) -> Change {
        Change {
            rule,
            module: module.clone(),
            from: None,
            item: None,
            field: None,
            old: None,
            new: None,
            message: message.into(),
            derivable: None,
            detail: None,
        }
    }

    pub fn item(mut self, item: &str) -> Change {
        self.item = Some(item.to_owned());
        self
    }

    pub fn field(mut self, field: &str) -> Change {
        self.field = Some(field.to_owned());
        self
    }

    pub fn old_new(mut self, old: impl ToString, new: impl ToString) -> Change {
        self.old = Some(old.to_string());
        self.new = Some(new.to_string());
        self
    }

    pub fn derivable(mut self, derivable: bool) -> Change {
        self.derivable = Some(derivable);
        self
    }

    pub fn detail(mut self, detail: Detail) -> Change {
        self.detail = Some(detail);
        self
    }

    /// The rule's class.
    pub fn class(&self) -> Class {
        self.rule.class()
    }

    pub fn is_breaking(&self) -> bool {
        self.class() != Class::Compatible
    }

    /// `Module::Item.field`, for messages.
    pub fn location(&self) -> String {
        let mut s = self.module.to_string();
        if let Some(item) = &self.item {
            s.push_str("::");
            s.push_str(item);
        }
        if let Some(field) = &self.field {
            s.push('.');
            s.push_str(field);
        }
        s
    }
}

/// What the diff knows about a field change beyond its rule, for advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The field kept its bytes under a new name; `declared` when the migration declares it.
    Renamed { declared: bool },
    /// How the field's old type relates to its new one.
    Retyped(crate::diff::types::Relation),
}
