//! Money in stored values: the amount a balance holds, and every coin in a resource.
//!
//! The devnet's transfers and the runbook's conservation check both need to find coins in
//! values whose layout changes between releases (`Coin { value: u64 }` becomes `u128` in v2),
//! so they walk values with their layouts instead of assuming a shape.

use migrations::{Layout, Value};

/// The module and struct that hold money in the stdlib.
pub const COIN_MODULE: &str = "Coin";
const COIN_STRUCT: &str = "Coin";

/// The first integer in `value` (depth first): a balance's amount.
pub fn amount(value: &Value) -> Option<u128> {
    match value {
        Value::U8(n) => Some(u128::from(*n)),
        Value::U16(n) => Some(u128::from(*n)),
        Value::U32(n) => Some(u128::from(*n)),
        Value::U64(n) => Some(u128::from(*n)),
        Value::U128(n) => Some(*n),
        Value::Struct(fields) | Value::Variant { fields, .. } => fields.iter().find_map(amount),
        _ => None,
    }
}

/// Sets the first integer in `value` to `n`, keeping its width. False when there is none or
/// `n` does not fit.
pub fn set_amount(value: &mut Value, n: u128) -> bool {
    match value {
        Value::U8(v) => u8::try_from(n).map(|n| *v = n).is_ok(),
        Value::U16(v) => u16::try_from(n).map(|n| *v = n).is_ok(),
        Value::U32(v) => u32::try_from(n).map(|n| *v = n).is_ok(),
        Value::U64(v) => u64::try_from(n).map(|n| *v = n).is_ok(),
        Value::U128(v) => {
            *v = n;
            true
        }
        Value::Struct(fields) | Value::Variant { fields, .. } => {
            fields.iter_mut().find(|f| amount(f).is_some()).is_some_and(|f| set_amount(f, n))
        }
        _ => false,
    }
}

/// The sum of every `Coin::Coin` in `value` (of layout `layout`), wherever it sits.
pub fn coins_in(value: &Value, layout: &Layout) -> u128 {
    match (value, layout) {
        (Value::Struct(fields), Layout::Struct(s)) => {
            if s.module.name == COIN_MODULE && s.name == COIN_STRUCT {
                return amount(value).unwrap_or(0);
            }
            fields.iter().zip(&s.fields).map(|(v, f)| coins_in(v, &f.layout)).fold(0, u128::saturating_add)
        }
        (Value::Variant { index, fields }, Layout::Enum(e)) => e.variants.get(*index as usize).map_or(0, |variant| {
            fields.iter().zip(&variant.fields).map(|(v, f)| coins_in(v, &f.layout)).fold(0, u128::saturating_add)
        }),
        (Value::Vector(items), Layout::Vector(inner)) => {
            items.iter().map(|v| coins_in(v, inner)).fold(0, u128::saturating_add)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_found_and_set_at_their_width() {
        let mut v1 = Value::Struct(vec![Value::Struct(vec![Value::U64(5)])]);
        assert_eq!(amount(&v1), Some(5));
        assert!(set_amount(&mut v1, 9));
        assert_eq!(v1, Value::Struct(vec![Value::Struct(vec![Value::U64(9)])]));
        assert!(!set_amount(&mut v1, u128::from(u64::MAX) + 1), "does not fit a u64");
        let mut v2 = Value::Struct(vec![Value::Struct(vec![Value::U128(5)])]);
        assert!(set_amount(&mut v2, u128::from(u64::MAX) + 1));
        assert_eq!(amount(&Value::Struct(vec![Value::Bool(true)])), None);
    }
}
