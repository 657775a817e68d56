//! Writes the seed corpus: generated modules of every shape into `<dir>/read_module/` (written by
//! `write_module`, with minimal bodies, and framework-like ones full of instructions), and small
//! releases (modules concatenated) into `<dir>/detect/`, and reader programs of the `bcs` target
//! into `<dir>/bcs/`. The same files every time.
//!
//! Usage: `cargo run --release --bin seeds [-- <dir>]` from `binary-format/fuzz/` (default
//! `corpus`). Every seed is also run through the targets' checks once.

use binary_format::generate::{self, Shape};
use binary_format::{write_module, NoResolver};
use std::path::PathBuf;

/// Modules written per shape, by `write_module` and with instructions.
const MODULES_PER_SHAPE: usize = 24;
const FRAMEWORK_MODULES_PER_SHAPE: usize = 8;
/// Releases written per shape, and modules in each.
const RELEASES_PER_SHAPE: u64 = 4;
const MODULES_PER_RELEASE: usize = 4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".to_owned()));
    let read_dir = dir.join("read_module");
    let detect_dir = dir.join("detect");
    let bcs_dir = dir.join("bcs");
    std::fs::create_dir_all(&read_dir)?;
    std::fs::create_dir_all(&detect_dir)?;
    std::fs::create_dir_all(&bcs_dir)?;
    let bcs_seeds = binary_format_fuzz::bcs::seeds();
    for (i, seed) in bcs_seeds.iter().enumerate() {
        binary_format_fuzz::bcs::check_program(seed);
        std::fs::write(bcs_dir.join(format!("{i:03}.bin")), seed)?;
    }
    let (mut modules, mut releases) = (0usize, 0usize);
    for shape in Shape::all_versions() {
        let flavor = if shape.version.is_sui() { "sui" } else { "" };
        let tag = format!("v{}{flavor}-a{}", shape.version.number, shape.address_length.bytes());
        for (i, m) in generate::release(0x5eed, &shape, MODULES_PER_SHAPE).iter().enumerate() {
            let bytes = write_module(m, shape.address_length, &NoResolver)?;
            binary_format_fuzz::check_read(&bytes);
            std::fs::write(read_dir.join(format!("{tag}-{i:03}.mv")), &bytes)?;
            modules += 1;
        }
        for (i, bytes) in
            generate::framework_release(0xc0de, &shape, FRAMEWORK_MODULES_PER_SHAPE, 4, 24).iter().enumerate()
        {
            binary_format_fuzz::check_read(bytes);
            std::fs::write(read_dir.join(format!("{tag}-code-{i:03}.mv")), bytes)?;
            modules += 1;
        }
        for r in 0..RELEASES_PER_SHAPE {
            let mut bytes = Vec::new();
            for m in generate::release(0xde7ec7 + r, &shape, MODULES_PER_RELEASE) {
                bytes.extend(write_module(&m, shape.address_length, &NoResolver)?);
            }
            for m in generate::framework_release(0xde7ec7 + r, &shape, 2, 2, 8) {
                bytes.extend(m);
            }
            binary_format_fuzz::check_detect(&bytes);
            std::fs::write(detect_dir.join(format!("{tag}-release-{r}.bin")), &bytes)?;
            releases += 1;
        }
    }
    println!(
        "wrote {modules} modules to {}, {releases} releases to {} and {} reader programs to {}",
        read_dir.display(),
        detect_dir.display(),
        bcs_seeds.len(),
        bcs_dir.display()
    );
    Ok(())
}
