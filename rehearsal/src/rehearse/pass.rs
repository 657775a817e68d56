//! The pass over the whole state after the migration, one key range per thread: the source's
//! entries and the migration's writes merged in key order, so that in one read every entry is
//! decoded before (old layouts) and after (new layouts), both state roots are hashed, every
//! stored instance of a changed struct is accounted for (migrated, failed, or left behind with
//! why), and the instances that would halt the chain are named.
//!
//! Each range's result is combined with the others' in key order, and every list of examples
//! keeps the first ones in key order: the report is the same whatever the number of ranges.

use super::distinct::Distinct;
use super::findings::{Example, Halt, Removed};
use super::gate::{Carried, NeedInfo};
use super::instances::{Instances, Outcome};
use super::layouts::{Known, Layouts};
use super::overlay::{Overlay, Writes};
use super::Bounded;
use crate::error::RehearsalError;
use binary_format::{AddressLength, Module, ModuleId};
use migrations::group::decode_group;
use migrations::tables::TableType;
use migrations::{AccountAddress, KeyKind, ReleaseIndex, StructTag};
use migrations::{StateKey, TypeTag};
use snapshot::Snapshot;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::rc::Rc;
use vm_hooks::{ends_page, Pages, RootHasher};

/// What the pass is given.
#[allow(missing_debug_implementations)]
pub struct PassInput<'a> {
    pub base: &'a Snapshot,
    pub overlays: &'a [Overlay<'a>],
    pub old: &'a [&'a Module],
    pub new: &'a [&'a Module],
    pub width: AddressLength,
    /// The structs the upgrade must migrate, by their old (module, name).
    pub needs: &'a BTreeMap<(ModuleId, String), NeedInfo>,
    /// Values whose migration failed: key -> (migration, reason).
    pub failures: &'a BTreeMap<Vec<u8>, (String, String)>,
    pub system_accounts: &'a [AccountAddress],
    pub examples: usize,
    /// Every table whose types are known (found in the state or stated), by handle.
    pub tables: &'a BTreeMap<AccountAddress, TableType>,
    /// The tables the migrations rewrite (the others' values of a changed struct are left).
    pub migrated_tables: &'a BTreeSet<AccountAddress>,
    /// The memory one value may take when it is built ([`super::Options::value_budget`]).
    pub value_budget: usize,
}

/// One stream's side of the pass: the source before, or the merged state after.
#[derive(Debug, Default)]
pub struct SideCounts {
    pub entries: u64,
    pub resources: u64,
    pub bytes: u64,
    pub decoded: u64,
    pub undecodable: u64,
    pub examples: Bounded<Example>,
    pub pages: Pages,
}

/// What one range found.
#[derive(Debug, Default)]
pub struct Partial {
    pub before: SideCounts,
    pub after: SideCounts,
    /// Undecodable after the upgrade but decodable before it (or written by it).
    pub broken_by_upgrade: u64,
    pub accounts: Distinct,
    /// Would halt: change -> instances.
    pub halts: BTreeMap<String, Halt>,
    /// Structs the new release removed, with instances left.
    pub removed: BTreeMap<String, Removed>,
    /// Resources of structs neither release declares (user modules' structs): not the upgrade's.
    pub unknown: u64,
    pub unknown_examples: Bounded<String>,
    /// Table items whose table's types are not known: they cannot be judged.
    pub unresolved_items: u64,
    /// Resource-group members and table values seen (before).
    pub members: u64,
    pub table_values: u64,
    /// Per instantiation (its rendered tag), the first ones: the migration that carries it, and
    /// its counts; the others per migration.
    pub instances: Instances,
    /// Entries by kind (before).
    pub kinds: BTreeMap<&'static str, u64>,
    /// The same, while the range is read: by [`KIND_NAMES`]' order.
    kind_tally: [u64; KIND_NAMES.len()],
}

impl SideCounts {
    fn merge(&mut self, other: SideCounts) {
        self.entries += other.entries;
        self.resources += other.resources;
        self.bytes += other.bytes;
        self.decoded += other.decoded;
        self.undecodable += other.undecodable;
        self.examples.extend(other.examples);
        self.pages.hashes.extend(other.pages.hashes);
        self.pages.count += other.pages.count;
    }
}

impl Partial {
    /// This range's results followed by the next range's.
    pub fn merge(&mut self, other: Partial) {
        self.before.merge(other.before);
        self.after.merge(other.after);
        self.broken_by_upgrade += other.broken_by_upgrade;
        self.accounts.merge(other.accounts);
        for (k, h) in other.halts {
            match self.halts.get_mut(&k) {
                Some(mine) => {
                    mine.accounts += h.accounts;
                    mine.examples.extend(h.examples);
                }
                None => {
                    self.halts.insert(k, h);
                }
            }
        }
        for (k, r) in other.removed {
            match self.removed.get_mut(&k) {
                Some(mine) => {
                    mine.resources += r.resources;
                    mine.examples.extend(r.examples);
                }
                None => {
                    self.removed.insert(k, r);
                }
            }
        }
        self.unknown += other.unknown;
        self.unknown_examples.extend(other.unknown_examples);
        self.unresolved_items += other.unresolved_items;
        self.members += other.members;
        self.table_values += other.table_values;
        self.instances.merge(other.instances);
        for (k, n) in other.kinds {
            *self.kinds.entry(k).or_default() += n;
        }
    }
}

/// What a stored value's type means, worked out once per type.
struct TypeInfo {
    /// The type, rendered.
    rendered: String,
    /// The struct it is an instance of, when it is a struct.
    tag: Option<StructTag>,
    old: Result<Known, String>,
    new: Result<Known, String>,
    in_old: bool,
    in_new: bool,
    need: Option<NeedInfo>,
}

/// Types met, cached: the last resource key head (keys of one tag come in a run), and every
/// other type by its tag (bounded).
struct Tags<'a> {
    old: Layouts<'a>,
    new: Layouts<'a>,
    width: AddressLength,
    needs: &'a BTreeMap<(ModuleId, String), NeedInfo>,
    last: Option<(Vec<u8>, Rc<TypeInfo>)>,
    by_type: BTreeMap<TypeTag, Rc<TypeInfo>>,
}

/// Types a pass keeps before it starts again.
const TYPE_CACHE: usize = 4096;

impl Tags<'_> {
    /// The type of resource key `key` (kind, tag, account), and the account's bytes (of the
    /// chain's width: an address is made of them only where a finding names it).
    fn of<'k>(&mut self, key: &'k [u8]) -> Option<(Rc<TypeInfo>, &'k [u8])> {
        let split = key.len().checked_sub(self.width.bytes())?;
        let (head, account) = (key.get(..split)?, key.get(split..)?);
        if self.last.as_ref().is_none_or(|(h, _)| h.as_slice() != head) {
            let tag = StructTag::from_bcs(head.get(1..)?, self.width).ok()?;
            let info = self.of_type(&TypeTag::Struct(Box::new(tag)));
            self.last = Some((head.to_vec(), info));
        }
        self.last.as_ref().map(|(_, t)| (t.clone(), account))
    }

    /// What type `ty` means.
    fn of_type(&mut self, ty: &TypeTag) -> Rc<TypeInfo> {
        if let Some(found) = self.by_type.get(ty) {
            return found.clone();
        }
        let tag = match ty {
            TypeTag::Struct(t) => Some((**t).clone()),
            _ => None,
        };
        let info = Rc::new(TypeInfo {
            rendered: match &tag {
                Some(t) => t.to_string(),
                None => ty.to_string(),
            },
            old: self.old.get_type(ty),
            new: self.new.get_type(ty),
            in_old: tag.as_ref().is_none_or(|t| self.old.declares(t)),
            in_new: tag.as_ref().is_none_or(|t| self.new.declares(t)),
            need: tag.as_ref().and_then(|t| self.needs.get(&(t.module_id(), t.name.clone())).cloned()),
            tag,
        });
        if self.by_type.len() >= TYPE_CACHE {
            self.by_type.clear();
        }
        self.by_type.insert(ty.clone(), info.clone());
        info
    }
}

/// Where a value is held: its account, if it is in one, and how people name the place (made
/// only when a finding names it: most values are named by nobody).
struct Held<'a> {
    /// The account's bytes, of the chain's width.
    account: Option<&'a [u8]>,
    place: Place<'a>,
    label: std::cell::OnceCell<String>,
}

/// What kind of place holds a value.
enum Place<'a> {
    Account,
    Member(&'a StructTag),
    Item(AccountAddress, &'a [u8]),
}

impl<'a> Held<'a> {
    fn new(account: Option<&'a [u8]>, place: Place<'a>) -> Held<'a> {
        Held { account, place, label: std::cell::OnceCell::new() }
    }

    /// The account, as an address.
    fn address(&self) -> Option<AccountAddress> {
        self.account.and_then(|bytes| AccountAddress::new(bytes).ok())
    }

    fn label(&self) -> &str {
        self.label.get_or_init(|| match (&self.place, &self.address()) {
            (Place::Account, Some(account)) => account.to_string(),
            (Place::Member(group), Some(account)) => format!("{account} (a member of its {group})"),
            (Place::Item(handle, key), _) => item_label(handle, key),
            (_, None) => String::new(),
        })
    }
}

/// How a table item is named: its table and its key's bytes (the first of them).
fn item_label(handle: &AccountAddress, key: &[u8]) -> String {
    const SHOWN: usize = 32;
    let hex: String = key.iter().take(SHOWN).map(|b| format!("{b:02x}")).collect();
    let more = if key.len() > SHOWN { "..." } else { "" };
    format!("table {handle} item 0x{hex}{more}")
}

/// A root's pages over one range: hashing starts at the first page start at or after the range
/// (the first range starts one) and goes on past the range's end to the first page end.
struct Paged {
    hasher: RootHasher,
    started: bool,
    done: bool,
}

impl Paged {
    fn new(first: bool) -> Paged {
        Paged { hasher: RootHasher::new(), started: first, done: false }
    }

    /// Feeds one entry; `past` says whether the key is at or after the range's end.
    fn add(&mut self, key: &[u8], value: &[u8], extra: &[u8], past: bool) {
        if self.done {
            return;
        }
        if self.started {
            if self.hasher.add_entry(key, value, extra) && past {
                self.done = true;
            }
        } else if ends_page(key) {
            // A first page end at or past the range's end: no page starts in the range (after a
            // migration moved its keys away, a range of the state after may hold a few entries
            // or none); the range before hashes up to that page end, the range after from it.
            if past {
                self.done = true;
            } else {
                self.started = true;
            }
        }
    }
}

/// Both roots of one range. Where the upgrade left a whole page alone, the root after takes
/// the root before's hash of it instead of hashing the same entries again (`shadowing`: from a
/// point where both roots' pages are empty, every entry the same in both). On a live chain an
/// upgrade rewrites a few structs: most pages of the state after are hashed once, not twice.
struct Roots {
    before: Paged,
    after: Paged,
    /// The root after's open page holds what the root before's does, and is not hashed.
    shadowing: bool,
}

impl Roots {
    fn new(first: bool) -> Roots {
        Roots { before: Paged::new(first), after: Paged::new(first), shadowing: false }
    }

    /// Feeds one key: its entry before (value and extra) and after, if any; `same` when the
    /// two are one entry (the source's, untouched).
    fn add(
        &mut self,
        key: &[u8],
        before: Option<(&[u8], &[u8])>,
        after: Option<(&[u8], &[u8])>,
        same: bool,
        past: bool,
    ) {
        if same && self.shadowing {
            if let Some((value, extra)) = before {
                let closed = self.before.hasher.pages_closed();
                self.before.add(key, value, extra, past);
                let closed = self.before.hasher.pages_closed() > closed;
                self.after.hasher.add_as(&self.before.hasher, closed);
                self.after.done = self.before.done;
                return;
            }
        }
        if self.shadowing {
            self.after.hasher.take_page_from(&self.before.hasher);
            self.shadowing = false;
        }
        if let Some((value, extra)) = before {
            self.before.add(key, value, extra, past);
        }
        if let Some((value, extra)) = after {
            self.after.add(key, value, extra, past);
        }
        self.shadowing = [&self.before, &self.after].iter().all(|r| r.started && !r.done && !r.hasher.page_is_open());
    }

    /// Both roots' pages.
    fn into_pages(mut self) -> (Pages, Pages) {
        if self.shadowing {
            self.after.hasher.take_page_from(&self.before.hasher);
        }
        (self.before.hasher.into_pages(), self.after.hasher.into_pages())
    }
}

/// Source entries a range reads between two updates of the shared progress counter.
const PROGRESS_EVERY: u64 = 1 << 14;

/// Runs the pass over the key range `lo..hi`, reading the source from its restart point
/// `first_restart` (the last at or before `lo`: a range may start between two, among values
/// put), and on past `hi` to the first page end of each root.
pub fn pass_range(
    input: &PassInput<'_>,
    first_restart: usize,
    lo: &[u8],
    hi: Option<&[u8]>,
    first_range: bool,
    progress: &std::sync::atomic::AtomicU64,
) -> Result<Partial, RehearsalError> {
    let old_index = ReleaseIndex::new(input.old.iter().copied(), input.width)
        .map_err(|e| RehearsalError::Options(format!("the old release: {e}")))?;
    let new_index = ReleaseIndex::new(input.new.iter().copied(), input.width)
        .map_err(|e| RehearsalError::Options(format!("the new release: {e}")))?;
    let mut tags = Tags {
        old: Layouts::new(old_index, input.value_budget),
        new: Layouts::new(new_index, input.value_budget),
        width: input.width,
        needs: input.needs,
        last: None,
        by_type: BTreeMap::new(),
    };
    let n = input.examples;
    let mut out = Partial {
        before: SideCounts { examples: Bounded::new(n), ..SideCounts::default() },
        after: SideCounts { examples: Bounded::new(n), ..SideCounts::default() },
        unknown_examples: Bounded::new(n),
        instances: Instances::new(n),
        ..Partial::default()
    };
    let mut roots = Roots::new(first_range);
    let mut base = input.base.entries_at(first_restart);
    let mut layers = Vec::new();
    let block = super::overlay::read_block(input.overlays.iter().map(Overlay::runs).sum());
    for overlay in input.overlays {
        layers.extend(overlay.layers(lo, block)?);
    }
    let mut writes = Writes::of(layers, None)?;
    let reserved = super::migrate::reserved();
    // The status the hook kept under its reserved key is not state.
    while writes.head_key() == Some(reserved) {
        writes.advance()?;
    }
    // Past the range with the root after done, writes are no longer read.
    let mut writes_off = false;
    // The current source entry, copied out of the reader.
    let (mut bk, mut bv, mut bx) = (Vec::new(), Vec::new(), Vec::new());
    let mut at = (0u64, 0u64);
    let mut have_base = false;
    let mut base_done = false;
    let (mut at_lo, mut past) = (false, false);
    loop {
        if !have_base && !base_done {
            match base.next_entry()? {
                Some(e) => {
                    bk.clear();
                    bk.extend_from_slice(e.key);
                    bv.clear();
                    bv.extend_from_slice(e.value);
                    bx.clear();
                    bx.extend_from_slice(e.extra);
                    at = (e.number, e.offset);
                    have_base = true;
                }
                None => base_done = true,
            }
            // A range other than the first starts at its restart point: nothing before `lo`
            // (compared until a key reaches it: keys only grow).
            if have_base && !at_lo {
                if bk.as_slice() < lo {
                    have_base = false;
                    continue;
                }
                at_lo = true;
            }
        }
        // Which comes next: the source entry, a write, or both at one key.
        let take_base;
        let take_write;
        let next_write = if writes_off { None } else { writes.head() };
        match (have_base, next_write) {
            (false, None) => break,
            (true, None) => (take_base, take_write) = (true, false),
            (false, Some(_)) => (take_base, take_write) = (false, true),
            (true, Some((wk, _))) => match bk.as_slice().cmp(wk) {
                std::cmp::Ordering::Less => (take_base, take_write) = (true, false),
                std::cmp::Ordering::Greater => (take_base, take_write) = (false, true),
                std::cmp::Ordering::Equal => (take_base, take_write) = (true, true),
            },
        }
        // The write at this key: its value, or `None` for a delete.
        let write = if take_write { next_write } else { None };
        let key: &[u8] = if take_base { &bk } else { write.map_or(&[][..], |(k, _)| k) };
        // Once past the range's end, every key after is (keys only grow).
        past = past || hi.is_some_and(|h| key >= h);
        if past && roots.before.done && roots.after.done {
            break;
        }
        // After: the write, or the source entry untouched (a write keeps the source's extra).
        let after_value: Option<&[u8]> = match write {
            Some((_, value)) => value,
            None => take_base.then_some(bv.as_slice()),
        };
        let after_extra: &[u8] = if take_base { &bx } else { &[] };
        roots.add(
            key,
            take_base.then_some((bv.as_slice(), bx.as_slice())),
            after_value.map(|v| (v, after_extra)),
            take_base && write.is_none(),
            past,
        );
        if !past {
            let mut decoded_before = None;
            if take_base {
                // The source entries of the range, counted for the progress display now and
                // then (not each: every thread adds to one counter).
                if out.before.entries % PROGRESS_EVERY == PROGRESS_EVERY - 1 {
                    progress.fetch_add(PROGRESS_EVERY, std::sync::atomic::Ordering::Relaxed);
                }
                decoded_before = Some(before(input, &mut tags, &mut out, key, &bv, at, write.map(|(_, v)| v))?);
            }
            if let Some(v) = after_value {
                after(input, &mut tags, &mut out, key, v, take_base.then_some(at), decoded_before)?;
            }
        }
        if take_base {
            have_base = false;
        }
        // Past the range with the root after done: only the root before goes on, over the
        // source alone (a cut among values put, the next source entry is near in the file, and
        // every write up to it would be read for nothing).
        if past && roots.after.done {
            writes_off = true;
            continue;
        }
        if take_write {
            writes.advance()?;
            while writes.head_key() == Some(reserved) {
                writes.advance()?;
            }
        }
    }
    progress.fetch_add(out.before.entries % PROGRESS_EVERY, std::sync::atomic::Ordering::Relaxed);
    out.instances.settle();
    (out.before.pages, out.after.pages) = roots.into_pages();
    for (name, n) in KIND_NAMES.iter().zip(std::mem::take(&mut out.kind_tally)) {
        if n > 0 {
            *out.kinds.entry(name).or_default() += n;
        }
    }
    Ok(out)
}

/// The names entries are counted under, by kind ([`kind_of`]).
const KIND_NAMES: [&str; 6] = ["resource", "group", "table_item", "module", "raw", "other"];

/// The place of a key's kind in [`KIND_NAMES`]: entries are tallied in an array as they stream
/// by, and named once at the end of a range (a map entry per entry was 1% of the pass).
fn kind_of(key: &[u8]) -> usize {
    match key.first().copied().and_then(KeyKind::of_byte) {
        Some(KeyKind::Resource) => 0,
        Some(KeyKind::Group) => 1,
        Some(KeyKind::TableItem) => 2,
        Some(KeyKind::Module) => 3,
        Some(KeyKind::Raw) => 4,
        _ => 5,
    }
}

/// Counts a source entry before the upgrade (entry `at`: its number and offset); returns
/// whether it decoded (resources, group members and table values of known type; other entries
/// count as decoded).
#[allow(clippy::too_many_arguments)]
fn before(
    input: &PassInput<'_>,
    tags: &mut Tags<'_>,
    out: &mut Partial,
    key: &[u8],
    value: &[u8],
    at: (u64, u64),
    write: Option<Option<&[u8]>>,
) -> Result<bool, RehearsalError> {
    out.before.entries += 1;
    out.before.bytes += value.len() as u64;
    if let Some(n) = out.kind_tally.get_mut(kind_of(key)) {
        *n += 1;
    }
    match key.first().copied().and_then(KeyKind::of_byte) {
        Some(KeyKind::Resource) => {
            let Some((info, account)) = tags.of(key) else {
                out.before.undecodable += 1;
                return Ok(false);
            };
            out.before.resources += 1;
            out.accounts.add(account);
            // The migration's write at the key: a put (`Some(Some(_))`) or a delete.
            let written = |m: &Carried| match write {
                Some(Some(_)) => m.in_place,
                Some(None) => !m.in_place,
                None => false,
            };
            let held = Held::new(Some(account), Place::Account);
            Ok(before_value(input, out, &info, &held, key, value, at, &written))
        }
        Some(KeyKind::Group) => {
            let Ok(StateKey::Group { account, tag: group }) = StateKey::decode(key, input.width) else {
                out.before.undecodable += 1;
                return Ok(false);
            };
            out.accounts.add(account.as_bytes());
            let members = match decode_group(value, input.width) {
                Ok(m) => m,
                Err(e) => {
                    out.before.undecodable += 1;
                    out.before.examples.push(Example {
                        r#struct: group.to_string(),
                        account: account.to_string(),
                        origin: None,
                        reason: e.to_string(),
                        entry: Some(at),
                    });
                    return Ok(false);
                }
            };
            // A group is rewritten whole: a put at its key migrated every member of a
            // migrating struct in it.
            let written = |_: &Carried| matches!(write, Some(Some(_)));
            let held = Held::new(Some(account.as_bytes()), Place::Member(&group));
            let mut all = true;
            for m in &members {
                out.members += 1;
                let info = tags.of_type(&TypeTag::Struct(Box::new(m.tag.clone())));
                all &= before_value(input, out, &info, &held, key, m.bytes, at, &written);
            }
            Ok(all)
        }
        Some(KeyKind::TableItem) => {
            let Ok(StateKey::TableItem { handle, key: item }) = StateKey::decode(key, input.width) else {
                return Ok(true);
            };
            let Some(types) = input.tables.get(&handle) else {
                out.unresolved_items += 1;
                return Ok(true);
            };
            out.table_values += 1;
            let info = tags.of_type(&types.value);
            let written = |_: &Carried| matches!(write, Some(Some(_)));
            let held = Held::new(None, Place::Item(handle, &item));
            Ok(before_value(input, out, &info, &held, key, value, at, &written))
        }
        _ => Ok(true),
    }
}

/// Counts one stored value before the upgrade: whether it decodes with the old layout, and,
/// when its struct must be migrated, whether it was (`written` says, from the migration's
/// write at `key`), failed, is left behind (and why), or would halt the chain.
#[allow(clippy::too_many_arguments)]
fn before_value(
    input: &PassInput<'_>,
    out: &mut Partial,
    info: &TypeInfo,
    held: &Held,
    key: &[u8],
    value: &[u8],
    at: (u64, u64),
    written: &dyn Fn(&Carried) -> bool,
) -> bool {
    let decoded = match &info.old {
        Ok(known) => known.check(value),
        Err(e) => Err(format!("no old layout: {e}")),
    };
    let ok = decoded.is_ok();
    match decoded {
        Ok(()) => out.before.decoded += 1,
        Err(reason) => {
            out.before.undecodable += 1;
            out.before.examples.push(Example {
                r#struct: info.rendered.clone(),
                account: held.label().to_owned(),
                origin: None,
                reason: format!("does not decode with the old layout: {reason}"),
                entry: Some(at),
            });
        }
    }
    // A stored instance of a struct the upgrade changes: migrated, failed, left, or halting.
    let Some(need) = &info.need else { return ok };
    match &need.migration {
        None => {
            if !out.halts.contains_key(&need.change) {
                out.halts.insert(need.change.clone(), Halt::new(&need.change, input.examples));
            }
            if let Some(halt) = out.halts.get_mut(&need.change) {
                halt.accounts += 1;
                halt.examples.push_with(|| held.label().to_owned());
            }
        }
        Some(m) => {
            let (name, entry) = (info.rendered.as_str(), at.0);
            if written(m) {
                out.instances.count(name, &m.id, entry, Outcome::Migrated);
            } else if let Some((migration, reason)) = input.failures.get(key) {
                let reason = format!("{migration}: {reason}");
                out.instances.count(name, &m.id, entry, Outcome::Failed { held: held.label(), reason: &reason });
            } else {
                let why = match &held.address() {
                    None if m.system && !m.users => {
                        "outside the migration's scope: a table's items belong to no account, and the scope is system"
                    }
                    None if !table_of(key, input.width).is_some_and(|h| input.migrated_tables.contains(&h)) => {
                        "its table is not among the tables the release rewrites"
                    }
                    Some(account) if input.system_accounts.contains(account) && !m.system => {
                        "outside the migration's scope: a system account, and the scope is users"
                    }
                    Some(account) if !input.system_accounts.contains(account) && !m.users => {
                        "outside the migration's scope: a user account, and the scope is system"
                    }
                    _ => "not reached: the migration was given up",
                };
                out.instances.count(name, &m.id, entry, Outcome::Left { held: held.label(), why });
            }
        }
    }
    ok
}

/// The handle of a table item's key.
fn table_of(key: &[u8], width: AddressLength) -> Option<AccountAddress> {
    match StateKey::decode(key, width).ok()? {
        StateKey::TableItem { handle, .. } => Some(handle),
        _ => None,
    }
}

/// Counts an entry of the state after the upgrade (`at`: the source entry at its key, if any).
#[allow(clippy::too_many_arguments)]
fn after(
    input: &PassInput<'_>,
    tags: &mut Tags<'_>,
    out: &mut Partial,
    key: &[u8],
    value: &[u8],
    at: Option<(u64, u64)>,
    decoded_before: Option<bool>,
) -> Result<(), RehearsalError> {
    out.after.entries += 1;
    out.after.bytes += value.len() as u64;
    match key.first().copied().and_then(KeyKind::of_byte) {
        Some(KeyKind::Resource) => {
            let Some((info, account)) = tags.of(key) else {
                out.after.undecodable += 1;
                return Ok(());
            };
            out.after.resources += 1;
            let held = Held::new(Some(account), Place::Account);
            after_value(input, out, &info, &held, value, at, decoded_before);
        }
        Some(KeyKind::Group) => {
            let Ok(StateKey::Group { account, tag: group }) = StateKey::decode(key, input.width) else {
                out.after.undecodable += 1;
                return Ok(());
            };
            let held = Held::new(Some(account.as_bytes()), Place::Member(&group));
            match decode_group(value, input.width) {
                Ok(members) => {
                    for m in &members {
                        let info = tags.of_type(&TypeTag::Struct(Box::new(m.tag.clone())));
                        after_value(input, out, &info, &held, m.bytes, at, decoded_before);
                    }
                }
                Err(e) => {
                    out.after.undecodable += 1;
                    if decoded_before != Some(false) {
                        out.broken_by_upgrade += 1;
                        out.after.examples.push(Example {
                            r#struct: group.to_string(),
                            account: account.to_string(),
                            origin: None,
                            reason: e.to_string(),
                            entry: at,
                        });
                    }
                }
            }
        }
        Some(KeyKind::TableItem) => {
            let Ok(StateKey::TableItem { handle, key: item }) = StateKey::decode(key, input.width) else {
                return Ok(());
            };
            if let Some(types) = input.tables.get(&handle) {
                let info = tags.of_type(&types.value);
                let held = Held::new(None, Place::Item(handle, &item));
                after_value(input, out, &info, &held, value, at, decoded_before);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Counts one stored value after the upgrade: whether it decodes with the new layout, or its
/// struct was removed, or neither release knows it.
fn after_value(
    input: &PassInput<'_>,
    out: &mut Partial,
    info: &TypeInfo,
    held: &Held,
    value: &[u8],
    at: Option<(u64, u64)>,
    decoded_before: Option<bool>,
) {
    let reason = if info.in_new {
        match &info.new {
            Ok(known) => known.check(value).err().map(|e| format!("does not decode with the new layout: {e}")),
            Err(e) => Some(format!("no new layout: {e}")),
        }
    } else if info.in_old {
        let name =
            info.tag.as_ref().map_or_else(|| info.rendered.clone(), |t| format!("{}::{}", t.module_id(), t.name));
        let r = out.removed.entry(name.clone()).or_insert_with(|| Removed::new(&name, input.examples));
        r.resources += 1;
        r.examples.push_with(|| held.label().to_owned());
        Some("the new release removed its struct".to_owned())
    } else {
        // Neither release declares it (a user module's struct): not the upgrade's to judge.
        out.unknown += 1;
        out.unknown_examples.push_with(|| format!("{} at {}", info.rendered, held.label()));
        return;
    };
    match reason {
        None => out.after.decoded += 1,
        Some(reason) => {
            out.after.undecodable += 1;
            // Broken by the upgrade unless it was already broken at this key before.
            if decoded_before != Some(false) {
                out.broken_by_upgrade += 1;
                out.after.examples.push(Example {
                    r#struct: info.rendered.clone(),
                    account: held.label().to_owned(),
                    origin: None,
                    reason,
                    entry: at,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vm_hooks::StateRoot;

    /// Two states that agree on long stretches of keys and part elsewhere (values changed,
    /// entries only before, only after): the roots the pass hashes, the root after taking the
    /// root before's pages where they agree, are the roots of each state hashed on its own,
    /// over the whole state and over ranges joined (each hashing on past its end). Fails when
    /// the root after does not end where the root before it follows does.
    #[test]
    fn the_root_after_takes_the_pages_it_shares_and_is_the_root_of_the_state_after() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        const N: u32 = 40_000;
        for round in 0..4 {
            // Each key's entry before and after (`None`: absent), and whether they are one.
            let mut stretch_same = true;
            let mut entries = Vec::new();
            for n in 0..N {
                if n % 3_000 == 0 {
                    stretch_same = next() % 3 != 0;
                }
                let value = vec![(n % 251) as u8; (n % 40) as usize];
                let other = vec![(n % 7) as u8; 3];
                let choice = if stretch_same { 0 } else { next() % 4 };
                let (b, a) = match choice {
                    0 => (Some(value.clone()), Some(value)),
                    1 => (Some(value), Some(other)),
                    2 => (Some(value), None),
                    _ => (None, Some(other)),
                };
                entries.push(([b"k/".as_slice(), &n.to_be_bytes()].concat(), b, a, choice == 0));
            }
            let extra: &[u8] = if round % 2 == 0 { &[] } else { b"meta" };
            let after_extra = |b: &Option<Vec<u8>>| if b.is_some() { extra } else { &[][..] };
            // Each state hashed on its own.
            let (mut before, mut after) = (RootHasher::new(), RootHasher::new());
            for (key, b, a, _) in &entries {
                if let Some(v) = b {
                    before.add_entry(key, v, extra);
                }
                if let Some(v) = a {
                    after.add_entry(key, v, after_extra(b));
                }
            }
            let (before, after) = (before.finish(), after.finish());
            // The pass's roots, over the whole state and over ranges cut at 1 to 4 keys (each
            // range from its start, on past its end until both roots are done), joined.
            for parts in 1..=4u32 {
                let cuts: Vec<u32> = (0..=parts).map(|i| i * N / parts).collect();
                let (mut runs_before, mut runs_after) = (Vec::new(), Vec::new());
                for (i, w) in cuts.windows(2).enumerate() {
                    let hi = (w[1] < N).then(|| entries[w[1] as usize].0.clone());
                    let mut roots = Roots::new(i == 0);
                    for (key, b, a, same) in &entries[w[0] as usize..] {
                        let past = hi.as_ref().is_some_and(|h| key >= h);
                        if past && roots.before.done && roots.after.done {
                            break;
                        }
                        roots.add(
                            key,
                            b.as_deref().map(|v| (v, extra)),
                            a.as_deref().map(|v| (v, after_extra(b))),
                            *same,
                            past,
                        );
                    }
                    let (b, a) = roots.into_pages();
                    runs_before.push(b);
                    runs_after.push(a);
                }
                assert_eq!(StateRoot::of_runs(runs_before), before, "round {round}, {parts} ranges: before");
                assert_eq!(StateRoot::of_runs(runs_after), after, "round {round}, {parts} ranges: after");
            }
        }
    }
}
