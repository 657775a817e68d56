//! The rehearsal at several state sizes and thread counts: the whole against one hashing pass
//! over the same state (the baseline, measured in the same process), throughput per phase, and
//! peak memory (VmHWM), which must not grow with the state.
//!
//! `cargo bench -p rehearsal --bench rehearse` (sizes in accounts: `REHEARSE_SIZES`, default
//! `100000,1000000`; thread counts: `REHEARSE_THREADS`, default `1,N` for N cores; runs per
//! point: `REHEARSE_RUNS`, default 3, the median quoted). Each size runs in processes of its own:
//! one writes the devnet genesis state as a snapshot, others each hash it once (one thread,
//! SHA-256 over every key and value, as a reader that only hashes would) and rehearse v1 -> v2
//! on it, so that the peak memory is one rehearsal's alone.
//!
//! A live chain's kind of state, by hand: `rehearse-* generate-aptos ACCOUNTS DIR` writes the
//! 32-byte framework's genesis as a gzipped Aptos-based backup, `rehearse-* run-aptos DIR
//! THREADS` rehearses it (the backup verified, sorted, migrated in place) and prints its phases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "../tests/common/mod.rs"]
mod common;

use rehearsal::{rehearse, Options, Silent};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn generate(accounts: u32, path: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let options = redb_store::RedbOptions { durable: false, cache_bytes: 64 << 20, ..Default::default() };
    let mut store = redb_store::RedbStore::open_with(dir.path(), options).unwrap();
    devchain::Genesis::new(accounts).write(&mut store, 50_000, &mut |_| {}).unwrap();
    snapshot::export(&store, 0, serde_json::json!({"bench": accounts}), devchain::WIDTH, path).unwrap();
}

/// One hashing pass over the state: every entry read from the file and its key and value
/// hashed, on one thread. What any tool that reads the state once costs at least.
fn hash_once(path: &Path) -> (f64, u64, u64) {
    use sha2::Digest;
    let start = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut sha = sha2::Sha256::new();
    snapshot::visit(path, &mut |e| {
        n += 1;
        bytes += (e.key.len() + e.value.len()) as u64;
        sha.update(e.key);
        sha.update(e.value);
        Ok(true)
    })
    .unwrap();
    std::hint::black_box(sha.finalize());
    (start.elapsed().as_secs_f64(), n, bytes)
}

fn run(path: &Path, threads: usize) {
    let (read, resources, bytes) = hash_once(path);
    let mut options = Options::new(path, repo().join("stdlib/releases/v2"));
    options.threads = threads;
    options.from = Some(repo().join("stdlib/releases/v1"));
    options.registry = Some(repo().join("stdlib/registry.toml"));
    options.migrations = Some(repo().join("stdlib/migrations.toml"));
    let start = Instant::now();
    let report = rehearse(&options, &mut Silent).unwrap();
    let total = start.elapsed().as_secs_f64();
    assert_eq!(report.verdict, rehearsal::Verdict::Safe);
    let phases: Vec<String> = report
        .run
        .phases
        .iter()
        .map(|p| format!("{}={:.3}s/{:.1}MB/s/{:.0}r/s", p.name, p.seconds, p.mb_per_second, p.resources_per_second))
        .collect();
    println!("RESULT {resources} {bytes} {read:.3} {total:.3} {:.1} {}", peak_rss_mb(), phases.join(" "));
}

/// A live chain's kind of state: the 32-byte framework's genesis at `accounts` accounts (an
/// `Account` and a `CoinStore` each) with the old release's modules under their code paths,
/// written as a gzipped Aptos-based backup in `dir/backup` (chunks of 100,000 records), and the
/// new release and its migrations beside it (the behaviour tests' own).
fn generate_aptos(accounts: u32, dir: &Path) {
    common::framework_backup(dir, accounts, 100_000);
}

/// The rehearsal of [`generate_aptos`]'s backup, the old release taken from the state.
fn run_aptos(dir: &Path, threads: usize) {
    let mut options = Options::new(dir.join("backup"), dir.join(devchain::framework::NEW_NAME));
    options.threads = threads;
    options.migrations = Some(dir.join("migrations.toml"));
    options.handlers = devchain::handlers();
    options.system_accounts = vec![binary_format::Address::from_u64(1)];
    let start = Instant::now();
    let report = rehearse(&options, &mut Silent).unwrap();
    let total = start.elapsed().as_secs_f64();
    assert_eq!(report.verdict, rehearsal::Verdict::Safe);
    assert_eq!(report.state.root_verified, Some(true));
    let phases: Vec<String> = report.run.phases.iter().map(|p| format!("{}={:.3}s", p.name, p.seconds)).collect();
    println!("RESULT {} {total:.3} {:.1} {}", report.state.entries, peak_rss_mb(), phases.join(" "));
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") => return generate(args[2].parse().unwrap(), Path::new(&args[3])),
        Some("run") => return run(Path::new(&args[2]), args[3].parse().unwrap()),
        Some("generate-aptos") => return generate_aptos(args[2].parse().unwrap(), Path::new(&args[3])),
        Some("run-aptos") => return run_aptos(Path::new(&args[2]), args[3].parse().unwrap()),
        _ => {}
    }
    let sizes: Vec<u32> = std::env::var("REHEARSE_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = std::env::var("REHEARSE_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut thread_counts: Vec<usize> = std::env::var("REHEARSE_THREADS")
        .unwrap_or_else(|_| format!("1,{cores}"))
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    thread_counts.dedup();
    let me = std::env::current_exe().unwrap();
    for accounts in sizes {
        let dir = tempfile::tempdir().unwrap();
        let snap = dir.path().join("state.snap");
        assert!(Command::new(&me)
            .args(["generate", &accounts.to_string(), snap.to_str().unwrap()])
            .status()
            .unwrap()
            .success());
        for &threads in &thread_counts {
            let mut reads = Vec::new();
            let mut totals = Vec::new();
            let mut ratios = Vec::new();
            let mut rss = Vec::new();
            let mut last = String::new();
            let mut sizes = (0u64, 0u64);
            for _ in 0..runs {
                let out =
                    Command::new(&me).args(["run", snap.to_str().unwrap(), &threads.to_string()]).output().unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let text = String::from_utf8(out.stdout).unwrap();
                let line = text.lines().find(|l| l.starts_with("RESULT ")).unwrap().to_owned();
                let f: Vec<&str> = line.split(' ').collect();
                sizes = (f[1].parse().unwrap(), f[2].parse().unwrap());
                let (read, total) = (f[3].parse::<f64>().unwrap(), f[4].parse::<f64>().unwrap());
                reads.push(read);
                totals.push(total);
                ratios.push(total / read);
                rss.push(f[5].parse::<f64>().unwrap());
                last = f[6..].join(" ");
            }
            let (read, total) = (median(reads), median(totals));
            println!(
                "rehearse {accounts} accounts, {threads} threads: {} entries, {:.1} MB of keys and values, file {:.1} MB; \
                 one hashing pass {read:.2} s; rehearsal {total:.2} s ({:.1}x the hashing pass, median of per-run ratios; \
                 {:.0} entries/s); peak RSS {:.0} MB (median of {runs})",
                sizes.0,
                sizes.1 as f64 / 1e6,
                std::fs::metadata(&snap).map(|m| m.len()).unwrap_or(0) as f64 / 1e6,
                median(ratios),
                sizes.0 as f64 / total,
                median(rss),
            );
            println!("  phases (last run): {last}");
        }
    }
}
