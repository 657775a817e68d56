//! The one error type of the crate.
//!
//! Every error carries the byte offset into the whole file it was found at, so a user can open the
//! module in a hex viewer and look. The payload is boxed to keep `Result<T>` one word wide on the
//! hot parsing paths.

use std::fmt;

/// What went wrong, in a form a caller can match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended before a value was complete.
    UnexpectedEof,
    /// The file does not start with the Move magic bytes.
    BadMagic,
    /// The version word names a version (or flavor) this reader does not know.
    UnknownVersion,
    /// A table header is malformed: unknown kind, duplicate, overlapping or out of the file.
    BadTable,
    /// An index points past the end of the table it refers to.
    IndexOutOfBounds,
    /// A count or length exceeds a limit in `limits`.
    LimitExceeded,
    /// A ULEB128 value is overlong, too large for its field, or does not terminate.
    BadLeb128,
    /// An identifier is not valid UTF-8 or not a valid Move identifier.
    BadIdentifier,
    /// A byte has a value that is not defined for its position (a type tag, an opcode, a flag...).
    BadEncoding,
    /// Bytes remain after the last value of a table or of the file.
    TrailingBytes,
    /// The module cannot be written as asked (an address too long for the length, a missing
    /// struct, too many entries for a table index...).
    Unrepresentable,
}

/// An error found while reading or writing a module.
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<Inner>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    offset: Option<usize>,
    message: String,
}

/// The crate-wide result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error at a byte offset of the input.
    #[cold]
    pub fn at(kind: ErrorKind, offset: usize, message: impl Into<String>) -> Self {
        Error(Box::new(Inner { kind, offset: Some(offset), message: message.into() }))
    }

    /// An error that has no place in an input (writer errors).
    #[cold]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(Inner { kind, offset: None, message: message.into() }))
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The byte offset into the whole file, when the error comes from reading.
    pub fn offset(&self) -> Option<usize> {
        self.0.offset
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Prefixes the message with where the value was being read ("struct handle 3: ...").
    #[cold]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.0.message = format!("{what}: {}", self.0.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.offset {
            Some(offset) => write!(f, "{} (at offset {offset:#x})", self.0.message),
            None => f.write_str(&self.0.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {self}", self.0.kind)
    }
}

impl std::error::Error for Error {}

/// A reader error in the crate's terms: its offset kept, its kind mapped to the one callers of
/// the bytecode reader have always matched on.
impl From<crate::bcs::Error> for Error {
    #[cold]
    fn from(e: crate::bcs::Error) -> Error {
        use crate::bcs::ErrorKind as Bcs;
        let kind = match e.kind() {
            Bcs::UnexpectedEnd { .. } | Bcs::CountTooLarge { .. } => ErrorKind::UnexpectedEof,
            Bcs::NonCanonical | Bcs::TooLarge { .. } => ErrorKind::BadLeb128,
            Bcs::OverLimit { .. } | Bcs::TooDeep { .. } | Bcs::OverBudget { .. } => ErrorKind::LimitExceeded,
            Bcs::NotUtf8 => ErrorKind::BadIdentifier,
            Bcs::TrailingBytes { .. } => ErrorKind::TrailingBytes,
            Bcs::InvalidBool(_) | Bcs::WrongLength { .. } | Bcs::UnknownVariant { .. } => ErrorKind::BadEncoding,
        };
        Error::at(kind, e.offset(), e.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_offset_in_hex() {
        let e = Error::at(ErrorKind::BadMagic, 0x1c, "expected magic").context("header");
        assert_eq!(e.to_string(), "header: expected magic (at offset 0x1c)");
        assert_eq!(e.kind(), ErrorKind::BadMagic);
        assert_eq!(std::mem::size_of::<Result<()>>(), std::mem::size_of::<usize>());
    }
}
