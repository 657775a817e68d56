//! Writes the seed corpus into `<dir>/decoders/` (default `corpus`): struct tags of each width,
//! and values of each layout, valid and with a byte more. Every seed is run through the target's
//! check once, and must read exactly when it is not a `...-trailing` one. The same files every
//! time.
//!
//! Usage: `cargo run --release --bin seeds [-- <dir>]` from `migrations/fuzz/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let folder = dir.join("decoders");
    std::fs::create_dir_all(&folder)?;
    let seeds = migrations_fuzz::seeds();
    for (name, bytes) in &seeds {
        if migrations_fuzz::check_decoders(bytes) == name.ends_with("-trailing") {
            return Err(format!("seed decoders/{name} does not read as it should").into());
        }
        std::fs::write(folder.join(name), bytes)?;
    }
    println!("wrote {} inputs to {}", seeds.len(), folder.display());
    Ok(())
}
