//! The Aptos backup reader against a plain read of the same backup, in the same process: time
//! per million records and peak memory.
//!
//! `cargo bench -p rehearsal --bench aptos_backup` (records: `APTOS_BENCH_RECORDS=1000000`, the
//! default; `APTOS_BENCH_COMPRESSION=gzip,plain`; runs: `APTOS_BENCH_RUNS=3`, the median kept).
//! One process writes the backup with the fixture writer (a mix like a real state's: resources,
//! table items, resource groups, values with metadata, in chunks of 100,000 records); others each
//! read it four ways, so that the peak memory is the reader's alone:
//! - plain: every chunk decompressed and framed, nothing parsed (the floor any reader pays);
//! - verify: `AptosBackup::open` and one checking pass (records parsed and typed, key and value
//!   hashed, order and chunk bounds checked, the root recomputed);
//! - visit: a second pass handing typed records to a callback (the root already verified);
//! - plain again (the faster of the two plain reads is the reference: the cache is warm for all).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use migrations::{AccountAddress, StructTag};
use rehearsal::state::aptos::key::WIDTH;
use rehearsal::state::aptos::writer::{write_backup, Compression, WriteOptions, WriteRecord};
use rehearsal::state::aptos::{encode_group, AptosBackup, AptosOptions, AptosStateKey, Metadata, RootCheck, Salt};
use rehearsal::state::diem::chunk::ChunkReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn address(n: u64) -> AccountAddress {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    bytes[24..].copy_from_slice(&n.to_be_bytes());
    AccountAddress::new(&bytes).unwrap()
}

/// Record `n` of the mix: 7 in 10 resources (every third with metadata), 2 table items, 1
/// resource group of two members.
fn record(n: u64, tags: &[StructTag; 4]) -> WriteRecord {
    let metadata =
        n.is_multiple_of(3).then_some(Metadata::V1 { slot_deposit: 40_000, bytes_deposit: n, creation_time_usecs: n });
    match n % 10 {
        0..=6 => WriteRecord {
            key: AptosStateKey::resource(address(n), tags[(n % 2) as usize].clone()),
            data: [&n.to_le_bytes()[..], &[(n % 251) as u8; 56]].concat(),
            metadata,
        },
        7 | 8 => {
            let mut handle = [0u8; 32];
            handle[..8].copy_from_slice(&(n % 97).to_be_bytes());
            WriteRecord {
                key: AptosStateKey::TableItem { handle, key: n.to_le_bytes().to_vec() },
                data: vec![(n % 13) as u8; 40],
                metadata,
            }
        }
        _ => {
            let group = encode_group([(&tags[2], &[1u8; 40][..]), (&tags[3], &n.to_le_bytes()[..])]).unwrap();
            WriteRecord {
                key: AptosStateKey::group(address(n), StructTag::parse("0x1::object::ObjectGroup", WIDTH).unwrap()),
                data: group,
                metadata,
            }
        }
    }
}

fn generate(records: u64, compression: &str, top: &Path) {
    let tags = [
        "0x1::account::Account",
        "0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>",
        "0x1::object::ObjectCore",
        "0x1::fungible_asset::FungibleStore",
    ]
    .map(|t| StructTag::parse(t, WIDTH).unwrap());
    let compression = if compression == "gzip" { Compression::Gzip } else { Compression::Plain };
    let options = WriteOptions { compression, records_per_chunk: 100_000, ..WriteOptions::new(Salt::Diem, 7_000_000) };
    write_backup(top, (0..records).map(|n| record(n, &tags)), options).unwrap();
}

/// Every chunk decompressed and framed: records and bytes.
fn plain(chunks: &[PathBuf]) -> (f64, u64, u64) {
    let start = Instant::now();
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut buf = Vec::new();
    for c in chunks {
        let mut r = ChunkReader::open(c).unwrap();
        while r.next(&mut buf).unwrap().is_some() {
            n += 1;
            bytes += 4 + buf.len() as u64;
        }
    }
    (start.elapsed().as_secs_f64(), n, bytes)
}

fn run(top: &Path) {
    let options = AptosOptions::default();
    let chunks: Vec<PathBuf> = AptosBackup::open(top, &options).unwrap().chunk_files().map(Path::to_path_buf).collect();
    let (plain1, records, bytes) = plain(&chunks);
    let start = Instant::now();
    let mut backup = AptosBackup::open(top, &options).unwrap();
    let summary = backup.verify().unwrap();
    let verify = start.elapsed().as_secs_f64();
    assert_eq!((summary.records, &summary.root), (records, &RootCheck::Verified));
    let start = Instant::now();
    let mut data = 0u64;
    backup
        .visit(&mut |r| {
            data += r.value.len() as u64;
            Ok(())
        })
        .unwrap();
    let visit = start.elapsed().as_secs_f64();
    // The verifying pass again, on every core.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let mut backup = AptosBackup::open(top, &AptosOptions { threads, ..options }).unwrap();
    assert_eq!(backup.verify().unwrap(), summary);
    let parallel = start.elapsed().as_secs_f64();
    let (plain2, _, _) = plain(&chunks);
    println!(
        "RESULT {records} {bytes} {:.4} {verify:.4} {visit:.4} {:.1} {parallel:.4} {threads}",
        plain1.min(plain2),
        peak_rss_mb()
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| if e.path().is_dir() { dir_size(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") => return generate(args[2].parse().unwrap(), &args[3], Path::new(&args[4])),
        Some("run") => return run(Path::new(&args[2])),
        _ => {}
    }
    let sizes: Vec<u64> = std::env::var("APTOS_BENCH_RECORDS")
        .unwrap_or_else(|_| "1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let compressions = std::env::var("APTOS_BENCH_COMPRESSION").unwrap_or_else(|_| "gzip,plain".into());
    let runs: usize = std::env::var("APTOS_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let me = std::env::current_exe().unwrap();
    for records in sizes {
        for compression in compressions.split(',').map(str::trim) {
            let dir = tempfile::tempdir().unwrap();
            let top = dir.path().join("backup");
            let status =
                Command::new(&me).args(["generate", &records.to_string(), compression, top.to_str().unwrap()]).status();
            assert!(status.unwrap().success());
            let (mut p, mut v, mut w, mut rss) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let (mut on_all, mut threads) = (Vec::new(), 1usize);
            let mut unpacked = 0u64;
            for _ in 0..runs {
                let out = Command::new(&me).args(["run", top.to_str().unwrap()]).output().unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                let text = String::from_utf8(out.stdout).unwrap();
                let line = text.lines().find(|l| l.starts_with("RESULT ")).unwrap().to_owned();
                let f: Vec<&str> = line.split(' ').collect();
                unpacked = f[2].parse().unwrap();
                p.push(f[3].parse::<f64>().unwrap());
                v.push(f[4].parse::<f64>().unwrap());
                w.push(f[5].parse::<f64>().unwrap());
                rss.push(f[6].parse::<f64>().unwrap());
                on_all.push(f[7].parse::<f64>().unwrap());
                threads = f[8].parse().unwrap();
            }
            let (p, v, w, all) = (median(p), median(v), median(w), median(on_all));
            let per_m = |s: f64| s * 1e6 / records as f64;
            println!(
                "aptos backup, {records} records, {compression}: {:.0} MB on disk, {:.0} MB of records unpacked, {} chunks of 100,000",
                dir_size(&top) as f64 / 1e6,
                unpacked as f64 / 1e6,
                records.div_ceil(100_000)
            );
            println!(
                "  plain read (decompress + frame) {p:.2} s = {:.2} s per million records; verify pass {v:.2} s = {:.2} s per million ({:.1}x the plain read), on {threads} threads {all:.2} s ({:.2}x faster); visit pass {w:.2} s = {:.2} s per million ({:.1}x); peak RSS {:.0} MB (median of {runs})",
                per_m(p),
                per_m(v),
                v / p,
                v / all,
                per_m(w),
                w / p,
                median(rss)
            );
        }
    }
}
