//! The status resource is exactly `0x1::Migrations::Status` of the stdlib: its bytes decode
//! with the layout resolved from release v1, and bytes made from that layout decode as status.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use devchain::support::*;
use devchain::STATUS_TAG;
use migrations::store::{Store, WriteBatch};
use migrations::{decode, encode, Value};
use vm_hooks::{Budget, Status};

fn bytes_of(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

fn text(v: &Value) -> String {
    String::from_utf8(v.as_bytes().unwrap().to_vec()).unwrap()
}

#[test]
fn status_written_by_the_hook_decodes_with_the_stdlib_layout() {
    let mut store = genesis(100);
    let mut batch = WriteBatch::new();
    batch.put(account(7), tag("0x1::Wallet::Wallet"), vec![0; 2]);
    store.apply(batch).unwrap();
    let mut hook = hook(Budget { max_resources: 30, max_bytes: 1 << 20 });
    run_blocks(&mut hook, &mut store, 1, V2_HEIGHT + 3);
    let bytes = store.get(&zero(), &tag(STATUS_TAG)).unwrap().unwrap();
    let layout = Layouts::of(0).layout(STATUS_TAG);
    let value = decode(&bytes, &layout).unwrap();
    assert_eq!(encode(&value, &layout).unwrap(), bytes, "canonical");
    let fields = value.fields().unwrap();
    let [releases, completed, in_progress, failed] = fields else { panic!() };
    // Both releases are scheduled on chain (at genesis), v2 activated at its height.
    let Value::Vector(releases) = releases else { panic!() };
    assert_eq!(releases.len(), 2);
    let v2 = releases[0].fields().unwrap();
    assert_eq!(
        (v2[0].clone(), text(&v2[1]), v2[2].clone(), v2[3].clone()),
        (Value::U64(2), "v2".to_owned(), Value::U64(V2_HEIGHT), Value::U64(V2_HEIGHT))
    );
    assert_eq!(v2[4], Value::U64(30), "the budget is recorded");
    let Value::Vector(entries) = &v2[8] else { panic!() };
    assert_eq!(entries.len(), 4, "v2's catalogue: its entries and their checksums");
    assert_eq!(releases[1].fields().unwrap()[3], Value::U64(0), "v3 is not activated yet");
    let Value::Vector(completed) = completed else { panic!() };
    let ids: Vec<_> = completed.iter().map(|c| text(&c.fields().unwrap()[0])).collect();
    assert_eq!(ids, ["epoch-v2", "coin-balance-v2"]);
    let Value::Bytes(checksum) = &completed[0].fields().unwrap()[1] else { panic!() };
    assert_eq!(checksum.len(), 32);
    // Every user-account migration of v2 holds a record from its activation (with its budget).
    let Value::Vector(in_progress) = in_progress else { panic!() };
    let running: Vec<_> = in_progress.iter().map(|p| text(&p.fields().unwrap()[0])).collect();
    assert_eq!(running, ["stake-v2", "wallet-v2"]);
    let Value::Vector(failed) = failed else { panic!() };
    let failure = failed[0].fields().unwrap();
    assert_eq!(text(&failure[0]), "wallet-v2");

    // And the typed view says the same: the failure is the wallet's key.
    let status = Status::load(&store, &chain()).unwrap();
    assert!(status.has_run("coin-balance-v2") && !status.has_run("wallet-v2"));
    assert_eq!(status.failures()[0].key, migrations::state_key::resource_key(&account(7), &tag("0x1::Wallet::Wallet")));
    let progress = status.progress_of("wallet-v2").unwrap();
    assert_eq!(progress.cursor.height, V2_HEIGHT + 3);
    assert!(progress.migrated > 0);
}

#[test]
fn bytes_encoded_from_the_stdlib_layout_decode_as_status() {
    let layout = Layouts::of(0).layout(STATUS_TAG);
    let cursor = vm_hooks::Cursor {
        height: 12,
        approved: false,
        position: Some(vec![1, 2, 3]),
        ahead: [vec![1u8, 9]].into_iter().collect(),
    }
    .encode();
    let value = Value::Struct(vec![
        Value::Vector(vec![Value::Struct(vec![
            Value::U64(2),
            bytes_of("v2"),
            Value::U64(10),
            Value::U64(10),
            Value::U64(5),
            Value::U64(6),
            Value::U64(16),
            Value::U64(1 << 20),
            Value::Vector(vec![Value::Struct(vec![bytes_of("epoch-v2"), Value::Bytes(vec![0xab; 32])])]),
            Value::Bytes(vec![0xcd; 32]),
        ])]),
        Value::Vector(vec![Value::Struct(vec![bytes_of("epoch-v2"), Value::Bytes(vec![0xab; 32]), Value::U64(10)])]),
        Value::Vector(vec![Value::Struct(vec![bytes_of("wallet-v2"), Value::Bytes(cursor.clone()), Value::U64(99)])]),
        Value::Vector(vec![Value::Struct(vec![bytes_of("wallet-v2"), bytes_of("key"), bytes_of("bad")])]),
    ]);
    let bytes = encode(&value, &layout).unwrap();
    let status = Status::decode(&bytes).unwrap();
    assert_eq!(status.encode(), bytes);
    let release = status.release(2).unwrap();
    assert_eq!(release.budget, Budget { max_resources: 5, max_bytes: 6 });
    assert_eq!((release.height, release.activated_at, release.max_quarantined), (10, 10, 16));
    assert_eq!(status.progress_of("wallet-v2").unwrap().cursor.ahead.iter().collect::<Vec<_>>(), [[1u8, 9].as_slice()]);
    assert_eq!(status.completion("epoch-v2").unwrap().checksum.0, [0xab; 32]);
    assert_eq!(status.progress_of("wallet-v2").unwrap().cursor.position, Some(vec![1, 2, 3]));
    assert_eq!(status.progress_of("wallet-v2").unwrap().migrated, 99);
    assert_eq!(status.failures_of("wallet-v2")[0].reason, "bad");
    assert_eq!(status.last_height(), 12);
    // The empty status of genesis.
    let empty = encode(&Value::Struct(vec![Value::Vector(vec![]); 4]), &layout).unwrap();
    assert_eq!(Status::decode(&empty).unwrap(), Status::default());
    assert_eq!(Status::default().encode(), empty);
}
