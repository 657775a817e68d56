//! Account addresses of any length the format is built with, and how to tell that length.

use serde::{Serialize, Serializer};
use std::fmt;

/// The byte length of addresses in a module. The header does not record it: it is fixed when the
/// compiler and VM are built (16 on Diem and 0L's Diem-based releases, 20 in some Move builds, 32
/// on Aptos, Sui and 0L's newer framework).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
pub enum AddressLength {
    Bytes16 = 16,
    Bytes20 = 20,
    #[default]
    Bytes32 = 32,
}

impl AddressLength {
    pub const ALL: [AddressLength; 3] = [Self::Bytes16, Self::Bytes20, Self::Bytes32];

    pub fn bytes(self) -> usize {
        self as usize
    }

    pub fn from_bytes(n: usize) -> Option<AddressLength> {
        Self::ALL.into_iter().find(|l| l.bytes() == n)
    }
}

impl fmt::Display for AddressLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.bytes())
    }
}

/// An address as a number: stored right-aligned in 32 bytes, so that `0x1` read from a 16-byte
/// module equals `0x1` read from a 32-byte one. That is what lets releases built with different
/// lengths be compared.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address([u8; 32]);

impl Address {
    pub const ZERO: Address = Address([0; 32]);

    /// The address with this number (`Address::from_u64(1)` is `0x1`).
    pub fn from_u64(n: u64) -> Address {
        let mut bytes = [0u8; 32];
        bytes[24..].copy_from_slice(&n.to_be_bytes());
        Address(bytes)
    }

    /// From big-endian bytes of any length up to 32.
    pub fn from_be_slice(bytes: &[u8]) -> Option<Address> {
        let start = 32usize.checked_sub(bytes.len())?;
        let mut out = [0u8; 32];
        out.get_mut(start..)?.copy_from_slice(bytes);
        Some(Address(out))
    }

    pub fn as_bytes32(&self) -> &[u8; 32] {
        &self.0
    }

    /// The `len` big-endian bytes of this address, or `None` if its value needs more bytes.
    pub fn to_be_bytes(&self, len: AddressLength) -> Option<&[u8]> {
        let start = 32 - len.bytes();
        let (high, low) = self.0.split_at(start);
        high.iter().all(|&b| b == 0).then_some(low)
    }

    /// Fewest bytes this address fits in.
    pub fn significant_bytes(&self) -> usize {
        32 - self.0.iter().take_while(|&&b| b == 0).count()
    }

    /// Parses `0x1`, `0x00000001`, or `1` (hexadecimal digits, at most 64).
    pub fn parse_hex(s: &str) -> Option<Address> {
        let digits = s.strip_prefix("0x").unwrap_or(s);
        if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 32];
        // Walk digits from the least significant end.
        for (i, d) in digits.bytes().rev().enumerate() {
            let v = (d as char).to_digit(16)? as u8;
            let byte = out.get_mut(31 - i / 2)?;
            *byte |= if i % 2 == 0 { v } else { v << 4 };
        }
        Some(Address(out))
    }
}

impl fmt::Display for Address {
    /// Shortest hexadecimal form: `0x1`, `0xa550c18`, `0x0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        let mut started = false;
        for &b in &self.0 {
            if started {
                write!(f, "{b:02x}")?;
            } else if b != 0 {
                write!(f, "{b:x}")?;
                started = true;
            }
        }
        if !started {
            f.write_str("0")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_hex() {
        assert_eq!(Address::from_u64(1).to_string(), "0x1");
        assert_eq!(Address::from_u64(0xa550c18).to_string(), "0xa550c18");
        assert_eq!(Address::ZERO.to_string(), "0x0");
        assert_eq!(Address::from_u64(0x100).to_string(), "0x100");
    }

    #[test]
    fn parse_and_lengths() {
        let a = Address::parse_hex("0xA550C18").unwrap();
        assert_eq!(a, Address::from_u64(0xa550c18));
        assert_eq!(Address::parse_hex(&format!("0x{}", "f".repeat(64))).unwrap().significant_bytes(), 32);
        assert!(Address::parse_hex(&"1".repeat(65)).is_none());
        assert!(Address::parse_hex("0x").is_none());
        assert!(Address::parse_hex("0xg").is_none());
        let big = Address::parse_hex(&format!("0x1{}", "0".repeat(32))).unwrap();
        assert!(big.to_be_bytes(AddressLength::Bytes16).is_none());
        assert_eq!(big.to_be_bytes(AddressLength::Bytes20).map(<[u8]>::len), Some(20));
        assert_eq!(Address::from_be_slice(&[0, 0, 1]), Some(Address::from_u64(1)));
    }
}
