//! Hand-written transforms, registered by name: for changes no derived rule covers, such as a
//! new field computed from old ones. A handler works on decoded values (old layout in, new
//! layout out); the runner encodes the result with the new layout, so a handler cannot write
//! bytes that do not decode.

use crate::layout::StructLayout;
use crate::value::Value;
use std::collections::BTreeMap;

/// A transform from an old value to a new one. An `Err` is that account's failure: its old data
/// stays untouched.
pub type Handler = fn(&Value, &HandlerContext<'_>) -> Result<Value, String>;

/// What a handler may look at besides the value.
#[derive(Debug)]
pub struct HandlerContext<'a> {
    /// The layout the value handed to the handler was decoded with: where its fields' names are.
    pub old: &'a StructLayout,
    /// The layout the handler's result is encoded with: the result must have exactly these
    /// fields, in this order, or the account fails (its old bytes stay).
    pub new: &'a StructLayout,
}

impl HandlerContext<'_> {
    /// The old value's field named `name`.
    pub fn old_field<'v>(&self, value: &'v Value, name: &str) -> Result<&'v Value, String> {
        let (i, _) = self.old.field(name).ok_or_else(|| format!("the old layout has no field `{name}`"))?;
        value.fields().and_then(|f| f.get(i)).ok_or_else(|| format!("the old value has no field `{name}`"))
    }
}

/// Handlers by name, as migration declarations name them.
#[derive(Debug, Clone, Default)]
pub struct Handlers(BTreeMap<&'static str, Handler>);

impl Handlers {
    /// No handlers: a catalogue built with it accepts only derived transforms.
    pub fn new() -> Handlers {
        Handlers::default()
    }

    /// Registers `handler` under `name`, the name a declaration's `handler = "..."` gives.
    /// A second registration of one name replaces the first. The name is part of an entry's
    /// checksum (through its declaration); the function is not, so a node must run the same
    /// handler code as every other node.
    pub fn register(&mut self, name: &'static str, handler: Handler) -> &mut Self {
        self.0.insert(name, handler);
        self
    }

    /// The handler registered as `name`, if any.
    pub fn get(&self, name: &str) -> Option<Handler> {
        self.0.get(name).copied()
    }
}
