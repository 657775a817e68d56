//! A change as the gate sees it: what the diff found, what to do about it, and whether it stops
//! the release.

use layout_diff::Change;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

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
    /// A layout change of a struct whose instances can never be in storage (no `key`, nowhere
    /// nested in a stored struct, in no container): nothing to migrate.
    NotStored,
    /// A linking change made in place that the chain's own check accepts on this path.
    Accepted { by: String },
}

impl Status {
    /// The status as written in reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Compatible => "compatible",
            Status::Handled => "handled",
            Status::Unhandled { .. } => "unhandled",
            Status::Allowed { .. } => "allowed",
            Status::NotStored => "not-stored",
            Status::Accepted { .. } => "accepted",
        }
    }
}

/// Which verdict a finding counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Concern {
    /// Nothing breaks.
    #[default]
    None,
    /// Stored data (a layout change of a stored struct, or the versioned-address scheme that
    /// carries one): the storage verdict.
    Storage,
    /// Linking, made in place: what the chain's own check decides.
    Chain,
}

/// One change of the diff, with its advice and its gate status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub change: Change,
    /// What to do about it.
    pub suggestion: String,
    pub status: Status,
    /// Which verdict it counts for.
    pub concern: Concern,
    /// The file the module came from, where known (GitHub annotations point at it).
    pub file: Option<String>,
}

impl Finding {
    /// A finding for `change` with `suggestion` (the advice, see `advice::suggestion`), not
    /// yet gated.
    pub fn new(change: Change, suggestion: String) -> Finding {
        Finding { change, suggestion, status: Status::Compatible, concern: Concern::None, file: None }
    }
}

impl std::ops::Deref for Finding {
    type Target = Change;

    fn deref(&self) -> &Change {
        &self.change
    }
}

/// The JSON form (report schema 2; schema 1's keys unchanged): the change's fields, then the advice and the status, with
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
            Status::Accepted { by } => m.serialize_entry("accepted_by", by)?,
            Status::Compatible | Status::Handled | Status::NotStored => {}
        }
        if self.concern != Concern::None {
            m.serialize_entry("concern", &self.concern)?;
        }
        if let Some(file) = &self.file {
            m.serialize_entry("file", file)?;
        }
        m.end()
    }
}
