//! The hand-written transforms this project's stdlib declares (`stdlib/migrations.toml`).

use migrations::handlers::{HandlerContext, Handlers};
use migrations::Value;

/// The handlers the stdlib's declarations name.
pub fn handlers() -> Handlers {
    let mut h = Handlers::new();
    h.register("stake_weight", stake_weight);
    h
}

/// Stake v3: `weight = locked.value + pending`; `pending` goes, `unlock_epoch` stays.
fn stake_weight(old: &Value, cx: &HandlerContext<'_>) -> Result<Value, String> {
    let locked = cx.old_field(old, "locked")?;
    let value =
        locked.fields().and_then(|f| f.first()).and_then(Value::as_u128).ok_or("`locked.value` is not an integer")?;
    let pending = cx.old_field(old, "pending")?.as_u64().ok_or("`pending` is not a u64")?;
    let weight = value.checked_add(u128::from(pending)).ok_or("`locked.value + pending` overflows u128")?;
    // Every other field of the new layout is carried over by name.
    let fields = cx
        .new
        .fields
        .iter()
        .map(|f| match f.name.as_str() {
            "weight" => Ok(Value::U128(weight)),
            name => cx.old_field(old, name).cloned(),
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Value::Struct(fields))
}
