//! The migration runner: applies one catalogue entry to every stored instance of its struct, and
//! the only place a [`PrivilegedSigner`] comes from.
//!
//! [`Runner::migrate_chunk`] is the one loop that migrates stored resources: the block
//! prologue's budgeted pass, a second pass that checks nothing is left, the runbook's replay and
//! a rehearsal all run it, so a test of one is a test of all. It walks the entry's *key space*
//! (every resource key of the old struct, whatever its type arguments: one contiguous range of
//! the canonical key order, see [`crate::state_key`]) from a cursor, transforms each value, and
//! through a signer scoped to the instance puts the new resource (and, for a versioned
//! migration, deletes the old) into a batch the caller applies atomically: a key is never
//! half-migrated. A value that does not transform is reported and left untouched; the others
//! go on.
//!
//! Instances are found in state, never listed: a generic struct's instantiations
//! (`CoinStore<AptosCoin>`, `CoinStore<0xcafe::my_coin::MyCoin>`, ...) are all in the key space,
//! and each is made concrete (layouts, transform, signer scope) the first time the loop meets it.
//! An instantiation the entry cannot be made concrete for (a type argument whose layout the
//! release does not have, a hand-written transform that does not take it) is a failure of each
//! of its resources, recorded like any other: never silently passed over.
//!
//! Two remedies, one loop: a *versioned* migration writes the new version under a new tag and
//! deletes the old, so what is left to do is exactly the old key space; an *in-place* migration
//! rewrites the key it reads, so which keys are done is told by the cursor (key order) and by
//! the caller's `skip` (keys migrated ahead of it on access).
//!
//! A struct is stored in three kinds of place, each a range of the canonical key order, walked
//! in that order by one cursor: as a resource (its own key), as a member of a resource group
//! (Aptos objects: the group's key, whose value holds several resources; the members of the
//! entry's struct are rewritten and the group written back whole), and as the values of tables
//! (a table's items are keyed by its handle and hold no type: the tables whose values are
//! instances of the entry's struct are given to the runner, as the chain recorded them for the
//! release, see [`Runner::with_tables`]). Groups and table items are rewritten where they stand,
//! whichever the remedy: their keys name no struct.

use crate::catalogue::{Catalogue, Entry, Instance};
use crate::group::{decode_group, encode_group};
use crate::key::{AccountAddress, StructTag};
use crate::signer::{PrivilegedSigner, Scope, SignerError, SystemAccounts, Target};
use crate::state_key::{self, prefix_end, table_prefix, tag_prefix, KeyKind, StateKey};
use crate::store::{Store, StoreError, WriteBatch};
use crate::write_log::{WriteLog, WriteSink};
use binary_format::AddressLength;
use std::collections::BTreeMap;
use std::sync::Arc;
use upgrade_spec::declarations::Scope as DeclaredScope;

/// The accounts an entry of this declared scope may write.
pub fn target_of(scope: DeclaredScope) -> Target {
    match scope {
        DeclaredScope::System => Target::System,
        DeclaredScope::Users => Target::AnyUser,
        DeclaredScope::Both => Target::Everyone,
    }
}

/// A stored value that could not be migrated, and why; its old bytes are untouched. The same on
/// every node: it depends only on the state and the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The canonical key of the value that did not migrate.
    pub key: Vec<u8>,
    /// Why, for people: the transform's error (with its byte offset), the signer's refusal, or
    /// why the instantiation has no migration. Not stable text; do not match on it.
    pub reason: String,
}

impl Failure {
    /// The account the value is held by (a resource's or a group's); `None` for a table item,
    /// which belongs to no account.
    pub fn account(&self, width: AddressLength) -> Option<AccountAddress> {
        match StateKey::decode(&self.key, width).ok()? {
            StateKey::Resource { account, .. } | StateKey::Group { account, .. } => Some(account),
            _ => None,
        }
    }
}

/// A table whose values an entry migrates: its handle and the type of its values, an
/// instantiation of the entry's old struct. Which tables these are is decided where the
/// release is planned (found in state by a rehearsal) and recorded on chain with it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MigratedTable {
    /// The table's handle.
    pub handle: AccountAddress,
    /// The type of its values.
    pub value: StructTag,
}

/// The work a block may still do, and what it has done: resources visited (migrated or
/// failed) and bytes read plus written. Shared by every chunk of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    /// Resources a block may visit; the meter is spent when `resources` reaches it.
    pub max_resources: u64,
    /// Bytes (read plus written) a block may move. One resource larger than this is still
    /// admitted when it is the block's first, or it would never migrate.
    pub max_bytes: u64,
    /// Resources visited so far (migrated or failed; skipped keys cost nothing).
    pub resources: u64,
    /// Bytes read plus written so far: a failed resource counts its old bytes only.
    pub bytes: u64,
}

impl Meter {
    /// A fresh meter with these limits and nothing spent.
    pub fn new(max_resources: u64, max_bytes: u64) -> Meter {
        Meter { max_resources, max_bytes, resources: 0, bytes: 0 }
    }

    /// No limit: a pass over everything (a second pass, a replay, a rehearsal's check).
    pub fn unlimited() -> Meter {
        Meter::new(u64::MAX, u64::MAX)
    }

    /// Whether no further resource fits.
    pub fn is_spent(&self) -> bool {
        self.resources >= self.max_resources
    }

    /// Whether reading `cost` more bytes (a group without a member to migrate) fits.
    fn admits_read(&self, cost: u64) -> bool {
        let first = self.resources == 0 && self.bytes == 0;
        !self.is_spent() && (first || self.bytes.saturating_add(cost) <= self.max_bytes)
    }

    /// Counts bytes read for nothing migrated.
    fn charge_read(&mut self, cost: u64) {
        self.bytes = self.bytes.saturating_add(cost);
    }

    /// Whether one more resource costing `cost` bytes fits. A resource larger than the byte
    /// budget is admitted when nothing else has been done in the block, or it would never be.
    fn admits(&self, cost: u64) -> bool {
        let first = self.resources == 0 && self.bytes == 0;
        !self.is_spent() && (first || self.bytes.saturating_add(cost) <= self.max_bytes)
    }

    fn charge(&mut self, cost: u64) {
        self.resources += 1;
        self.bytes = self.bytes.saturating_add(cost);
    }
}

/// Why a chunk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkEnd {
    /// No key after the cursor holds the old version.
    Exhausted,
    /// The meter is spent: the next block goes on from the cursor.
    OutOfBudget,
    /// The caller's failure callback asked to stop (too many failures: the migration halts).
    Stopped,
}

/// What one chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Values migrated.
    pub migrated: u64,
    /// Values that did not migrate, in key order; their old bytes are untouched and their writes
    /// are not in the batch.
    pub failed: Vec<Failure>,
    /// The last key visited (migrated, failed or skipped): the next chunk starts after it. The
    /// `after` given when nothing was visited.
    pub cursor: Option<Vec<u8>>,
    /// Why the chunk ended: only [`ChunkEnd::Exhausted`] means the entry is done.
    pub end: ChunkEnd,
}

/// An entry made concrete for one stored instantiation, with the keys it reads and writes.
#[derive(Debug)]
pub struct Prepared {
    /// The entry's instance for this instantiation's type arguments.
    pub instance: Instance,
    /// Its signer: what it may write. Made once per instantiation and lent for each value
    /// (cloning its scope per value cost a twentieth of a rehearsal).
    signer: PrivilegedSigner,
    /// `1 ++ BCS(old tag)`: an old key is this and an account.
    old_prefix: Vec<u8>,
    /// `1 ++ BCS(new tag)` (equal to `old_prefix` in place).
    new_prefix: Vec<u8>,
}

impl Prepared {
    /// The key the migrated value of `account` is written at.
    pub fn new_key(&self, account: &AccountAddress) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.new_prefix.len() + account.as_bytes().len());
        self.new_key_into(account, &mut key);
        key
    }

    /// [`Prepared::new_key`] in `key`'s buffer (what it held is replaced): the loop builds one
    /// per value, and a buffer reused costs no allocation.
    pub fn new_key_into(&self, account: &AccountAddress, key: &mut Vec<u8>) {
        key.clear();
        key.extend_from_slice(&self.new_prefix);
        key.extend_from_slice(account.as_bytes());
    }

    /// The key of `account`'s value in the old version.
    pub fn old_key(&self, account: &AccountAddress) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.old_prefix.len() + account.as_bytes().len());
        key.extend_from_slice(&self.old_prefix);
        key.extend_from_slice(account.as_bytes());
        key
    }
}

/// Instantiations met so far, by the BCS of their old tag: built once each, bounded (a state can
/// hold any number of instantiations; past the bound the cache starts again, costing time, never
/// memory).
#[derive(Debug, Default)]
pub struct Instances {
    built: BTreeMap<Vec<u8>, Result<Arc<Prepared>, String>>,
}

/// Instantiations a cache keeps before it starts again.
const MAX_CACHED_INSTANCES: usize = 1024;

/// One old value migrated: its instance and new bytes, or why it does not migrate.
type Transformed = Result<(Arc<Prepared>, Vec<u8>), String>;

/// Runs the migration of one catalogue entry.
#[derive(Debug, Clone)]
pub struct Runner {
    catalogue: Arc<Catalogue>,
    /// The entry (a copy of the catalogue's).
    entry: Entry,
    target: Target,
    system: SystemAccounts,
    /// Every resource key of every instantiation of the old struct starts with this.
    keyspace: Vec<u8>,
    /// The largest value a migration may write (the chain's limit: a value over it is that
    /// resource's failure, the same on every node, never a store error).
    max_value_size: usize,
    /// The one instance of an entry without type parameters, built once.
    fixed: Option<Arc<Prepared>>,
    /// Whether the struct can be a resource group's member (it has `key`): the runner then
    /// reads every group.
    groups: bool,
    /// The tables whose values it migrates, by key prefix (in key order).
    tables: Vec<TablePlace>,
    /// Their handles, sorted: what every instance's signer may write items of.
    tables_scope: Vec<AccountAddress>,
    /// Instantiations met by single-key migrations ([`Runner::migrate_key`]: a read that
    /// migrates its value), kept across calls: building one derives its plan (microseconds),
    /// which every read of a generic struct's value would otherwise pay. A runner made from this
    /// one with other settings starts its own.
    accessed: Arc<std::sync::Mutex<Instances>>,
}

/// A table whose items the runner migrates.
#[derive(Debug, Clone)]
struct TablePlace {
    handle: AccountAddress,
    /// `3 ++ handle`: every item's key starts with it.
    prefix: Vec<u8>,
    /// The entry made concrete for the table's value type.
    prepared: Arc<Prepared>,
}

/// The kinds of place a runner walks, in key order.
#[derive(Debug, Clone, Copy)]
enum Place<'r> {
    Resources,
    Groups,
    Table(&'r TablePlace),
}

/// What visiting one key came to.
enum Visit {
    /// Migrated (its writes are in the batch).
    Migrated,
    /// Nothing of the entry's there: `cost` bytes read.
    Nothing(u64),
    /// Did not migrate.
    Failed(String),
}

/// Why a runner cannot be made for an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("migration `{id}`: {reason}")]
pub struct RunnerError {
    /// The entry.
    pub id: String,
    /// What is wrong.
    pub reason: String,
}

impl Runner {
    /// The runner of catalogue entry `id`, writing in the accounts the entry's scope names given
    /// the chain's system accounts, refusing to write values over `max_value_size` bytes.
    pub fn new(
        catalogue: Arc<Catalogue>,
        id: &str,
        system: &SystemAccounts,
        max_value_size: usize,
    ) -> Result<Runner, RunnerError> {
        let fail = |reason: String| RunnerError { id: id.to_owned(), reason };
        let entry = catalogue.entry(id).cloned().ok_or_else(|| fail("not in the catalogue".into()))?;
        let keyspace =
            state_key::struct_prefix(KeyKind::Resource, &entry.from, &entry.struct_name, catalogue.address_length())
                .map_err(|err| fail(err.to_string()))?;
        let target = target_of(entry.scope);
        let groups = catalogue
            .old_modules()
            .iter()
            .find(|m| m.id() == entry.from)
            .and_then(|m| m.find_struct(&entry.struct_name))
            .is_some_and(|s| s.abilities.has(binary_format::Ability::Key));
        let mut runner = Runner {
            catalogue,
            entry,
            target,
            system: system.clone(),
            keyspace,
            max_value_size,
            fixed: None,
            groups,
            tables: Vec::new(),
            tables_scope: Vec::new(),
            accessed: Arc::default(),
        };
        if !runner.entry().generic {
            let prepared = runner.prepare(&[]).map_err(fail)?;
            runner.fixed = Some(Arc::new(prepared));
        }
        Ok(runner)
    }

    /// The same runner, migrating also the values of `tables` (those whose values are
    /// instances of its struct; the others are refused, naming them).
    pub fn with_tables(&self, tables: &[MigratedTable]) -> Result<Runner, RunnerError> {
        let fail = |reason: String| RunnerError { id: self.entry.id.clone(), reason };
        let mut runner = Runner { tables: Vec::new(), accessed: Arc::default(), ..self.clone() };
        let mut handles: Vec<AccountAddress> = tables.iter().map(|t| t.handle).collect();
        handles.sort();
        handles.dedup();
        if handles.len() != tables.len() {
            return Err(fail("a table is listed twice".to_owned()));
        }
        // Every instance's signer may write the items of every listed table.
        runner.fixed = None;
        runner.tables_scope = handles;
        if !runner.entry().generic {
            runner.fixed = Some(Arc::new(runner.prepare(&[]).map_err(fail)?));
        }
        let mut places = Vec::with_capacity(tables.len());
        for t in tables {
            if t.value.module_id() != runner.entry.from || t.value.name != runner.entry.struct_name {
                return Err(fail(format!(
                    "table {} holds {}, not an instance of {}::{}",
                    t.handle, t.value, runner.entry.from, runner.entry.struct_name
                )));
            }
            let prepared = runner.prepare(&t.value.type_args).map_err(|e| fail(format!("table {}: {e}", t.handle)))?;
            places.push(TablePlace { handle: t.handle, prefix: table_prefix(&t.handle), prepared: Arc::new(prepared) });
        }
        places.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        runner.tables = places;
        Ok(runner)
    }

    /// The tables whose values it migrates, by handle, in key order.
    pub fn tables(&self) -> impl Iterator<Item = &AccountAddress> {
        self.tables.iter().map(|t| &t.handle)
    }

    /// The key prefixes its loop walks, in key order: its resources' key space, the resource
    /// groups when its struct may be a member of one, and its tables' items. Nothing it
    /// migrates lies outside them (a caller splitting the state by the work each part holds
    /// weighs them).
    pub fn walks(&self) -> Vec<Vec<u8>> {
        self.places().into_iter().map(|(prefix, _)| prefix).collect()
    }

    /// The places it walks, in key order.
    fn places(&self) -> Vec<(Vec<u8>, Place<'_>)> {
        let mut places = vec![(self.keyspace.clone(), Place::Resources)];
        if self.groups {
            places.push((vec![KeyKind::Group as u8], Place::Groups));
        }
        places.extend(self.tables.iter().map(|t| (t.prefix.clone(), Place::Table(t))));
        places
    }

    /// The same runner refusing to write values over `max_value_size` bytes (the chain's
    /// recorded limit, when it differs from this node's configuration).
    pub fn with_max_value_size(&self, max_value_size: usize) -> Runner {
        Runner { max_value_size, accessed: Arc::default(), ..self.clone() }
    }

    /// The largest value it writes.
    pub fn max_value_size(&self) -> usize {
        self.max_value_size
    }

    /// The catalogue entry this runner runs.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The catalogue the entry belongs to.
    pub fn catalogue(&self) -> &Arc<Catalogue> {
        &self.catalogue
    }

    /// The prefix of every resource key the entry reads: its key space.
    pub fn keyspace(&self) -> &[u8] {
        &self.keyspace
    }

    /// Whether the struct keeps its tag and changes layout where it stands.
    pub fn is_in_place(&self) -> bool {
        self.entry().is_in_place()
    }

    fn width(&self) -> AddressLength {
        self.catalogue.address_length()
    }

    /// The entry made concrete for `type_args`.
    fn prepare(&self, type_args: &[crate::TypeTag]) -> Result<Prepared, String> {
        let instance = self.catalogue.instance(&self.entry, type_args).map_err(|e| e.to_string())?;
        let retires = (!instance.is_in_place()).then(|| instance.old_tag.clone());
        let scope = Scope {
            tag: instance.new_tag.clone(),
            target: self.target,
            retires,
            system: self.system.clone(),
            tables: self.tables_scope.clone(),
        };
        let old_prefix = tag_prefix(KeyKind::Resource, &instance.old_tag);
        let new_prefix = tag_prefix(KeyKind::Resource, &instance.new_tag);
        Ok(Prepared { instance, signer: PrivilegedSigner::new(scope), old_prefix, new_prefix })
    }

    /// The instantiation of an old key (`1 ++ BCS(tag) ++ account`): its prepared instance (or
    /// why there is none) and the account.
    pub fn resolve(
        &self,
        key: &[u8],
        cache: &mut Instances,
    ) -> Result<(Result<Arc<Prepared>, String>, AccountAddress), String> {
        let width = self.width().bytes();
        let split = key.len().checked_sub(width).filter(|s| *s > self.keyspace.len());
        let (Some(head), Some(tail)) = (split.and_then(|s| key.get(..s)), split.and_then(|s| key.get(s..))) else {
            return Err(format!("{} is not a resource key of this chain", state_key::describe(key, self.width())));
        };
        let account = AccountAddress::new(tail).map_err(|e| e.to_string())?;
        if let Some(fixed) = &self.fixed {
            if fixed.old_prefix == head {
                return Ok((Ok(fixed.clone()), account));
            }
            // An instantiation of a struct declared without type parameters: not a key of it.
            return Ok((
                Err(format!(
                    "{} is not an instance of {}",
                    state_key::describe(key, self.width()),
                    fixed.instance.old_tag
                )),
                account,
            ));
        }
        if let Some(found) = cache.built.get(head) {
            return Ok((found.clone(), account));
        }
        let tag_bytes = head.get(1..).unwrap_or_default();
        let built = StructTag::from_bcs(tag_bytes, self.width())
            .map_err(|e| format!("its tag does not decode: {e}"))
            .and_then(|tag| self.prepare(&tag.type_args).map_err(|e| format!("no migration for {tag}: {e}")))
            .map(Arc::new);
        if cache.built.len() >= MAX_CACHED_INSTANCES {
            cache.built.clear();
        }
        cache.built.insert(head.to_vec(), built.clone());
        Ok((built, account))
    }

    /// Lends `f` a signer for `prepared`'s scope (its instantiation's new tag, in the accounts
    /// the entry's scope names), valid for the call only.
    pub fn with_signer<R>(&self, prepared: &Prepared, f: impl FnOnce(&PrivilegedSigner) -> R) -> R {
        f(&prepared.signer)
    }

    /// The migrated bytes of one old value, written nowhere: what a read-only view shows, and
    /// what the loop writes (at [`Prepared::new_key`]).
    pub fn transform_value(&self, prepared: &Prepared, old: &[u8]) -> Result<Vec<u8>, String> {
        let mut new = Vec::with_capacity(old.len() + 16);
        prepared.instance.transform(old, &mut new)?;
        self.fits("value", &new)?;
        Ok(new)
    }

    /// Refuses a migrated `what` (a value, a group) larger than the chain accepts: the chain
    /// would refuse the write, so the value fails here, the same on every node.
    fn fits(&self, what: &str, new: &[u8]) -> Result<(), String> {
        if new.len() > self.max_value_size {
            return Err(format!(
                "the migrated {what} is {} bytes, more than the chain's limit of {}",
                new.len(),
                self.max_value_size
            ));
        }
        Ok(())
    }

    /// Writes the migrated value of `account` into `batch` through a signer of `prepared`'s
    /// scope (and, versioned, deletes the old key).
    fn write(
        &self,
        prepared: &Prepared,
        account: AccountAddress,
        old_key: &[u8],
        new_key: &[u8],
        new: Vec<u8>,
        batch: &mut impl WriteSink,
    ) -> Result<(), String> {
        // The signer's tag is the instance's new tag (`prepare` made its scope from it): each
        // value checks only its account, before anything is written.
        self.with_signer(prepared, |signer| {
            let checked = signer.check_account(&account).map_err(|e: SignerError| e.to_string())?;
            if signer.scope().retires.is_some() {
                signer.delete_retired_at(batch, &checked, old_key).map_err(|e| e.to_string())?;
            }
            signer.put_own_at(batch, &checked, new_key, new).map_err(|e| e.to_string())
        })
    }

    /// The migrated group value at `key` (a group held by `account`): every member of the
    /// entry's struct transformed (its tag changed when the struct moved), the others carried
    /// over; `Visit::Nothing` when it holds none. Writes go to `batch` through each instance's
    /// signer.
    fn visit_group(
        &self,
        key: &[u8],
        account: AccountAddress,
        old: &[u8],
        cache: &mut Instances,
        batch: &mut WriteBatch,
    ) -> (Visit, u64) {
        let width = self.width();
        let members = match decode_group(old, width) {
            Ok(m) => m,
            Err(e) => return (Visit::Failed(e.to_string()), old.len() as u64),
        };
        let ours = |tag: &StructTag| tag.module_id() == self.entry.from && tag.name == self.entry.struct_name;
        if !members.iter().any(|m| ours(&m.tag)) {
            return (Visit::Nothing(old.len() as u64), old.len() as u64);
        }
        let mut new_members: Vec<(StructTag, Vec<u8>)> = Vec::with_capacity(members.len());
        let mut signed: Vec<Arc<Prepared>> = Vec::new();
        for m in &members {
            if !ours(&m.tag) {
                new_members.push((m.tag.clone(), m.bytes.to_vec()));
                continue;
            }
            let prepared = match self.prepared_of(&m.tag, cache) {
                Ok(p) => p,
                Err(reason) => return (Visit::Failed(format!("member {}: {reason}", m.tag)), old.len() as u64),
            };
            let mut bytes = Vec::with_capacity(m.bytes.len() + 16);
            if let Err(reason) = prepared.instance.transform(m.bytes, &mut bytes) {
                return (Visit::Failed(format!("member {}: {reason}", m.tag)), old.len() as u64);
            }
            new_members.push((prepared.instance.new_tag.clone(), bytes));
            signed.push(prepared);
        }
        let new = match encode_group(new_members.iter().map(|(t, b)| (t, b.as_slice()))) {
            Ok(v) => v,
            Err(e) => return (Visit::Failed(e.to_string()), old.len() as u64),
        };
        let cost = (old.len() + new.len()) as u64;
        if let Err(reason) = self.fits("group", &new) {
            return (Visit::Failed(reason), old.len() as u64);
        }
        // Every migrated member's signer must allow its write; the group is written once.
        let mut one = WriteBatch::new();
        for prepared in &signed {
            let checked = self.with_signer(prepared, |signer| {
                signer.put_group(&mut one, account, &prepared.instance.new_tag, key, new.clone())
            });
            if let Err(e) = checked {
                return (Visit::Failed(e.to_string()), old.len() as u64);
            }
        }
        batch.extend(one);
        (Visit::Migrated, cost)
    }

    /// The migrated value of one item of `table`, written into `batch`.
    fn visit_item(&self, table: &TablePlace, key: &[u8], old: &[u8], batch: &mut WriteBatch) -> (Visit, u64) {
        let mut new = Vec::with_capacity(old.len() + 16);
        if let Err(reason) = table.prepared.instance.transform(old, &mut new) {
            return (Visit::Failed(reason), old.len() as u64);
        }
        if let Err(reason) = self.fits("value", &new) {
            return (Visit::Failed(reason), old.len() as u64);
        }
        let cost = (old.len() + new.len()) as u64;
        let written = self.with_signer(&table.prepared, |signer| {
            signer.put_table_item(batch, &table.handle, key, new).map_err(|e| e.to_string())
        });
        match written {
            Ok(()) => (Visit::Migrated, cost),
            Err(reason) => (Visit::Failed(reason), old.len() as u64),
        }
    }

    /// The migrated resource at `key`, written into `batch`; its new key is built in
    /// `new_key` (a buffer the caller reuses).
    #[allow(clippy::too_many_arguments)]
    fn visit_resource(
        &self,
        key: &[u8],
        prepared: Result<Arc<Prepared>, String>,
        account: AccountAddress,
        old: &[u8],
        new_key: &mut Vec<u8>,
        batch: &mut impl WriteSink,
    ) -> (Visit, u64) {
        let (outcome, cost) = self.transform_resource(prepared, old);
        (self.write_resource(outcome, account, key, new_key, batch), cost)
    }

    /// The migrated bytes of one resource's old value, and what migrating it costs the meter
    /// (the old bytes read, the new ones written).
    fn transform_resource(&self, prepared: Result<Arc<Prepared>, String>, old: &[u8]) -> (Transformed, u64) {
        let outcome = prepared.and_then(|p| {
            let new = self.transform_value(&p, old)?;
            Ok((p, new))
        });
        let cost = old.len() as u64 + outcome.as_ref().map_or(0, |(_, new)| new.len() as u64);
        (outcome, cost)
    }

    /// Writes a migrated resource of `account` (its old key `key`) to `batch`.
    fn write_resource(
        &self,
        outcome: Transformed,
        account: AccountAddress,
        key: &[u8],
        new_key: &mut Vec<u8>,
        batch: &mut impl WriteSink,
    ) -> Visit {
        match outcome.and_then(|(p, new)| {
            p.new_key_into(&account, new_key);
            self.write(&p, account, key, new_key, new, batch)
        }) {
            Ok(()) => Visit::Migrated,
            Err(reason) => Visit::Failed(reason),
        }
    }

    /// The prepared instance of a member's (or a resource's) old tag.
    fn prepared_of(&self, tag: &StructTag, cache: &mut Instances) -> Result<Arc<Prepared>, String> {
        if let Some(fixed) = &self.fixed {
            return if fixed.instance.old_tag == *tag {
                Ok(fixed.clone())
            } else {
                Err(format!("{tag} is not an instance of {}", fixed.instance.old_tag))
            };
        }
        let head = tag_prefix(KeyKind::Resource, tag);
        if let Some(found) = cache.built.get(&head) {
            return found.clone();
        }
        let built = self.prepare(&tag.type_args).map_err(|e| format!("no migration for {tag}: {e}")).map(Arc::new);
        if cache.built.len() >= MAX_CACHED_INSTANCES {
            cache.built.clear();
        }
        cache.built.insert(head, built.clone());
        built
    }

    /// The account a group or table key is held by, for `skip`: a group's account, a table's
    /// handle (a table item belongs to no account; callers tell the kinds apart by the key).
    fn holder(&self, key: &[u8]) -> AccountAddress {
        let width = self.width().bytes();
        let bytes = match key.first().copied().and_then(KeyKind::of_byte) {
            Some(KeyKind::TableItem) => key.get(1..1 + width),
            _ => key.len().checked_sub(width).and_then(|at| key.get(at..)),
        };
        bytes.and_then(|b| AccountAddress::new(b).ok()).unwrap_or_else(|| AccountAddress::zero(self.width()))
    }

    /// The one migration loop. Migrates the values of the entry's places after `after`, in
    /// key order (its resources, the groups that hold members of its struct, the items of its
    /// tables), until none is left, `meter` is spent, or `on_failure` (told of each value that
    /// does not migrate) returns `true`. Keys for which `skip` returns true are passed over (the
    /// cursor moves past them); `skip` is given the key's account (a table item's handle).
    /// Writes go into `batch`, which the caller applies (or drops, to roll the chunk back);
    /// `store` is only read.
    #[allow(clippy::too_many_arguments)]
    pub fn migrate_chunk(
        &self,
        store: &dyn Store,
        after: Option<&[u8]>,
        meter: &mut Meter,
        skip: &mut dyn FnMut(&[u8], &AccountAddress) -> bool,
        on_failure: &mut dyn FnMut(&Failure) -> bool,
        batch: &mut WriteBatch,
    ) -> Result<Chunk, StoreError> {
        let mut chunk =
            Chunk { migrated: 0, failed: Vec::new(), cursor: after.map(<[u8]>::to_vec), end: ChunkEnd::Exhausted };
        if meter.is_spent() {
            chunk.end = ChunkEnd::OutOfBudget;
            return Ok(chunk);
        }
        let mut cache = Instances::default();
        // Each value's writes, gathered and sorted into `batch` once at the end.
        // A value writes its new version and deletes its old one (two runs, most often), one
        // value per resource the meter has room for.
        let room = usize::try_from(meter.max_resources.saturating_sub(meter.resources)).unwrap_or(usize::MAX);
        let mut log = WriteLog::with_capacity(room);
        // One value's writes, moved to the log when the meter admits them: one batch for all
        // (its allocation reused), not one per value.
        let mut one = WriteBatch::new();
        let mut new_key = Vec::new();
        for (prefix, place) in self.places() {
            // A place wholly before the cursor is done.
            if let (Some(a), Some(end)) = (after, prefix_end(&prefix)) {
                if a >= end.as_slice() {
                    continue;
                }
            }
            let mut stopped = false;
            store.scan_keys(&prefix, after, &mut |key, old| {
                let (visit, cost) = match place {
                    Place::Resources => {
                        let (prepared, account) = match self.resolve(key, &mut cache) {
                            Ok(found) => found,
                            Err(reason) => (Err(reason), AccountAddress::zero(self.width())),
                        };
                        if skip(key, &account) {
                            set_cursor(&mut chunk.cursor, key);
                            return true;
                        }
                        // Written straight into the log once the meter admits the value: its
                        // cost is known before anything is written.
                        let (outcome, cost) = self.transform_resource(prepared, old);
                        if !meter.admits(cost) {
                            chunk.end = ChunkEnd::OutOfBudget;
                            stopped = true;
                            return false;
                        }
                        (self.write_resource(outcome, account, key, &mut new_key, &mut log), cost)
                    }
                    Place::Groups => {
                        let account = self.holder(key);
                        if skip(key, &account) {
                            set_cursor(&mut chunk.cursor, key);
                            return true;
                        }
                        one.clear();
                        let (visit, cost) = self.visit_group(key, account, old, &mut cache, &mut one);
                        let fits = match visit {
                            Visit::Nothing(_) => meter.admits_read(cost),
                            _ => meter.admits(cost),
                        };
                        if !fits {
                            chunk.end = ChunkEnd::OutOfBudget;
                            stopped = true;
                            return false;
                        }
                        log.add_from(&mut one);
                        (visit, cost)
                    }
                    Place::Table(table) => {
                        if skip(key, &table.handle) {
                            set_cursor(&mut chunk.cursor, key);
                            return true;
                        }
                        one.clear();
                        let (visit, cost) = self.visit_item(table, key, old, &mut one);
                        if !meter.admits(cost) {
                            chunk.end = ChunkEnd::OutOfBudget;
                            stopped = true;
                            return false;
                        }
                        log.add_from(&mut one);
                        (visit, cost)
                    }
                };
                set_cursor(&mut chunk.cursor, key);
                match visit {
                    Visit::Nothing(read) => meter.charge_read(read),
                    Visit::Migrated => {
                        meter.charge(cost);
                        chunk.migrated += 1;
                    }
                    Visit::Failed(reason) => {
                        meter.charge(cost);
                        let failure = Failure { key: key.to_vec(), reason };
                        let halt = on_failure(&failure);
                        chunk.failed.push(failure);
                        if halt {
                            chunk.end = ChunkEnd::Stopped;
                            stopped = true;
                            return false;
                        }
                    }
                }
                if meter.is_spent() {
                    chunk.end = ChunkEnd::OutOfBudget;
                    stopped = true;
                    return false;
                }
                true
            })?;
            if stopped {
                break;
            }
        }
        batch.extend(log.into_batch());
        Ok(chunk)
    }

    /// [`Runner::migrate_chunk`] over `store` from `after`, within `meter`, skipping nothing and
    /// never stopping on failures, its batch applied at once: the simplest way to migrate.
    pub fn run(&self, store: &mut dyn Store, after: Option<&[u8]>, meter: &mut Meter) -> Result<Chunk, StoreError> {
        let mut batch = WriteBatch::new();
        let chunk = self.migrate_chunk(&*store, after, meter, &mut |_, _| false, &mut |_| false, &mut batch)?;
        store.apply(batch)?;
        Ok(chunk)
    }

    /// The keys of this entry's values that `account` holds, in key order: one resource per
    /// instantiation, and the groups holding a member of its struct. What the system part
    /// migrates at activation. One seek per instantiation and per group tag in state.
    pub fn keys_of(&self, store: &dyn Store, account: &AccountAddress) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        if let Some(fixed) = &self.fixed {
            let key = fixed.old_key(account);
            if store.get_key(&key)?.is_some() {
                out.push(key);
            }
        } else {
            self.each_tag(store, &self.keyspace, &mut |head| {
                let mut key = head.to_vec();
                key.extend_from_slice(account.as_bytes());
                if store.get_key(&key)?.is_some() {
                    out.push(key);
                }
                Ok(())
            })?;
        }
        if self.groups {
            let mut cache = Instances::default();
            self.each_tag(store, &[KeyKind::Group as u8], &mut |head| {
                let mut key = head.to_vec();
                key.extend_from_slice(account.as_bytes());
                if let Some(value) = store.get_key(&key)? {
                    let mut probe = WriteBatch::new();
                    if !matches!(self.visit_group(&key, *account, &value, &mut cache, &mut probe).0, Visit::Nothing(_))
                    {
                        out.push(key);
                    }
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// Calls `each` with the tag prefix (`kind ++ BCS(tag)`) of every tag that has a key under
    /// `prefix`, in key order: one seek per tag.
    fn each_tag(
        &self,
        store: &dyn Store,
        prefix: &[u8],
        each: &mut dyn FnMut(&[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let width = self.width();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let mut head: Option<Vec<u8>> = None;
            store.scan_keys(prefix, after.as_deref(), &mut |key, _| {
                head = key.len().checked_sub(width.bytes()).and_then(|s| key.get(..s)).map(<[u8]>::to_vec);
                false
            })?;
            let Some(head) = head else { return Ok(()) };
            each(&head)?;
            after = Some(state_key::after_tag(&head, width));
        }
    }

    /// Migrates the value at one key now, into `batch` (the system part at activation, or an
    /// access during the window): a resource of the entry's struct, a group holding members of
    /// it, or an item of one of its tables, reading through `store` (which should see `batch`'s
    /// earlier writes). `Ok(None)` when no value of the entry's is there. The caller knows, in
    /// place, that the bytes at the key are still old.
    pub fn migrate_key(
        &self,
        store: &dyn Store,
        key: &[u8],
        batch: &mut WriteBatch,
    ) -> Result<Option<Result<(), Failure>>, StoreError> {
        let Some(old) = store.get_key(key)? else { return Ok(None) };
        // The cache is held only while an instance is looked up (reads of one hook run on
        // several threads). A poisoned lock (a panic elsewhere while it was held) leaves a cache
        // that is still whole: each entry is inserted complete.
        let cache = || self.accessed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut one = WriteBatch::new();
        let visit = match key.first().copied().and_then(KeyKind::of_byte) {
            Some(KeyKind::Resource) => {
                let resolved = self.resolve(key, &mut cache());
                let (prepared, account) = match resolved {
                    Ok(found) => found,
                    Err(reason) => return Ok(Some(Err(Failure { key: key.to_vec(), reason }))),
                };
                self.visit_resource(key, prepared, account, &old, &mut Vec::new(), &mut one).0
            }
            // A group's members are looked up as they are met, under the one lock.
            Some(KeyKind::Group) if self.groups => {
                self.visit_group(key, self.holder(key), &old, &mut cache(), &mut one).0
            }
            Some(KeyKind::TableItem) => match self.tables.iter().find(|t| key.starts_with(&t.prefix)) {
                Some(table) => self.visit_item(table, key, &old, &mut one).0,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        Ok(match visit {
            Visit::Nothing(_) => None,
            Visit::Migrated => {
                batch.extend(one);
                Some(Ok(()))
            }
            Visit::Failed(reason) => Some(Err(Failure { key: key.to_vec(), reason })),
        })
    }
}

/// Moves a chunk's cursor to `key`, in the cursor's own buffer (a chunk moves it at every key).
fn set_cursor(cursor: &mut Option<Vec<u8>>, key: &[u8]) {
    match cursor {
        Some(held) => {
            held.clear();
            held.extend_from_slice(key);
        }
        None => *cursor = Some(key.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_admits_one_oversize_resource_alone() {
        let mut m = Meter::new(10, 100);
        assert!(m.admits(500));
        m.charge(500);
        assert!(!m.admits(1));
        let mut m = Meter::new(2, 100);
        m.charge(10);
        assert!(m.admits(90));
        assert!(!m.admits(91));
        m.charge(10);
        assert!(m.is_spent() && !m.admits(0));
    }

    #[test]
    fn a_failure_names_its_account() {
        let w = AddressLength::Bytes16;
        let a = AccountAddress::from_u64(9, w);
        let tag = StructTag::parse("0x1::Wallet::Wallet", w).unwrap();
        let f = Failure { key: state_key::resource_key(&a, &tag), reason: String::new() };
        assert_eq!(f.account(w), Some(a));
    }
}
