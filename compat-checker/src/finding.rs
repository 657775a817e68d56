//! A change as the gate sees it: what the diff found, what to do about it, and whether it stops
//! the release.

use layout_diff::Change;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Whether the change stops the release.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl Status {
    /// The status as written in reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Compatible => "compatible",
            Status::Handled => "handled",
            Status::Unhandled { .. } => "unhandled",
            Status::Allowed { .. } => "allowed",
        }
    }
}

/// One change of the diff, with its advice and its gate status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub change: Change,
    /// What to do about it.
    pub suggestion: String,
    pub status: Status,
}

impl Finding {
    /// A finding for `change`, with the advice for it, not yet gated.
    pub fn new(change: Change) -> Finding {
        let suggestion = crate::advice::suggestion(&change);
        Finding { change, suggestion, status: Status::Compatible }
    }
}

impl std::ops::Deref for Finding {
    type Target = Change;

    fn deref(&self) -> &Change {
        &self.change
    }
}

/// The JSON form (report schema 1): the change's fields, then the advice and the status, with
/// optional keys omitted when empty.
impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = &self.change;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("rule", &c.rule)?;
        m.serialize_entry("class", &c.class())?;
        m.serialize_entry("module", &c.module)?;
        if let Some(from) = &c.from {
            m.serialize_entry("from", from)?;
        }
        for (key, value) in [("item", &c.item), ("field", &c.field), ("old", &c.old), ("new", &c.new)] {
            if let Some(v) = value {
                m.serialize_entry(key, v)?;
            }
        }
        m.serialize_entry("message", &c.message)?;
        m.serialize_entry("suggestion", &self.suggestion)?;
        if let Some(d) = c.derivable {
            m.serialize_entry("derivable", &d)?;
        }
        m.serialize_entry("status", self.status.as_str())?;
        match &self.status {
            Status::Unhandled { missing } => m.serialize_entry("missing", missing)?,
            Status::Allowed { reason } => m.serialize_entry("reason", reason)?,
            Status::Compatible | Status::Handled => {}
        }
        m.end()
    }
}
