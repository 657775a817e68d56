//! A bounds-checked BCS reader over one borrowed record or proof, and the few writers the
//! fixtures need. Every length is checked against a named limit and against the bytes left
//! before anything is taken; errors say at which byte of the input and what was being read.

use std::fmt;

/// What is wrong with BCS bytes, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BcsError {
    /// The byte of the input (the record's payload, the proof file) where it was found.
    pub offset: usize,
    pub reason: String,
}

impl fmt::Display for BcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {} of it)", self.reason, self.offset)
    }
}

impl std::error::Error for BcsError {}

/// Reads BCS values from the front of a slice, through the shared reader
/// ([`binary_format::bcs::Reader`]), with errors that name what was read as the caller says it.
#[derive(Debug, Clone)]
pub struct Reader<'a>(binary_format::bcs::Reader<'a>);

/// The shared reader's error, named as the caller names what it read.
fn named(what: &str) -> impl Fn(binary_format::bcs::Error) -> BcsError + '_ {
    move |e| BcsError { offset: e.offset(), reason: e.message_for(what) }
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader(binary_format::bcs::Reader::new(bytes))
    }

    /// Where the next byte is.
    pub fn pos(&self) -> usize {
        self.0.position()
    }

    pub fn remaining(&self) -> usize {
        self.0.remaining()
    }

    /// The bytes from `start` to here (a value's span, to hash it as it was written).
    pub fn since(&self, start: usize) -> &'a [u8] {
        self.0.since(start)
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.0.rest()
    }

    /// Moves past `n` bytes read by someone else (a struct tag's reader).
    pub fn skip(&mut self, n: usize, what: &str) -> Result<(), BcsError> {
        self.0.skip(n, "it").map_err(named(what))
    }

    #[cold]
    pub fn fail(&self, reason: impl Into<String>) -> BcsError {
        BcsError { offset: self.0.offset(), reason: reason.into() }
    }

    pub fn byte(&mut self, what: &str) -> Result<u8, BcsError> {
        self.0.u8("it").map_err(named(what))
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], BcsError> {
        self.0.bytes(n, "it").map_err(named(what))
    }

    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], BcsError> {
        self.0.array::<N>("it").map_err(named(what))
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, BcsError> {
        self.0.u16("it").map_err(named(what))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, BcsError> {
        self.0.u64("it").map_err(named(what))
    }

    /// A canonical ULEB128 of at most 32 bits (BCS lengths and variant indexes), no larger than
    /// `max`.
    pub fn uleb(&mut self, max: u64, what: &str) -> Result<u64, BcsError> {
        self.0.uleb(max.min(u64::from(u32::MAX)), "it").map_err(named(what))
    }

    /// An enum's variant index, at most `max`.
    pub fn variant(&mut self, max: u64, what: &str) -> Result<u64, BcsError> {
        let count = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
        self.0.variant(count, "it").map(|v| v as u64).map_err(named(what))
    }

    /// A length-prefixed byte string of at most `limit` bytes.
    pub fn bytes(&mut self, limit: u64, what: &str) -> Result<&'a [u8], BcsError> {
        self.0.prefixed(limit, "it").map_err(named(what))
    }

    /// A count of elements taking at least `min_size` bytes each, at most `limit`, checked
    /// against the bytes left before the caller allocates for them.
    pub fn count(&mut self, limit: u64, min_size: usize, what: &str) -> Result<usize, BcsError> {
        self.0.count(limit, min_size.max(1), "it").map_err(named(what))
    }

    /// An `Option`'s tag: whether a value follows.
    pub fn option(&mut self, what: &str) -> Result<bool, BcsError> {
        self.0.bool("it").map_err(named(what))
    }

    /// A `HashValue`: a byte string that must be 32 bytes.
    pub fn hash_value(&mut self, what: &str) -> Result<[u8; 32], BcsError> {
        self.0.prefixed_array::<32>("it").map_err(named(what))
    }

    /// A string (UTF-8) of at most `limit` bytes.
    pub fn string(&mut self, limit: u64, what: &str) -> Result<&'a str, BcsError> {
        self.0.string(limit, "it").map_err(named(what))
    }

    /// Nothing may follow.
    pub fn finish(&self, what: &str) -> Result<(), BcsError> {
        self.0.finish("it").map_err(named(what))
    }
}

/// Appends a length-prefixed byte string.
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    binary_format::write_uleb(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a `HashValue`.
pub fn write_hash(out: &mut Vec<u8>, hash: &[u8; 32]) {
    write_bytes(out, hash);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_canonical_bounded_and_checked_against_the_bytes_left() {
        assert_eq!(Reader::new(&[0x80, 0x01]).uleb(1000, "n").unwrap(), 128);
        assert!(Reader::new(&[0x80, 0x00]).uleb(1000, "n").is_err(), "overlong");
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x1f]).uleb(u64::MAX, "n").is_err(), "past 32 bits");
        assert!(Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).uleb(u64::MAX, "n").is_err());
        assert!(Reader::new(&[5]).uleb(4, "n").is_err(), "over the limit");
        // A count that the bytes left cannot hold is refused before anything is allocated.
        let e = Reader::new(&[0x7f, 1, 2]).count(1000, 8, "items").unwrap_err();
        assert!(e.reason.starts_with("items is 127") && e.reason.contains("2 bytes left"), "{e}");
        assert!(Reader::new(&[3, 1, 2]).bytes(100, "s").is_err());
        assert!(Reader::new(&[2]).option("o").is_err());
        let mut hash = vec![32];
        hash.extend([7u8; 32]);
        assert_eq!(Reader::new(&hash).hash_value("h").unwrap(), [7u8; 32]);
        hash[0] = 31;
        assert!(Reader::new(&hash).hash_value("h").is_err());
        let mut r = Reader::new(&[1, 2]);
        assert_eq!(r.byte("b").unwrap(), 1);
        assert_eq!(r.finish("x").unwrap_err().offset, 1);
    }
}
