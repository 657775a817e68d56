//! Peak memory of decoding a 64 MiB `vector<u8>` resource, measured by the kernel rather than by
//! a test: the peak resident set (`VmHWM`) is reset after the input is built, so what it shows is
//! what decoding added. Then the same bytes with a 1 MiB budget, refused before allocating.
//!
//! Run: `cargo run --release -p migrations --example decode_memory` (Linux: it reads
//! `/proc/self/status` and writes `/proc/self/clear_refs`).

use binary_format::ModuleId;
use migrations::value::{decode_within, write_uleb128};
use migrations::{FieldLayout, Layout, StructLayout, Value};

const SIZE: usize = 64 << 20;
const MIB: f64 = (1 << 20) as f64;

/// A line of `/proc/self/status`, in bytes (the kernel writes kB).
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Resets the peak resident set to the current one (writing 5 to `clear_refs`).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let layout = Layout::Struct(Box::new(StructLayout {
        module: ModuleId::parse("0x1::Blob").ok_or("a module id")?,
        name: "Blob".into(),
        fields: vec![FieldLayout { name: "data".into(), layout: Layout::Vector(Box::new(Layout::U8)) }],
    }));
    let mut bytes = Vec::with_capacity(SIZE + 5);
    write_uleb128(&mut bytes, u32::try_from(SIZE)?);
    bytes.resize(SIZE + 4, 0x5a);
    // Touch every page of the input so that it is resident before the peak is reset.
    let checksum = bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b));

    if !reset_peak() {
        return Err("cannot reset the peak resident set (/proc/self/clear_refs): Linux only".into());
    }
    let before = status_bytes("VmRSS:").ok_or("no VmRSS in /proc/self/status")?;
    let value = decode_within(&bytes, &layout, usize::MAX)?;
    let peak = status_bytes("VmHWM:").ok_or("no VmHWM in /proc/self/status")?;
    let added = peak.saturating_sub(before);
    println!("input: {:.1} MiB (checksum {checksum:#04x})", bytes.len() as f64 / MIB);
    println!("resident before decoding: {:.1} MiB", before as f64 / MIB);
    println!(
        "peak while decoding: {:.1} MiB, {:.1} MiB over before: {:.2} x the input",
        peak as f64 / MIB,
        added as f64 / MIB,
        added as f64 / bytes.len() as f64
    );
    println!(
        "the value's footprint: {:.1} MiB (as a vector of Value::U8 it would be {:.1} MiB)",
        value.footprint() as f64 / MIB,
        (SIZE * std::mem::size_of::<Value>()) as f64 / MIB
    );
    drop(value);

    match decode_within(&bytes, &layout, 1 << 20) {
        Ok(_) => return Err("a 64 MiB value decoded within a 1 MiB budget".into()),
        Err(e) => println!("with a 1 MiB budget: refused: {e}"),
    }
    Ok(())
}
