//! Move's `u256`, as the bytes BCS stores it.
//!
//! Migrations only move `u256` values around or widen smaller integers into them; they do not
//! compute with them, so a byte array is all we need and no big-integer dependency is pulled in.

use std::fmt;

/// An unsigned 256-bit integer, held as its 32 little-endian bytes (its BCS encoding).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct U256([u8; 32]);

impl U256 {
    /// Zero.
    pub const ZERO: U256 = U256([0; 32]);
    /// `2^256 - 1`.
    pub const MAX: U256 = U256([0xff; 32]);

    /// The value whose little-endian bytes (its BCS encoding) are `bytes`. Every 32-byte array is
    /// a value: nothing to check.
    pub fn from_le_bytes(bytes: [u8; 32]) -> U256 {
        U256(bytes)
    }

    /// The 32 little-endian bytes: the value's BCS encoding.
    pub fn to_le_bytes(self) -> [u8; 32] {
        self.0
    }

    /// The 32 little-endian bytes, borrowed (what an encoder appends, without a copy).
    pub fn as_le_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The value, if it fits in a `u128`.
    pub fn to_u128(self) -> Option<u128> {
        let (low, high) = self.0.split_at(16);
        if high.iter().any(|&b| b != 0) {
            return None;
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(low);
        Some(u128::from_le_bytes(bytes))
    }
}

impl From<u128> for U256 {
    fn from(n: u128) -> U256 {
        let mut bytes = [0u8; 32];
        for (dst, src) in bytes.iter_mut().zip(n.to_le_bytes()) {
            *dst = src;
        }
        U256(bytes)
    }
}

impl From<u64> for U256 {
    fn from(n: u64) -> U256 {
        U256::from(u128::from(n))
    }
}

impl fmt::Debug for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U256({self})")
    }
}

impl fmt::Display for U256 {
    /// Decimal if the value fits in a `u128`, hexadecimal otherwise (`0x` and 64 digits).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_u128() {
            Some(n) => write!(f, "{n}"),
            None => {
                f.write_str("0x")?;
                self.0.iter().rev().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_and_narrowing() {
        assert_eq!(U256::from(u128::MAX).to_u128(), Some(u128::MAX));
        assert_eq!(U256::from(7u64).to_string(), "7");
        assert_eq!(U256::MAX.to_u128(), None);
        assert_eq!(U256::MAX.to_string(), format!("0x{}", "f".repeat(64)));
        assert_eq!(U256::from(1u64).as_le_bytes()[0], 1);
    }
}
