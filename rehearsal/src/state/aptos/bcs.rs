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

/// Reads BCS values from the front of a slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0 }
    }

    /// Where the next byte is.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The bytes from `start` to here (a value's span, to hash it as it was written).
    pub fn since(&self, start: usize) -> &'a [u8] {
        self.bytes.get(start..self.pos).unwrap_or_default()
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    /// Moves past `n` bytes read by someone else (a struct tag's reader).
    pub fn skip(&mut self, n: usize, what: &str) -> Result<(), BcsError> {
        self.take(n, what).map(|_| ())
    }

    #[cold]
    pub fn fail(&self, reason: impl Into<String>) -> BcsError {
        BcsError { offset: self.pos, reason: reason.into() }
    }

    pub fn byte(&mut self, what: &str) -> Result<u8, BcsError> {
        let b = self.bytes.get(self.pos).copied().ok_or_else(|| self.fail(format!("the input ends before {what}")))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], BcsError> {
        let bytes: &'a [u8] = self.bytes;
        let out = self.pos.checked_add(n).and_then(|end| bytes.get(self.pos..end)).ok_or_else(|| {
            self.fail(format!("{what} of {n} bytes runs past the end ({} bytes left)", self.remaining()))
        })?;
        self.pos += n;
        Ok(out)
    }

    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], BcsError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, BcsError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &str) -> Result<u64, BcsError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A canonical ULEB128 of at most 32 bits (BCS lengths and variant indexes), no larger than
    /// `max`.
    pub fn uleb(&mut self, max: u64, what: &str) -> Result<u64, BcsError> {
        let start = self.pos;
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = self.byte(what)?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if b == 0 && shift > 0 {
                    return Err(BcsError { offset: start, reason: format!("{what}: a ULEB128 that is not canonical") });
                }
                if value > u64::from(u32::MAX) {
                    return Err(BcsError { offset: start, reason: format!("{what}: {value} does not fit in 32 bits") });
                }
                if value > max {
                    return Err(BcsError {
                        offset: start,
                        reason: format!("{what} is {value}, more than the limit {max}"),
                    });
                }
                return Ok(value);
            }
        }
        Err(BcsError { offset: start, reason: format!("{what}: a ULEB128 longer than 5 bytes") })
    }

    /// An enum's variant index, at most `max`.
    pub fn variant(&mut self, max: u64, what: &str) -> Result<u64, BcsError> {
        let at = self.pos;
        let v = self.uleb(u64::from(u32::MAX), what)?;
        if v > max {
            return Err(BcsError { offset: at, reason: format!("{what}: variant {v} does not exist") });
        }
        Ok(v)
    }

    /// A length-prefixed byte string of at most `limit` bytes.
    pub fn bytes(&mut self, limit: u64, what: &str) -> Result<&'a [u8], BcsError> {
        let at = self.pos;
        let len = self.uleb(limit, what)?;
        let len = usize::try_from(len).map_err(|_| BcsError { offset: at, reason: format!("{what}: too long") })?;
        self.take(len, what)
    }

    /// A count of elements taking at least `min_size` bytes each, at most `limit`, checked
    /// against the bytes left before the caller allocates for them.
    pub fn count(&mut self, limit: u64, min_size: usize, what: &str) -> Result<usize, BcsError> {
        let at = self.pos;
        let n = usize::try_from(self.uleb(limit, what)?)
            .map_err(|_| BcsError { offset: at, reason: format!("{what}: too many") })?;
        if n.saturating_mul(min_size.max(1)) > self.remaining() {
            return Err(BcsError {
                offset: at,
                reason: format!("{what} is {n}, more than the {} bytes left can hold", self.remaining()),
            });
        }
        Ok(n)
    }

    /// An `Option`'s tag: whether a value follows.
    pub fn option(&mut self, what: &str) -> Result<bool, BcsError> {
        match self.byte(what)? {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(BcsError { offset: self.pos - 1, reason: format!("{what}: an option tag of {t}, not 0 or 1") }),
        }
    }

    /// A `HashValue`: a byte string that must be 32 bytes.
    pub fn hash_value(&mut self, what: &str) -> Result<[u8; 32], BcsError> {
        let at = self.pos;
        let len = self.uleb(u64::from(u32::MAX), what)?;
        if len != 32 {
            return Err(BcsError { offset: at, reason: format!("{what} is {len} bytes, a hash is 32") });
        }
        self.array(what)
    }

    /// A string (UTF-8) of at most `limit` bytes.
    pub fn string(&mut self, limit: u64, what: &str) -> Result<&'a str, BcsError> {
        let at = self.pos;
        let bytes = self.bytes(limit, what)?;
        std::str::from_utf8(bytes).map_err(|_| BcsError { offset: at, reason: format!("{what} is not UTF-8") })
    }

    /// Nothing may follow.
    pub fn finish(&self, what: &str) -> Result<(), BcsError> {
        if self.remaining() > 0 {
            return Err(self.fail(format!("{} bytes after {what}", self.remaining())));
        }
        Ok(())
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
        assert!(e.reason.contains("more than the 2 bytes left"), "{e}");
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
