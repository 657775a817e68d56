//! One difference between two releases, with its rule, class, advice and gate status.

use crate::rules::{self, Class};
use binary_format::ModuleId;
use serde::Serialize;

/// Whether the change stops the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// Safe in place.
    Compatible,
    /// Breaking, but versioning and a migration take care of it.
    Handled,
    /// Breaking and not taken care of: the release would halt the network or fail to link.
    Unhandled { missing: Vec<String> },
    /// Breaking, but the configuration allows it, with a reason.
    Allowed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub rule: &'static str,
    pub class: Class,
    /// The module in the new release (the old one, when it was removed).
    pub module: ModuleId,
    /// The version the module moved from, when it moved to a new address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<ModuleId>,
    /// The struct, enum or function.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The field or variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    pub message: String,
    pub suggestion: String,
    /// For layout-breaking changes: whether the data transform can be derived automatically.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derivable: Option<bool>,
    #[serde(flatten)]
    pub status: Status,
}

impl Change {
    /// A change of `rule`, with the rule's class and fix as the default suggestion.
    pub fn new(rule: &'static str, module: &ModuleId, message: impl Into<String>) -> Change {
        let r = rules::rule(rule);
        Change {
            rule,
            class: r.map_or(Class::LayoutBreaking, |r| r.class),
            module: module.clone(),
            from: None,
            item: None,
            field: None,
            old: None,
            new: None,
            message: message.into(),
            suggestion: r.map_or_else(String::new, |r| r.fix.to_owned()),
            derivable: None,
            status: Status::Compatible,
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

    pub fn suggest(mut self, suggestion: impl Into<String>) -> Change {
        self.suggestion = suggestion.into();
        self
    }

    pub fn derivable(mut self, derivable: bool) -> Change {
        self.derivable = Some(derivable);
        self
    }

    pub fn is_breaking(&self) -> bool {
        self.class != Class::Compatible
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
