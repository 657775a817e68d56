//! A bounds-checked reader over a borrowed slice.
//!
//! A `Cursor` keeps the absolute offset of its slice in the whole file, so that a cursor over one
//! table still reports errors at file offsets.

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes[0]` in the whole file.
    base: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0, base: 0 }
    }

    /// A cursor over `bytes`, which start at `base` in the file.
    pub fn with_base(bytes: &'a [u8], base: usize) -> Self {
        Cursor { bytes, pos: 0, base }
    }

    /// Absolute offset of the next byte.
    #[inline]
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    #[cold]
    pub fn error(&self, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::at(kind, self.offset(), message)
    }

    #[cold]
    fn eof(&self, what: &str) -> Error {
        self.error(ErrorKind::UnexpectedEof, format!("unexpected end of input reading {what}"))
    }

    #[inline]
    pub fn u8(&mut self, what: &str) -> Result<u8> {
        match self.bytes.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.eof(what)),
        }
    }

    #[inline]
    pub fn bytes(&mut self, len: usize, what: &str) -> Result<&'a [u8]> {
        let out = self.pos.checked_add(len).and_then(|end| self.bytes.get(self.pos..end));
        match out {
            Some(out) => {
                self.pos += len;
                Ok(out)
            }
            None => Err(self.eof(what)),
        }
    }

    #[inline]
    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let bytes = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u32_le(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// Reads a ULEB128 value no larger than `max`.
    ///
    /// Rejects encodings that are overlong (a trailing zero group), that do not fit in 64 bits,
    /// or whose value exceeds `max`: the reference writers never produce them, and accepting them
    /// would let two byte strings decode to the same module.
    #[inline]
    pub fn uleb(&mut self, max: u64, what: &str) -> Result<u64> {
        let start = self.offset();
        // Fast path: one byte.
        if let Some(&b) = self.bytes.get(self.pos) {
            if b < 0x80 {
                let value = u64::from(b);
                if value > max {
                    return Err(Error::at(
                        ErrorKind::BadLeb128,
                        start,
                        format!("{what} is {value}, more than the maximum {max}"),
                    ));
                }
                self.pos += 1;
                return Ok(value);
            }
        }
        self.uleb_slow(max, what, start)
    }

    #[inline(never)]
    fn uleb_slow(&mut self, max: u64, what: &str, start: usize) -> Result<u64> {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = self.u8(what)?;
            let digit = u64::from(byte & 0x7f);
            if shift == 63 && digit > 1 {
                return Err(Error::at(ErrorKind::BadLeb128, start, format!("{what} overflows 64 bits")));
            }
            value |= digit << shift;
            if byte & 0x80 == 0 {
                if shift > 0 && digit == 0 {
                    return Err(Error::at(
                        ErrorKind::BadLeb128,
                        start,
                        format!("{what} has an overlong ULEB128 encoding"),
                    ));
                }
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(Error::at(ErrorKind::BadLeb128, start, format!("{what} overflows 64 bits")));
            }
        }
        if value > max {
            return Err(Error::at(
                ErrorKind::BadLeb128,
                start,
                format!("{what} is {value}, more than the maximum {max}"),
            ));
        }
        Ok(value)
    }

    /// Reads a ULEB128 count and checks it against `limit` and against the bytes left, assuming
    /// each element takes at least `min_elem_size` bytes. Call before allocating for the elements.
    pub fn count(&mut self, limit: u64, min_elem_size: usize, what: &str) -> Result<usize> {
        let start = self.offset();
        let n = self.uleb(u64::MAX, what)?;
        if n > limit {
            return Err(Error::at(
                ErrorKind::LimitExceeded,
                start,
                format!("{what} is {n}, more than the limit {limit}"),
            ));
        }
        // `n <= limit` keeps the product small.
        let need = (n as usize).saturating_mul(min_elem_size.max(1));
        if min_elem_size > 0 && need > self.remaining() {
            return Err(Error::at(
                ErrorKind::UnexpectedEof,
                start,
                format!("{what} is {n}, but only {} bytes remain", self.remaining()),
            ));
        }
        Ok(n as usize)
    }

    /// Reads a ULEB128 table index (a u16).
    #[inline]
    pub fn index(&mut self, what: &str) -> Result<u16> {
        // The max keeps the cast exact.
        Ok(self.uleb(u64::from(u16::MAX), what)? as u16)
    }

    /// A length-prefixed byte string.
    pub fn blob(&mut self, limit: u64, what: &str) -> Result<&'a [u8]> {
        let len = self.count(limit, 1, what)?;
        self.bytes(len, what)
    }
}

/// Appends `value` as ULEB128.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn uleb(bytes: &[u8]) -> Result<u64> {
        Cursor::new(bytes).uleb(u64::MAX, "value")
    }

    #[test]
    fn uleb_round_trips_edge_values() {
        for v in [0, 1, 127, 128, 255, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            write_uleb(&mut out, v);
            assert_eq!(uleb(&out).unwrap(), v, "{v}");
        }
    }

    #[test]
    fn uleb_rejects_overlong_overflowing_and_unterminated() {
        assert_eq!(uleb(&[0x80, 0x00]).unwrap_err().kind(), ErrorKind::BadLeb128);
        assert_eq!(uleb(&[0xff; 10]).unwrap_err().kind(), ErrorKind::BadLeb128);
        assert_eq!(
            uleb(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).unwrap_err().kind(),
            ErrorKind::BadLeb128
        );
        assert_eq!(uleb(&[0x80]).unwrap_err().kind(), ErrorKind::UnexpectedEof);
    }

    #[test]
    fn uleb_rejects_values_over_the_field_maximum() {
        let err = Cursor::with_base(&[0x80, 0x80, 0x04], 10).index("struct index").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BadLeb128);
        assert_eq!(err.offset(), Some(10));
    }

    #[test]
    fn count_is_checked_against_remaining_bytes_before_allocation() {
        let err = Cursor::new(&[0xff, 0xff, 0x03, 1, 2]).count(u64::MAX, 1, "fields").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        let err = Cursor::new(&[0x05]).count(4, 1, "fields").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    }
}
