//! The one reader of BCS-like bytes in the workspace: Move bytecode, struct tags, stored values,
//! the migrations' byte plans, the hook's status record and Diem backup blobs all read through
//! [`Reader`], so each rule below is written once:
//! - every error names its offset in the *whole* input (a reader over a part of a file is made
//!   with the part's base offset), and what was being read;
//! - ULEB128 values are canonical (no redundant trailing zero group, as BCS requires: one
//!   encoding per value) and within the field's maximum, which also bounds how many bytes a
//!   ULEB128 may take;
//! - a count is checked against its named limit and against the bytes left, times the fewest
//!   bytes one element takes, before the caller allocates for it ([`Reader::count`],
//!   [`Reader::list`]);
//! - a bool is the byte 0 or 1;
//! - optionally, a memory budget: what a decoder builds from the bytes is charged
//!   ([`Reader::charge`]) before it is allocated, so a small input cannot claim gigabytes.
//!
//! An [`Error`] is one boxed word, so that `Result<u8, Error>` stays two registers on the paths
//! that succeed; it is built only in cold functions.

use crate::address::{Address, AddressLength};
use crate::limits;
use std::fmt;

/// What was wrong with the bytes, in a form a caller can match on and map into its own error
/// (exhaustively: a new kind makes every mapping decide what it means).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input ends inside a value.
    UnexpectedEnd {
        /// Bytes the value needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A ULEB128 with a redundant trailing zero group.
    NonCanonical,
    /// A ULEB128 larger than its field allows. `value` is `None` when the encoding was abandoned
    /// before its end because it could only be too large (or does not fit in 64 bits).
    TooLarge {
        /// The value read, when it was read to the end.
        value: Option<u64>,
        /// The field's maximum.
        max: u64,
    },
    /// A count over its named limit (`value` as in [`ErrorKind::TooLarge`]).
    OverLimit {
        /// The count read, when it was read to the end.
        value: Option<u64>,
        /// The limit.
        limit: u64,
    },
    /// A count of elements that the bytes left cannot hold.
    CountTooLarge {
        /// The count read.
        count: u64,
        /// Fewest bytes one element takes.
        min_size: usize,
        /// Bytes left in the input after the count.
        remaining: usize,
    },
    /// A bool byte other than 0 or 1.
    InvalidBool(u8),
    /// A string that is not UTF-8.
    NotUtf8,
    /// A length-prefixed value whose length is not the one its type has.
    WrongLength {
        /// The length read.
        found: u64,
        /// The length the type has.
        expected: u64,
    },
    /// An enum variant index (or a tag byte) that names no variant.
    UnknownVariant {
        /// The index read.
        index: u64,
        /// How many variants there are.
        count: u64,
    },
    /// Values nested deeper than the decoder's bound.
    TooDeep {
        /// The bound.
        limit: usize,
    },
    /// What the decoded data would take is more than the memory budget left.
    OverBudget {
        /// Bytes of memory the value needs.
        needed: usize,
        /// Bytes of the budget left.
        left: usize,
    },
    /// Bytes after the last value.
    TrailingBytes {
        /// How many.
        count: usize,
    },
}

/// Bytes that do not read: what, where in the whole input, and why.
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Box<Inner>);

#[derive(Clone, PartialEq, Eq)]
struct Inner {
    kind: ErrorKind,
    offset: usize,
    what: &'static str,
}

impl Error {
    /// An error of `kind` found at `offset` of the whole input while reading `what`.
    #[cold]
    #[inline(never)]
    pub fn new(kind: ErrorKind, offset: usize, what: &'static str) -> Error {
        Error(Box::new(Inner { kind, offset, what }))
    }

    /// What was wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The offset in the whole input.
    pub fn offset(&self) -> usize {
        self.0.offset
    }

    /// What was being read ("vector length", "struct tag address").
    pub fn what(&self) -> &'static str {
        self.0.what
    }

    /// The message without the offset (for errors that place it themselves).
    #[cold]
    pub fn message(&self) -> String {
        self.message_for(self.0.what)
    }

    /// The message with `what` in place of the static name the read was given: for callers
    /// whose names of what they read are built at run time (a record's field, a proof's part).
    #[cold]
    pub fn message_for(&self, what: &str) -> String {
        match self.0.kind {
            ErrorKind::UnexpectedEnd { needed, remaining } => {
                format!("{what}: {needed} bytes needed, {remaining} left")
            }
            ErrorKind::NonCanonical => format!("{what}: ULEB128 is not canonical (a redundant trailing zero group)"),
            ErrorKind::TooLarge { value: Some(value), max } => {
                format!("{what} is {value}, more than the maximum {max}")
            }
            ErrorKind::TooLarge { value: None, max } => format!("{what} is more than the maximum {max}"),
            ErrorKind::OverLimit { value: Some(value), limit } => {
                format!("{what} is {value}, more than the limit {limit}")
            }
            ErrorKind::OverLimit { value: None, limit } => format!("{what} is more than the limit {limit}"),
            ErrorKind::CountTooLarge { count, min_size: 1, remaining } => {
                format!("{what} is {count}, more than the {remaining} bytes left")
            }
            ErrorKind::CountTooLarge { count, min_size, remaining } => format!(
                "{what} is {count}, but {count} elements of at least {min_size} bytes each do not fit in the \
                 {remaining} bytes left"
            ),
            ErrorKind::InvalidBool(b) => format!("{what}: {b:#04x} is not a bool (0 or 1)"),
            ErrorKind::NotUtf8 => format!("{what} is not UTF-8"),
            ErrorKind::WrongLength { found, expected } => format!("{what} is {found} bytes, not {expected}"),
            ErrorKind::UnknownVariant { index, count } => format!("{what} {index} does not exist (there are {count})"),
            ErrorKind::TooDeep { limit } => format!("{what} nests deeper than {limit}"),
            ErrorKind::OverBudget { needed, left } => {
                format!("{what} needs {needed} bytes of memory, more than the {left} left in the budget")
            }
            ErrorKind::TrailingBytes { count } => format!("{count} bytes after {what}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset {:#x})", self.message(), self.0.offset)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {self}", self.0.kind)
    }
}

impl std::error::Error for Error {}

/// The reader's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A bounds-checked reader over a borrowed slice that starts at `base` in the whole input.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes[0]` in the whole input.
    base: usize,
    /// Bytes of memory the caller may still charge.
    budget: usize,
}

impl<'a> Reader<'a> {
    /// A reader over all of `bytes`, with no memory budget.
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0, base: 0, budget: usize::MAX }
    }

    /// A reader over `bytes`, which start at `base` in the whole input: errors give offsets there.
    #[inline]
    pub fn with_base(bytes: &'a [u8], base: usize) -> Reader<'a> {
        Reader { bytes, pos: 0, base, budget: usize::MAX }
    }

    /// The same reader with `bytes` of memory to [`charge`](Reader::charge).
    #[inline]
    pub fn with_budget(mut self, bytes: usize) -> Reader<'a> {
        self.budget = bytes;
        self
    }

    /// Offset of the next byte in the whole input.
    #[inline]
    pub fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    /// Position of the next byte in this reader's slice (for [`since`](Reader::since) and
    /// [`at`](Reader::at)).
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// Whether every byte has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The bytes not read yet.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// The bytes read since `position` (an earlier [`position`](Reader::position)).
    #[inline]
    pub fn since(&self, position: usize) -> &'a [u8] {
        self.bytes.get(position..self.pos).unwrap_or_default()
    }

    /// A copy of this reader moved to `position` of the same slice (same base and budget).
    #[inline]
    pub fn at(&self, position: usize) -> Reader<'a> {
        Reader { pos: position.min(self.bytes.len()), ..self.clone() }
    }

    /// Memory left in the budget.
    #[inline]
    pub fn budget_left(&self) -> usize {
        self.budget
    }

    /// An error of `kind` at the next byte.
    #[cold]
    pub fn fail(&self, kind: ErrorKind, what: &'static str) -> Error {
        Error::new(kind, self.offset(), what)
    }

    /// An error of `kind` at `position` of this reader's slice (where a value started).
    #[cold]
    pub fn fail_at(&self, position: usize, kind: ErrorKind, what: &'static str) -> Error {
        Error::new(kind, self.base.saturating_add(position), what)
    }

    #[cold]
    #[inline(never)]
    fn end(&self, needed: usize, what: &'static str) -> Error {
        self.fail(ErrorKind::UnexpectedEnd { needed, remaining: self.remaining() }, what)
    }

    /// Takes `bytes` of memory from the budget, before the caller allocates them; over budget,
    /// the error is at the next byte.
    #[inline]
    pub fn charge(&mut self, bytes: usize, what: &'static str) -> Result<()> {
        self.charge_for(self.pos, bytes, what)
    }

    /// [`charge`](Reader::charge), with the error at `position` (where the value that needs the
    /// memory starts, such as a vector's length).
    #[inline]
    pub fn charge_for(&mut self, position: usize, bytes: usize, what: &'static str) -> Result<()> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(self.fail_at(position, ErrorKind::OverBudget { needed: bytes, left: self.budget }, what)),
        }
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        match self.bytes.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.end(1, what)),
        }
    }

    /// The next `len` bytes.
    #[inline]
    pub fn bytes(&mut self, len: usize, what: &'static str) -> Result<&'a [u8]> {
        match self.pos.checked_add(len).and_then(|end| self.bytes.get(self.pos..end)) {
            Some(out) => {
                self.pos += len;
                Ok(out)
            }
            None => Err(self.end(len, what)),
        }
    }

    /// Passes over `len` bytes.
    #[inline]
    pub fn skip(&mut self, len: usize, what: &'static str) -> Result<()> {
        match self.pos.checked_add(len).filter(|&end| end <= self.bytes.len()) {
            Some(end) => {
                self.pos = end;
                Ok(())
            }
            None => Err(self.end(len, what)),
        }
    }

    /// The next `N` bytes, as an array.
    #[inline]
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        match self.bytes.get(self.pos..).and_then(|rest| rest.first_chunk::<N>()) {
            Some(out) => {
                self.pos += N;
                Ok(*out)
            }
            None => Err(self.end(N, what)),
        }
    }

    /// A little-endian `u16`.
    #[inline]
    pub fn u16(&mut self, what: &'static str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u32`.
    #[inline]
    pub fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u64`.
    #[inline]
    pub fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A little-endian `u128`.
    #[inline]
    pub fn u128(&mut self, what: &'static str) -> Result<u128> {
        Ok(u128::from_le_bytes(self.array(what)?))
    }

    /// A `u256`, as its 32 little-endian bytes.
    #[inline]
    pub fn u256(&mut self, what: &'static str) -> Result<[u8; 32]> {
        self.array(what)
    }

    /// A big-endian `u32` (record framing, not BCS).
    #[inline]
    pub fn u32_be(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A bool: the byte 0 or 1. (A BCS `Option` tag is read the same way.)
    #[inline]
    pub fn bool(&mut self, what: &'static str) -> Result<bool> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.fail_at(self.pos - 1, ErrorKind::InvalidBool(b), what)),
        }
    }

    /// `n` bools, each checked to be 0 or 1, as their bytes.
    #[inline]
    pub fn bools(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let start = self.pos;
        let bytes = self.bytes(n, what)?;
        match bytes.iter().position(|&b| b > 1) {
            None => Ok(bytes),
            Some(i) => {
                let b = bytes.get(i).copied().unwrap_or_default();
                Err(self.fail_at(start + i, ErrorKind::InvalidBool(b), what))
            }
        }
    }

    /// An address of `width` bytes, big-endian, as a number.
    #[inline]
    pub fn address(&mut self, width: AddressLength, what: &'static str) -> Result<Address> {
        let bytes = self.bytes(width.bytes(), what)?;
        // A width is at most 32 bytes: the fallback is never taken.
        Ok(Address::from_be_slice(bytes).unwrap_or(Address::ZERO))
    }

    /// A canonical ULEB128 no larger than `max`. Overlong encodings (a trailing zero group) are
    /// refused, since accepting them would let two byte strings decode to one value; so are
    /// values over `max`, and the encoding is abandoned as soon as it can only be too large, so
    /// no ULEB128 takes more bytes than `max` needs.
    #[inline]
    pub fn uleb(&mut self, max: u64, what: &'static str) -> Result<u64> {
        // Fast path: one byte.
        if let Some(&b) = self.bytes.get(self.pos) {
            if b < 0x80 && u64::from(b) <= max {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.uleb_slow(max, what, |value, max| ErrorKind::TooLarge { value, max })
    }

    #[inline(never)]
    fn uleb_slow(&mut self, max: u64, what: &'static str, over: fn(Option<u64>, u64) -> ErrorKind) -> Result<u64> {
        let start = self.pos;
        // A continuation past this shift promises a value of at least 2^shift, more than `max`.
        let bits = u64::BITS - max.leading_zeros();
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = self.u8(what)?;
            let digit = u64::from(byte & 0x7f);
            let shifted = digit << shift;
            if shifted >> shift != digit {
                return Err(self.fail_at(start, over(None, max), what));
            }
            value |= shifted;
            if byte & 0x80 == 0 {
                if shift > 0 && digit == 0 {
                    return Err(self.fail_at(start, ErrorKind::NonCanonical, what));
                }
                if value > max {
                    return Err(self.fail_at(start, over(Some(value), max), what));
                }
                return Ok(value);
            }
            shift += 7;
            if shift >= bits {
                return Err(self.fail_at(start, over(None, max), what));
            }
        }
    }

    /// A BCS ULEB128: a length or a variant index, at most `u32::MAX`.
    #[inline]
    pub fn uleb32(&mut self, what: &'static str) -> Result<u32> {
        // The max keeps the cast exact.
        Ok(self.uleb(u64::from(u32::MAX), what)? as u32)
    }

    /// A BCS enum's variant index, checked against the `count` variants it has.
    #[inline]
    pub fn variant(&mut self, count: usize, what: &'static str) -> Result<usize> {
        let start = self.pos;
        let index = self.uleb32(what)? as usize;
        if index < count {
            Ok(index)
        } else {
            Err(self.fail_at(start, ErrorKind::UnknownVariant { index: index as u64, count: count as u64 }, what))
        }
    }

    /// A BCS enum's variant index and the variant it names among `variants`.
    #[inline]
    pub fn variant_in<'v, T>(&mut self, variants: &'v [T], what: &'static str) -> Result<(u32, &'v T)> {
        let start = self.pos;
        let index = self.uleb32(what)?;
        match variants.get(index as usize) {
            Some(variant) => Ok((index, variant)),
            None => {
                let kind = ErrorKind::UnknownVariant { index: u64::from(index), count: variants.len() as u64 };
                Err(self.fail_at(start, kind, what))
            }
        }
    }

    /// A ULEB128 count, checked against `limit` and against the bytes left, assuming each
    /// element takes at least `min_size` bytes (0: no such check, for elements that may be
    /// empty). Call it before allocating for the elements; [`list`](Reader::list) does.
    #[inline]
    pub fn count(&mut self, limit: u64, min_size: usize, what: &'static str) -> Result<usize> {
        let start = self.pos;
        let n = match self.bytes.get(self.pos) {
            Some(&b) if b < 0x80 && u64::from(b) <= limit => {
                self.pos += 1;
                u64::from(b)
            }
            _ => self.uleb_slow(limit, what, |value, limit| ErrorKind::OverLimit { value, limit })?,
        };
        let remaining = self.remaining();
        match usize::try_from(n).ok().filter(|&n| n.saturating_mul(min_size) <= remaining) {
            Some(n) => Ok(n),
            None => Err(self.fail_at(start, ErrorKind::CountTooLarge { count: n, min_size, remaining }, what)),
        }
    }

    /// A length-prefixed byte string of at most `limit` bytes.
    #[inline]
    pub fn prefixed(&mut self, limit: u64, what: &'static str) -> Result<&'a [u8]> {
        let len = self.count(limit, 1, what)?;
        self.bytes(len, what)
    }

    /// A length-prefixed byte string whose length must be `N` (a hash, a checksum).
    pub fn prefixed_array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let start = self.pos;
        let len = self.uleb32(what)?;
        if len as usize != N {
            return Err(self.fail_at(
                start,
                ErrorKind::WrongLength { found: u64::from(len), expected: N as u64 },
                what,
            ));
        }
        self.array(what)
    }

    /// A length-prefixed UTF-8 string of at most `limit` bytes.
    pub fn string(&mut self, limit: u64, what: &'static str) -> Result<&'a str> {
        let start = self.pos;
        let bytes = self.prefixed(limit, what)?;
        std::str::from_utf8(bytes).map_err(|_| self.fail_at(start, ErrorKind::NotUtf8, what))
    }

    /// A counted list: a ULEB128 count (checked as [`count`](Reader::count) does, and its
    /// elements' memory, `count * size_of::<T>()`, charged to the budget), then `item` once per
    /// element. The one place count-then-loop is written.
    #[inline]
    pub fn list<T, E: From<Error>>(
        &mut self,
        limit: u64,
        min_size: usize,
        what: &'static str,
        mut item: impl FnMut(&mut Self) -> Result<T, E>,
    ) -> Result<Vec<T>, E> {
        let start = self.pos;
        let n = self.count(limit, min_size, what)?;
        self.charge_for(start, n.saturating_mul(std::mem::size_of::<T>()), what)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// Checks every byte has been read: bytes after `what` are an error.
    #[inline]
    pub fn finish(&self, what: &'static str) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(self.fail(ErrorKind::TrailingBytes { count }, what)),
        }
    }

    /// A BCS sequence length: at most [`limits::MAX_SEQUENCE_LENGTH`], and no more elements of
    /// at least `min_size` bytes than the bytes left hold.
    #[inline]
    pub fn sequence(&mut self, min_size: usize, what: &'static str) -> Result<usize> {
        self.count(limits::MAX_SEQUENCE_LENGTH, min_size, what)
    }
}

/// Appends `value` as ULEB128 (the canonical encoding [`Reader::uleb`] reads).
#[inline]
pub fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// How many bytes [`write_uleb`] writes for `value`: what lets a writer put a length before
/// a value it then encodes in place, instead of encoding it apart and copying it.
#[inline]
pub fn uleb_len(value: u64) -> usize {
    let bits = (u64::BITS - value.leading_zeros()).max(1);
    bits.div_ceil(7) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uleb_len_is_what_write_uleb_writes() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX >> 1, u64::MAX] {
            let mut out = Vec::new();
            write_uleb(&mut out, v);
            assert_eq!(uleb_len(v), out.len(), "{v}");
        }
    }

    fn uleb(bytes: &[u8], max: u64) -> Result<u64> {
        Reader::new(bytes).uleb(max, "value")
    }

    #[test]
    fn uleb_round_trips_edge_values() {
        for v in [0, 1, 127, 128, 255, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_uleb(&mut out, v);
            let mut r = Reader::new(&out);
            assert_eq!(r.uleb(u64::MAX, "value").unwrap(), v, "{v}");
            assert!(r.is_empty());
        }
    }

    #[test]
    fn uleb_rejects_overlong_overflowing_and_unterminated() {
        let kind = |bytes: &[u8], max| uleb(bytes, max).unwrap_err().kind();
        assert_eq!(kind(&[0x80, 0x00], u64::MAX), ErrorKind::NonCanonical);
        assert_eq!(kind(&[0xff; 10], u64::MAX), ErrorKind::TooLarge { value: None, max: u64::MAX });
        let past_64_bits = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(kind(&past_64_bits, u64::MAX), ErrorKind::TooLarge { value: None, max: u64::MAX });
        assert_eq!(kind(&[0x80], u64::MAX), ErrorKind::UnexpectedEnd { needed: 1, remaining: 0 });
        // BCS's 32 bits: 2^32 is read to its end, a sixth group is refused without reading it.
        let max = u64::from(u32::MAX);
        assert_eq!(kind(&[0x80, 0x80, 0x80, 0x80, 0x10], max), ErrorKind::TooLarge { value: Some(1 << 32), max });
        assert_eq!(kind(&[0x80, 0x80, 0x80, 0x80, 0x80], max), ErrorKind::TooLarge { value: None, max });
        assert_eq!(uleb(&[0xff, 0xff, 0xff, 0xff, 0x0f], max).unwrap(), max);
    }

    #[test]
    fn errors_point_into_the_whole_input() {
        let err = Reader::with_base(&[0x80, 0x80, 0x04], 10).uleb(u64::from(u16::MAX), "struct index").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge { value: Some(65_536), max: 65_535 });
        assert_eq!(err.offset(), 10);
        assert_eq!(err.to_string(), "struct index is 65536, more than the maximum 65535 (at offset 0xa)");
        let mut r = Reader::with_base(&[1, 2, 3], 0x20);
        r.u8("a").unwrap();
        let err = r.u32("a u32").unwrap_err();
        assert_eq!(err.to_string(), "a u32: 4 bytes needed, 2 left (at offset 0x21)");
    }

    #[test]
    fn counts_are_checked_against_the_limit_and_the_bytes_left_before_allocation() {
        let err = Reader::new(&[0xff, 0xff, 0x03, 1, 2]).count(u64::MAX, 1, "fields").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CountTooLarge { count: 65_535, min_size: 1, remaining: 2 });
        assert_eq!(err.offset(), 0);
        let err = Reader::new(&[0x05]).count(4, 1, "fields").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OverLimit { value: Some(5), limit: 4 });
        let err = Reader::new(&[0x03, 0, 0, 0, 0, 0]).count(10, 2, "pairs").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CountTooLarge { count: 3, min_size: 2, remaining: 5 });
        assert_eq!(Reader::new(&[0x03]).count(10, 0, "maybe empty").unwrap(), 3);
        // A count of 2^31 elements in a 6-byte input: refused at its fifth byte, nothing read after.
        let err = Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x08, 0]).sequence(1, "vector length").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OverLimit { value: Some(1 << 31), limit: limits::MAX_SEQUENCE_LENGTH });
    }

    #[test]
    fn lists_read_each_element_and_charge_their_memory_first() {
        let bytes = [3, 1, 0, 1];
        let mut r = Reader::new(&bytes);
        let flags: Vec<bool> = r.list(8, 1, "flags", |r| r.bool("flag")).unwrap();
        assert_eq!(flags, [true, false, true]);
        r.finish("flags").unwrap();
        let err = Reader::new(&bytes).with_budget(2).list(8, 1, "flags", |r| r.bool("flag")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OverBudget { needed: 3, left: 2 });
        assert_eq!(err.offset(), 0, "refused at the count, before any element is read");
        let err = Reader::new(&[2, 1, 2]).list(8, 1, "flags", |r| r.bool("flag")).unwrap_err();
        assert_eq!((err.kind(), err.offset()), (ErrorKind::InvalidBool(2), 2));
    }

    #[test]
    fn strings_arrays_and_trailing_bytes() {
        let mut r = Reader::new(b"\x02hi\x03abc\x01");
        assert_eq!(r.string(8, "name").unwrap(), "hi");
        let err = r.clone().prefixed_array::<2>("hash").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WrongLength { found: 3, expected: 2 });
        assert_eq!(&r.prefixed_array::<3>("hash").unwrap(), b"abc");
        let err = r.finish("the record").unwrap_err();
        assert_eq!(err.to_string(), "1 bytes after the record (at offset 0x7)");
        let err = Reader::new(b"\x02\xff\xfe").string(8, "name").unwrap_err();
        assert_eq!((err.kind(), err.offset()), (ErrorKind::NotUtf8, 0));
        let err = Reader::new(b"\x09abc").string(8, "name").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OverLimit { value: Some(9), limit: 8 });
    }

    #[test]
    fn bools_variants_and_spans() {
        let mut r = Reader::new(&[1, 0, 1, 2, 5]);
        let start = r.position();
        assert_eq!(r.bools(3, "flags").unwrap(), [1, 0, 1]);
        assert_eq!(r.since(start), [1, 0, 1]);
        let err = r.at(0).bools(4, "flags").unwrap_err();
        assert_eq!((err.kind(), err.offset()), (ErrorKind::InvalidBool(2), 3));
        let err = r.at(4).variant(3, "variant").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownVariant { index: 5, count: 3 });
        assert_eq!(r.at(4).variant(6, "variant").unwrap(), 5);
    }

    #[test]
    fn errors_are_one_word() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert_eq!(std::mem::size_of::<Result<u64>>(), 2 * std::mem::size_of::<usize>());
    }
}
