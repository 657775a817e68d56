//! Validating a declarations file of 10,000 and 100,000 entries against stdlib v1 -> v2, every
//! entry wrong (a hand-written transform no handler is registered for, a default of a field the
//! struct does not have, all on structs the upgrade migrates): what `check --migrations` does
//! before it reports them. Each stage is linear in the entries (they were quadratic: 100,000
//! took minutes). `cargo bench -p compat-checker --bench declarations`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::Module;
use compat_checker::{check_releases, ChainOptions, CheckOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use migrations::catalogue::Catalogue;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;
use upgrade_spec::declarations::Declarations;
use upgrade_spec::registry::Registry;
use upgrade_spec::ReleaseLabel;

fn stdlib(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib").join(path)
}

/// The committed declarations, then `n` wrong ones.
fn declarations(n: usize) -> String {
    let mut text = std::fs::read_to_string(stdlib("migrations.toml")).unwrap();
    for i in 0..n {
        if i % 2 == 0 {
            text.push_str(&format!("[[migration]]\nid=\"d{i}\"\nrelease=\"v2\"\nmodule=\"Wallet\"\nstruct=\"Wallet\"\nfrom=\"0x1\"\nto=\"0x4\"\nscope=\"users\"\ntransform=\"hand-written\"\nhandler=\"n\"\n"));
        } else {
            text.push_str(&format!("[[migration]]\nid=\"d{i}\"\nrelease=\"v2\"\nmodule=\"Epoch\"\nstruct=\"Epoch\"\nfrom=\"0x1\"\nto=\"0x2\"\nscope=\"system\"\ntransform=\"derived\"\ndefaults={{x=\"0\"}}\n"));
        }
    }
    text
}

fn bench(c: &mut Criterion) {
    let load = |v: &str| releases::load(&stdlib(&format!("releases/{v}")), Default::default()).unwrap();
    let (old, new) = (load("v1"), load("v2"));
    let o: Vec<&Module> = old.modules.iter().map(|m| &m.module).collect();
    let n: Vec<&Module> = new.modules.iter().map(|m| &m.module).collect();
    let registry = Registry::load(&stdlib("registry.toml")).unwrap();
    let label = ReleaseLabel::new("v2").unwrap();
    let handlers = migrations::handlers::Handlers::default();
    let mut group = c.benchmark_group("declarations");
    group.sample_size(10).measurement_time(Duration::from_secs(5));
    for count in [10_000usize, 100_000] {
        let text = declarations(count);
        let parsed = Declarations::parse(&text, Path::new("migrations.toml")).unwrap();
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function(format!("parse_{count}"), |b| {
            b.iter(|| black_box(Declarations::parse(&text, Path::new("migrations.toml")).unwrap()))
        });
        group.bench_function(format!("gate_{count}"), |b| {
            let options = CheckOptions { registry: Some(&registry), declarations: Some(&parsed), config: None };
            b.iter(|| black_box(check_releases("v1", &old, "v2", &new, options, ChainOptions::default())))
        });
        group.bench_function(format!("catalogue_{count}"), |b| {
            b.iter(|| {
                let built = Catalogue::builder(&o, &n, &label, new.address_length)
                    .declarations(&parsed)
                    .registry(&registry)
                    .handlers(&handlers)
                    .build();
                black_box(built.unwrap_err().0.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
