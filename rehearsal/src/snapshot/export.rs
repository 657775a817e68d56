//! [`export`]: the state, visited in key order, written as a snapshot.

use super::error::SnapshotError;
use super::format::{len_u64, SnapshotInfo, MAX_TAG_PREFIX, MAX_VALUE, VERSION};
use super::publish::Partial;
use super::writer::Writer;
use binary_format::AddressLength;
use migrations::AccountAddress;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use vm_hooks::persistent::{decode_prefix, tag_prefix};
use vm_hooks::{RootHasher, SortedState};

/// Feeds the visited state to the writer, checking what the reader will check.
struct Exporter<'a> {
    writer: Writer<'a>,
    /// The width every account must have.
    width: AddressLength,
    root: RootHasher,
    tags: BTreeMap<String, u64>,
    /// The current run: its tag prefix, rendered tag, resources, last account.
    prefix: Vec<u8>,
    rendered: Option<String>,
    run: u64,
    last: Option<AccountAddress>,
    /// The first error: the visitor cannot stop the visit, so the rest is skipped.
    error: Option<SnapshotError>,
}

impl Exporter<'_> {
    fn visit(&mut self, prefix: &[u8], account: &AccountAddress, value: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.add(prefix, account, value) {
                self.error = Some(e);
            }
        }
    }

    fn bad(&self, reason: String) -> SnapshotError {
        SnapshotError::BadState { path: self.writer.target.to_path_buf(), reason }
    }

    fn add(&mut self, prefix: &[u8], account: &AccountAddress, value: &[u8]) -> Result<(), SnapshotError> {
        if account.width() != self.width {
            return Err(self.bad(format!(
                "account {account} has {}-byte addresses, the snapshot {}-byte ones",
                account.width(),
                self.width
            )));
        }
        if self.rendered.is_none() || prefix != self.prefix.as_slice() {
            self.start_run(prefix)?;
        } else if self.last.is_some_and(|last| last >= *account) {
            let tag = self.rendered.as_deref().unwrap_or_default();
            return Err(self.bad(format!(
                "the state visited {} after {} under {tag}: not in key order",
                account,
                self.last.map(|a| a.to_string()).unwrap_or_default()
            )));
        }
        if value.len() > MAX_VALUE {
            return Err(SnapshotError::TooLarge {
                path: self.writer.target.to_path_buf(),
                what: format!("resource {} at {}", self.rendered.as_deref().unwrap_or_default(), account),
                size: len_u64(value.len()),
                max: len_u64(MAX_VALUE),
            });
        }
        self.writer.resource(account, value)?;
        self.root.add(prefix, account, value);
        self.run += 1;
        self.last = Some(*account);
        Ok(())
    }

    fn start_run(&mut self, prefix: &[u8]) -> Result<(), SnapshotError> {
        if prefix.len() > MAX_TAG_PREFIX {
            return Err(SnapshotError::TooLarge {
                path: self.writer.target.to_path_buf(),
                what: "a struct tag's key prefix".to_owned(),
                size: len_u64(prefix.len()),
                max: len_u64(MAX_TAG_PREFIX),
            });
        }
        let tag =
            decode_prefix(prefix, self.width).map_err(|e| self.bad(format!("a key prefix does not decode: {e}")))?;
        let rendered = tag.to_string();
        if tag_prefix(&tag) != prefix {
            return Err(self.bad(format!("the key prefix of {rendered} is not its canonical encoding")));
        }
        if let Some(previous) = &self.rendered {
            if prefix <= self.prefix.as_slice() {
                return Err(self.bad(format!("the state visited {rendered} after {previous}: not in key order")));
            }
        }
        self.close_run();
        self.writer.tag(prefix)?;
        self.prefix.clear();
        self.prefix.extend_from_slice(prefix);
        self.rendered = Some(rendered);
        self.last = None;
        Ok(())
    }

    fn close_run(&mut self) {
        if let Some(rendered) = self.rendered.take() {
            *self.tags.entry(rendered).or_default() += self.run;
        }
        self.run = 0;
    }
}

/// Writes `state` at `height` to a new snapshot file at `path`, with the caller's `chain`
/// parameters in the header, every address `width` bytes. Refuses if `path` exists. Writes `.NAME.partial` next to it,
/// fsyncs it, then moves it into place (and fsyncs the directory); on error the partial file is
/// removed and `path` is not created.
pub fn export(
    state: &dyn SortedState,
    height: u64,
    chain: Value,
    width: AddressLength,
    path: &Path,
) -> Result<SnapshotInfo, SnapshotError> {
    let (partial, file) = Partial::create(path)?;
    let mut writer = Writer::new(partial.path(), path, file);
    writer.header(height, width, chain.clone())?;
    let mut exporter = Exporter {
        writer,
        width,
        root: RootHasher::new(),
        tags: BTreeMap::new(),
        prefix: Vec::new(),
        rendered: None,
        run: 0,
        last: None,
        error: None,
    };
    state.visit_sorted(&mut |prefix, account, value| exporter.visit(prefix, account, value))?;
    if let Some(e) = exporter.error.take() {
        return Err(e);
    }
    exporter.close_run();
    let Exporter { mut writer, root, tags, .. } = exporter;
    let resources = root.count();
    let state_root = root.finish();
    writer.footer(resources, state_root, tags.clone())?;
    let bytes = writer.finish()?;
    partial.publish(path)?;
    Ok(SnapshotInfo { version: VERSION, height, address_length: width, chain, resources, state_root, tags, bytes })
}

#[cfg(test)]
mod tests {
    use super::super::format::MAX_HEADER;
    use super::super::testing::parse_struct_tag;
    use super::super::testing::{store_with, TAGS};
    use super::*;
    use std::ffi::OsString;
    use std::fs;

    #[test]
    fn export_never_overwrites_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taken");
        fs::write(&path, b"precious").unwrap();
        let err = export(&store_with(4), 1, Value::Null, devchain::WIDTH, &path).unwrap_err();
        assert!(matches!(&err, SnapshotError::Exists(p) if p == &path), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"precious");
        let listing = || {
            let mut names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            names.sort();
            names
        };
        assert_eq!(listing(), vec![OsString::from("taken")]);

        // An error while writing (a header too large) removes the partial file.
        let big = Value::String("x".repeat(MAX_HEADER + 1));
        let err = export(&store_with(4), 1, big, devchain::WIDTH, &dir.path().join("big")).unwrap_err();
        assert!(matches!(err, SnapshotError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("big: not written") && !err.to_string().contains("partial"), "{err}");
        assert_eq!(listing(), vec![OsString::from("taken")]);

        // A state visiting out of order is refused, nothing left behind.
        let err = export(&Backwards, 1, Value::Null, devchain::WIDTH, &dir.path().join("backwards")).unwrap_err();
        assert!(matches!(err, SnapshotError::BadState { .. }), "{err}");
        assert!(err.to_string().contains("not in key order"), "{err}");
        assert_eq!(listing(), vec![OsString::from("taken")]);

        // The partial file of an export under way is not clobbered; a stale one (left by a
        // killed export: nobody holds it) is taken over.
        let partial = dir.path().join(".fresh.partial");
        fs::write(&partial, b"stale").unwrap();
        let held = fs::File::open(&partial).unwrap();
        held.lock().unwrap();
        let err = export(&store_with(4), 1, Value::Null, devchain::WIDTH, &dir.path().join("fresh")).unwrap_err();
        assert!(matches!(err, SnapshotError::InUse(_)) && err.is_bad_input(), "{err}");
        assert_eq!(fs::read(&partial).unwrap(), b"stale");
        drop(held);
        export(&store_with(4), 1, Value::Null, devchain::WIDTH, &dir.path().join("fresh")).unwrap();
        assert_eq!(listing(), vec![OsString::from("fresh"), OsString::from("taken")]);
        // A partial name left beside the published file (a kill between the two) goes with
        // the next export of that name, which refuses to overwrite the file.
        fs::hard_link(dir.path().join("fresh"), &partial).unwrap();
        let err = export(&store_with(4), 1, Value::Null, devchain::WIDTH, &dir.path().join("fresh")).unwrap_err();
        assert!(matches!(err, SnapshotError::Exists(_)), "{err}");
        assert_eq!(listing(), vec![OsString::from("fresh"), OsString::from("taken")]);
        // Not a file: not ours.
        fs::create_dir(dir.path().join(".dir.partial")).unwrap();
        let err = export(&store_with(4), 1, Value::Null, devchain::WIDTH, &dir.path().join("dir")).unwrap_err();
        assert!(matches!(err, SnapshotError::Exists(_)), "{err}");
    }

    /// Visits two accounts in decreasing order.
    struct Backwards;

    impl SortedState for Backwards {
        fn visit_sorted(
            &self,
            visit: &mut dyn FnMut(&[u8], &AccountAddress, &[u8]),
        ) -> Result<(), migrations::store::StoreError> {
            let prefix = tag_prefix(&parse_struct_tag(TAGS[0]).unwrap());
            visit(&prefix, &AccountAddress::new(&[2; 16]).unwrap(), b"b");
            visit(&prefix, &AccountAddress::new(&[1; 16]).unwrap(), b"a");
            Ok(())
        }
    }
}
