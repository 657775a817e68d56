//! Writes the seed corpus into `<dir>/<target>/` (default `corpus`): chunks, manifests and
//! proofs of small backups of both salts, plain and gzipped, resource-group values, JSON Lines
//! states and module bundles. Every
//! seed is run through its target's check once. The same files every time.
//!
//! Usage: `cargo run --release --bin seeds [-- <dir>]` from `rehearsal/fuzz/`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    for (target, name, bytes) in rehearsal_fuzz::seeds() {
        let parsed = match target {
            "aptos_chunk" => rehearsal_fuzz::check_chunk(&bytes).is_some(),
            "aptos_manifest" => rehearsal_fuzz::check_manifest(&bytes).is_some(),
            "aptos_group" => rehearsal_fuzz::check_group(&bytes).is_some(),
            "jsonl" => rehearsal_fuzz::check_jsonl(&bytes).is_some(),
            "containers" => rehearsal_fuzz::check_container(&bytes).is_some(),
            _ => rehearsal_fuzz::check_proof(&bytes).is_some(),
        };
        if !parsed {
            return Err(format!("seed {target}/{name} does not read").into());
        }
        let folder = dir.join(target);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join(&name), &bytes)?;
        println!("{target}/{name}: {} bytes", bytes.len());
    }
    Ok(())
}
