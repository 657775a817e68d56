//! Writes the seed corpus: real snapshots of small genesis states (and of an empty one) into
//! `<dir>/snapshot/`, forged headers into `<dir>/snapshot_header/`, and manifests (compact and
//! pretty, with and without activations) into `<dir>/manifest/`. The same files every time.
//!
//! Usage: `cargo run --release --bin seeds [-- <dir>]` from `devnet/fuzz/` (default `corpus`).
//! Every seed is also run through the targets' checks once, and kept under `MAX_SEED` bytes so
//! that libFuzzer (run with `-max_len=65536`) mutates it whole.

use devchain::Genesis;
use devnet::manifest::Manifest;
use devnet::snapshot;
use migrations::store::InMemoryStore;
use std::path::{Path, PathBuf};
use vm_hooks::Budget;

/// Genesis sizes (accounts) snapshotted.
const ACCOUNTS: [u32; 4] = [1, 3, 10, 40];
/// The largest seed, the fuzz runs' `-max_len`.
const MAX_SEED: u64 = 64 << 10;

fn manifest(accounts: u32, corrupt: u32, activations: &[(u32, u64)]) -> Result<Manifest, Box<dyn std::error::Error>> {
    let budget = Budget { max_resources: 64, max_bytes: 1 << 16 };
    let mut m = Manifest::new(accounts, corrupt, 4, budget);
    for &(release, height) in activations {
        m.schedule(release, height, 0)?;
    }
    Ok(m)
}

fn write_snapshot(
    dir: &Path,
    name: &str,
    store: &InMemoryStore,
    height: u64,
    chain: serde_json::Value,
) -> Result<u64, Box<dyn std::error::Error>> {
    let path = dir.join(name);
    if path.exists() {
        std::fs::remove_file(&path)?;
    }
    let info = snapshot::export(store, height, chain, devchain::WIDTH, &path)?;
    if info.bytes > MAX_SEED {
        return Err(format!("{name} is {} bytes, more than {MAX_SEED}", info.bytes).into());
    }
    let bytes = std::fs::read(&path)?;
    let checked = devnet_fuzz::check_snapshot(&bytes).ok_or_else(|| format!("{name} does not verify"))?;
    if checked != info {
        return Err(format!("{name}: verify says {checked:?}, export said {info:?}").into());
    }
    println!("{name}: {} bytes, {} entries under {} tags", info.bytes, info.entries, info.tags.len());
    Ok(info.bytes)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".to_owned()));
    let snapshot_dir = dir.join("snapshot");
    let manifest_dir = dir.join("manifest");
    std::fs::create_dir_all(&snapshot_dir)?;
    std::fs::create_dir_all(&manifest_dir)?;

    let (mut snapshots, mut manifests) = (0usize, 0usize);
    write_snapshot(&snapshot_dir, "empty.snap", &InMemoryStore::new(), 0, serde_json::Value::Null)?;
    snapshots += 1;
    for (i, accounts) in ACCOUNTS.into_iter().enumerate() {
        let store = Genesis { accounts, corrupt: 0 }.in_memory()?;
        let activations: &[(u32, u64)] = match i {
            0 => &[],
            1 => &[(2, 5)],
            _ => &[(2, 5), (3, 9)],
        };
        let chain = manifest(accounts, 0, activations)?.to_json();
        write_snapshot(&snapshot_dir, &format!("genesis-{accounts}.snap"), &store, i as u64 * 7, chain)?;
        snapshots += 1;
    }
    // A chain the caller describes in its own words (the header's `chain` is opaque).
    let store = Genesis { accounts: 2, corrupt: 0 }.in_memory()?;
    let chain = serde_json::json!({"accounts": 2, "note": "hand-written", "heights": [1, 2, 3], "ratio": 0.5});
    write_snapshot(&snapshot_dir, "genesis-2-chain.snap", &store, devnet::limits::MAX_HEIGHT, chain)?;
    snapshots += 1;

    // Headers: a height and settings at, below and above each bound, and schedules.
    let header_dir = dir.join("snapshot_header");
    std::fs::create_dir_all(&header_dir)?;
    let mut headers = 0usize;
    for (name, fields) in devnet_fuzz::HEADER_SEEDS {
        devnet_fuzz::check_header(fields).ok_or_else(|| format!("header seed {name} makes no snapshot"))?;
        std::fs::write(header_dir.join(name), fields)?;
        headers += 1;
    }
    println!("wrote {headers} headers to {}", header_dir.display());

    let cases: [(&str, Manifest); 4] = [
        ("genesis", manifest(10, 0, &[])?),
        ("v2", manifest(3, 1, &[(2, 10)])?),
        ("v3", manifest(40, 4, &[(2, 5), (3, 9)])?),
        ("large", manifest(u32::MAX, 7, &[(2, u64::MAX - 1), (3, u64::MAX)])?),
    ];
    for (name, m) in cases {
        let pretty = format!("{}\n", serde_json::to_string_pretty(&m)?);
        let compact = serde_json::to_string(&m)?;
        for (form, text) in [("pretty", pretty), ("compact", compact)] {
            let parsed = devnet_fuzz::check_manifest(text.as_bytes())
                .ok_or_else(|| format!("manifest {name} ({form}) does not parse"))?;
            if parsed != m {
                return Err(format!("manifest {name} ({form}) parses to {parsed:?}").into());
            }
            std::fs::write(manifest_dir.join(format!("{name}-{form}.json")), text)?;
            manifests += 1;
        }
    }
    println!(
        "wrote {snapshots} snapshots to {} and {manifests} manifests to {}",
        snapshot_dir.display(),
        manifest_dir.display()
    );
    Ok(())
}
