//! Progress of the long phases, for a bar on a terminal (the CLI's); the library prints nothing.

/// Told what each phase does as it goes.
pub trait Progress {
    /// A phase starts; `total` resources when known.
    fn start(&mut self, phase: &str, total: Option<u64>);
    /// Resources done so far in the phase.
    fn advance(&mut self, done: u64);
    /// The phase is over.
    fn finish(&mut self);
}

/// No progress shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&mut self, _phase: &str, _total: Option<u64>) {}
    fn advance(&mut self, _done: u64) {}
    fn finish(&mut self) {}
}
