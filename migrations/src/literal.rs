//! Declared default values: a Move-style literal, encoded as BCS bytes of the new field's layout.
//!
//! Supported: `true`/`false`; unsigned integers in decimal or `0x` hex (range-checked against
//! the field's width); addresses (`0x1`); byte vectors as `x"0a0b"` or `b"text"`; and the empty
//! vector `vector[]` of any element type. Anything else is refused: a default that needs more is a
//! hand-written transform.

use crate::layout::Layout;
use crate::value::write_uleb128;

fn parse_uint(s: &str) -> Option<u128> {
    match s.strip_prefix("0x") {
        Some(hex) => u128::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

/// The BCS bytes of `literal` as a value of `layout`.
pub fn encode_literal(literal: &str, layout: &Layout) -> Result<Vec<u8>, String> {
    let lit = literal.trim();
    let int = |bytes: usize| -> Result<Vec<u8>, String> {
        let v = parse_uint(lit).ok_or_else(|| format!("`{lit}` is not an unsigned integer"))?;
        let max = if bytes >= 16 { u128::MAX } else { (1u128 << (8 * bytes)) - 1 };
        if v > max {
            return Err(format!("{v} does not fit in {} bits", 8 * bytes));
        }
        let mut out = v.to_le_bytes().to_vec();
        out.resize(bytes, 0);
        Ok(out)
    };
    match layout {
        Layout::Bool => match lit {
            "true" => Ok(vec![1]),
            "false" => Ok(vec![0]),
            _ => Err(format!("`{lit}` is not a bool")),
        },
        Layout::U8 => int(1),
        Layout::U16 => int(2),
        Layout::U32 => int(4),
        Layout::U64 => int(8),
        Layout::U128 => int(16),
        Layout::U256 => int(32),
        Layout::Address(len) | Layout::Signer(len) => {
            let a = binary_format::Address::parse_hex(lit)
                .filter(|_| lit.starts_with("0x"))
                .ok_or_else(|| format!("`{lit}` is not an address"))?;
            a.to_be_bytes(*len).map(<[u8]>::to_vec).ok_or_else(|| format!("{a} does not fit in {len} bytes"))
        }
        Layout::Vector(elem) => {
            let bytes = if lit == "vector[]" {
                Vec::new()
            } else if **elem == Layout::U8 {
                if let Some(hex) = lit.strip_prefix("x\"").and_then(|r| r.strip_suffix('"')) {
                    hex_bytes(hex).ok_or_else(|| format!("`{lit}` is not hex"))?
                } else if let Some(text) = lit.strip_prefix("b\"").and_then(|r| r.strip_suffix('"')) {
                    text.as_bytes().to_vec()
                } else {
                    return Err(format!("`{lit}` is not a byte vector (x\"..\", b\"..\" or vector[])"));
                }
            } else {
                return Err(format!("only `vector[]` is supported for {layout}"));
            };
            let len = u32::try_from(bytes.len()).map_err(|_| "vector too long".to_owned())?;
            let mut out = Vec::with_capacity(bytes.len() + 5);
            write_uleb128(&mut out, len);
            out.extend(bytes);
            Ok(out)
        }
        Layout::Struct(_) | Layout::Enum(_) => Err(format!("no literal for {layout}: use a hand-written transform")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(encode_literal("0", &Layout::U64).unwrap(), vec![0; 8]);
        assert_eq!(encode_literal("0x0102", &Layout::U16).unwrap(), vec![2, 1]);
        assert!(encode_literal("256", &Layout::U8).is_err());
        assert_eq!(encode_literal("true", &Layout::Bool).unwrap(), vec![1]);
        assert_eq!(encode_literal("b\"ab\"", &Layout::Vector(Box::new(Layout::U8))).unwrap(), vec![2, b'a', b'b']);
        assert_eq!(encode_literal("vector[]", &Layout::Vector(Box::new(Layout::U64))).unwrap(), vec![0]);
        let addr = encode_literal("0x1", &Layout::Address(binary_format::AddressLength::Bytes16)).unwrap();
        assert_eq!(addr.len(), 16);
        assert_eq!(addr[15], 1);
        assert!(encode_literal("1", &Layout::Address(binary_format::AddressLength::Bytes16)).is_err());
    }
}
