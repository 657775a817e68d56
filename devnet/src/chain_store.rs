//! Where a devnet keeps its state: the persistent store in a data directory, or memory.
//!
//! A block commits its transactions' writes with its height in one transaction, so a node
//! killed at any point resumes after the last whole block (the hook's own batch is idempotent
//! per block, so redoing a block whose prologue already ran is harmless).
//!
//! A chain's store holds its manifest in a node value: [`load_manifest`] and [`save_manifest`]
//! keep it there. They live here, not in `manifest`, so that imports run one way (chain_store ->
//! manifest): the manifest is plain data, read without a store too (a snapshot's header, a
//! schedule made before the store exists), while opening a chain always means its manifest.
//!
//! The store's page cache is the node's setting ([`Cache`]): every function that opens a store
//! is given it, so that a node's memory is what its operator gave it, whatever its state's size.

use crate::data_dir::{DataDir, STAGING};
use crate::error::DevnetError;
use crate::limits::{DEFAULT_CACHE_MB, MAX_CACHE_MB, STATUS_CACHE_MB};
use crate::manifest::{Manifest, MANIFEST_KEY};
use input_files::output;
use migrations::store::{InMemoryStore, Store, StoreError, WriteBatch};
use redb_store::{RedbOptions, RedbStore, RedbStoreError, DB_FILE};
use std::collections::BTreeMap;
use std::path::Path;

/// How much of the store's file a process keeps in memory: redb's page cache (`--cache-mb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cache {
    mib: usize,
}

impl Cache {
    /// A node's: what `run`, `upgrade` and `snapshot` open the store with by default.
    pub const NODE: Cache = Cache { mib: DEFAULT_CACHE_MB };
    /// What `status` opens the store with by default.
    pub const STATUS: Cache = Cache { mib: STATUS_CACHE_MB };

    /// A cache of `mib` MiB: at least 1, at most [`MAX_CACHE_MB`].
    pub fn mib(mib: usize) -> Result<Cache, DevnetError> {
        if (1..=MAX_CACHE_MB).contains(&mib) {
            Ok(Cache { mib })
        } else {
            Err(DevnetError::bad_input(format!("--cache-mb {mib}: give 1 to {MAX_CACHE_MB} (MiB)")))
        }
    }

    /// In bytes.
    pub fn bytes(self) -> usize {
        self.mib << 20
    }

    fn options(self) -> RedbOptions {
        RedbOptions { cache_bytes: self.bytes(), ..RedbOptions::default() }
    }
}

impl Default for Cache {
    fn default() -> Self {
        Cache::NODE
    }
}

/// The store's node value that holds the journal of a runbook under way (see
/// [`crate::journal::Journal`]).
pub const JOURNAL_KEY: &str = "upgrade";

/// A store that also keeps the chain's height and the node's own values (its manifest, the
/// runbook's journal), outside the state and its root.
pub trait ChainStore: Store {
    /// Applies `batch` and records `height`, atomically.
    fn commit_block(&mut self, batch: WriteBatch, height: u64) -> Result<(), StoreError>;
    /// The height of the last block committed (0 at genesis).
    fn height(&self) -> Result<u64, StoreError>;
    fn node_value(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets or (with `None`) removes a node value, atomically.
    fn set_node_value(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), StoreError>;
    /// Applies `batch` and sets a node value, atomically (a decision and the node's record of it).
    fn apply_with_node_value(&mut self, batch: WriteBatch, key: &str, value: &[u8]) -> Result<(), StoreError>;
}

impl ChainStore for RedbStore {
    fn commit_block(&mut self, batch: WriteBatch, height: u64) -> Result<(), StoreError> {
        self.apply_at_height(batch, height)
    }

    fn height(&self) -> Result<u64, StoreError> {
        RedbStore::height(self)
    }

    fn node_value(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        RedbStore::node_value(self, key)
    }

    fn set_node_value(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), StoreError> {
        RedbStore::set_node_value(self, key, value)
    }

    fn apply_with_node_value(&mut self, batch: WriteBatch, key: &str, value: &[u8]) -> Result<(), StoreError> {
        RedbStore::apply_with_node_value(self, batch, key, value)
    }
}

/// A chain in memory (`--in-memory`): gone when the process ends.
#[derive(Debug, Default)]
pub struct MemoryChain {
    pub store: InMemoryStore,
    pub height: u64,
    pub node_values: BTreeMap<String, Vec<u8>>,
}

impl Store for MemoryChain {
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.store.get_key(key)
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.store.scan_keys(prefix, after, visit)
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.store.apply(batch)
    }
}

impl ChainStore for MemoryChain {
    fn commit_block(&mut self, batch: WriteBatch, height: u64) -> Result<(), StoreError> {
        self.store.apply(batch)?;
        self.height = height;
        Ok(())
    }

    fn height(&self) -> Result<u64, StoreError> {
        Ok(self.height)
    }

    fn node_value(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.node_values.get(key).cloned())
    }

    fn set_node_value(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), StoreError> {
        match value {
            Some(v) => self.node_values.insert(key.to_owned(), v.to_vec()),
            None => self.node_values.remove(key),
        };
        Ok(())
    }

    fn apply_with_node_value(&mut self, batch: WriteBatch, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.store.apply(batch)?;
        self.node_values.insert(key.to_owned(), value.to_vec());
        Ok(())
    }
}

/// Whether `dir` holds a devnet chain (its store; [`open_chain`] says whether it is one).
pub fn holds_chain(dir: &Path) -> bool {
    dir.join(DB_FILE).is_file()
}

/// Checks that the data directory may receive a new chain: it holds nothing but what a killed
/// creation left (cleared by [`DataDir::clear_leftovers`]) or a half-built store, which is
/// removed. Anything else in it is someone's, and is not overwritten.
fn check_new(dir: &Path) -> Result<(), DevnetError> {
    clear_half_built(dir)?;
    let mut entries = std::fs::read_dir(dir).map_err(|e| DevnetError::io(dir, e))?;
    match entries.next().transpose().map_err(|e| DevnetError::io(dir, e))? {
        None => Ok(()),
        Some(_) if holds_chain(dir) => Err(DevnetError::bad_input(format!(
            "{}: already holds a chain; use another --data-dir for a new one",
            dir.display()
        ))),
        Some(_) => Err(DevnetError::bad_input(format!(
            "{}: not empty and holds no devnet chain (no {DB_FILE}); refusing to write there",
            dir.display()
        ))),
    }
}

/// What a store without a manifest is: the store of a creation killed half-way (by an older
/// devnet, which could rename it into place before its manifest was written). A store that
/// committed a block or holds a journal is not one.
fn is_half_built(store: &RedbStore) -> Result<bool, DevnetError> {
    Ok(store.node_value(MANIFEST_KEY)?.is_none() && store.node_value(JOURNAL_KEY)?.is_none() && store.height()? == 0)
}

fn half_built(dir: &Path) -> DevnetError {
    DevnetError::bad_input(format!(
        "{}: holds a half-built chain (a store without a manifest, left by a creation that was killed); \
         `devnet run` or `devnet snapshot import` into it starts again",
        dir.display()
    ))
}

/// Removes the store in `dir` if it is half-built; returns whether it did.
fn clear_half_built(dir: &Path) -> Result<bool, DevnetError> {
    if !holds_chain(dir) {
        return Ok(false);
    }
    let path = dir.join(DB_FILE);
    let half = match RedbStore::open_existing_with(dir, Cache::STATUS.options()) {
        Ok(store) => is_half_built(&store)?,
        Err(_) => false,
    };
    if half {
        std::fs::remove_file(&path).map_err(|e| DevnetError::io(&path, e))?;
    }
    Ok(half)
}

/// The chain the data directory holds, opened, or `None` if it holds none: a half-built store
/// (a store without its manifest: a creation killed mid-way) does not count, and is removed.
pub fn take_up(data: &DataDir, cache: Cache) -> Result<Option<(RedbStore, Manifest)>, DevnetError> {
    let dir = data.path();
    if !holds_chain(dir) {
        return Ok(None);
    }
    let store = open_store(dir, cache)?;
    if is_half_built(&store)? {
        drop(store);
        let path = dir.join(DB_FILE);
        std::fs::remove_file(&path).map_err(|e| DevnetError::io(&path, e))?;
        return Ok(None);
    }
    let manifest = load_manifest(&store, &dir.join(DB_FILE))?;
    Ok(Some((store, manifest)))
}

/// Creates a new chain in the data directory `data` holds: `build` fills a staging directory
/// inside it (the store, closed when `build` returns), whose store is then renamed into place.
/// The store holds the whole chain (state, height, manifest), so the directory holds a whole
/// chain or none: a process killed while building leaves only the staging directory, which the
/// next command clears.
pub fn create_chain<T>(data: &DataDir, build: impl FnOnce(&Path) -> Result<T, DevnetError>) -> Result<T, DevnetError> {
    check_new(data.path())?;
    replace_chain(data.path(), STAGING, build)
}

/// Replaces the chain in `dir` the same way: `build` fills `dir/{staging}`, whose store is
/// renamed over the live one (one rename: the old chain or the new, never a mix).
pub fn replace_chain<T>(
    dir: &Path,
    staging: &str,
    build: impl FnOnce(&Path) -> Result<T, DevnetError>,
) -> Result<T, DevnetError> {
    let staging = dir.join(staging);
    // Whatever is under that name goes (a link itself, never what it leads to), and the staging
    // directory is made new: the store is never built where a planted link leads.
    crate::data_dir::remove_any(&staging)?;
    std::fs::create_dir(&staging).map_err(|e| DevnetError::io(&staging, e))?;
    let built = build(&staging).and_then(|t| {
        std::fs::rename(staging.join(DB_FILE), dir.join(DB_FILE)).map_err(|e| DevnetError::io(dir, e))?;
        output::sync_dir(dir).map_err(|e| DevnetError::io(dir, e))?;
        Ok(t)
    });
    let _ = std::fs::remove_dir_all(&staging);
    built
}

/// The chain a snapshot holds, built in the empty directory `dir`: its resources, its height
/// and its manifest (which must parse). The state root is not computed again: `import`
/// verified that the records hash to the root the file records and wrote exactly those into
/// an empty store. Errors name `origin`: the snapshot as the operator named it, `file` itself
/// unless that is a copy (of a stream).
pub fn store_from_snapshot(
    file: &Path,
    origin: &Path,
    dir: &Path,
    cache: Cache,
    progress: &mut dyn FnMut(u64),
) -> Result<(RedbStore, crate::snapshot::SnapshotInfo, Manifest), DevnetError> {
    let about = |e: crate::snapshot::SnapshotError| if file == origin { e } else { e.about(origin) };
    // What the snapshot is, from its header and footer, before a byte of it is imported.
    let head = crate::snapshot::read_info(file).map_err(about)?;
    let manifest = chain_manifest(&head, origin)?;
    let mut store = create_persistent(dir, cache)?;
    let info = crate::snapshot::import(file, &mut store, 50_000, progress).map_err(about)?;
    store.commit_block(WriteBatch::new(), info.height)?;
    save_manifest(&mut store, &manifest)?;
    Ok((store, info, manifest))
}

/// The devnet manifest a snapshot carries as its chain parameters; a snapshot that is not a
/// devnet chain's (a rehearsal's output of a backup or a JSON Lines state, another width) is
/// said to be what it is, and why the devnet cannot run it.
fn chain_manifest(info: &crate::snapshot::SnapshotInfo, origin: &Path) -> Result<Manifest, DevnetError> {
    if let Some(rehearsal) = info.chain.get("rehearsal") {
        let field = |key: &str| rehearsal.get(key).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
        return Err(DevnetError::bad_input(format!(
            "{}: a rehearsal's output (the migrated state of {}, a {} state, upgraded from {} to {}), not a devnet \
             chain: it carries no devnet manifest (accounts, block budget, release schedule) for a node to run it \
             with; the devnet imports what `devnet snapshot export` wrote, or a rehearsal's output of such a snapshot",
            origin.display(),
            field("state"),
            field("format"),
            field("from"),
            field("to")
        )));
    }
    if info.address_length != devchain::WIDTH {
        return Err(DevnetError::bad_input(format!(
            "{}: a state of {}-byte addresses; the devnet's chain has {}-byte ones",
            origin.display(),
            info.address_length,
            devchain::WIDTH
        )));
    }
    Manifest::parse(&info.chain.to_string(), origin)
}

/// Opens the chain in `dir`, which must hold one: its store (never created here, and checked
/// whole) and its manifest.
pub fn open_chain(dir: &Path, cache: Cache) -> Result<(RedbStore, Manifest), DevnetError> {
    open_chain_unless_in_use(dir, cache)?.ok_or_else(|| {
        DevnetError::bad_input(format!(
            "{}: in use by another process (a running node, an upgrade, a snapshot export); try again once it has \
             finished",
            dir.display()
        ))
    })
}

/// As [`open_chain`], or `None` if another process has the store open.
pub fn open_chain_unless_in_use(dir: &Path, cache: Cache) -> Result<Option<(RedbStore, Manifest)>, DevnetError> {
    if !dir.is_dir() {
        return Err(DevnetError::bad_input(format!("{}: no such data directory", dir.display())));
    }
    let path = dir.join(DB_FILE);
    if !path.is_file() && dir.join(STAGING).exists() {
        return Err(DevnetError::bad_input(format!(
            "{}: holds no chain yet: a creation or an import is under way there, or was killed (the next `devnet \
             run` or `devnet snapshot import` into it clears what it left)",
            dir.display()
        )));
    }
    if !path.is_file() {
        return Err(DevnetError::bad_input(format!(
            "{}: missing {DB_FILE}: not a devnet data directory",
            dir.display()
        )));
    }
    let opened = RedbStore::open_existing_with(dir, cache.options());
    if let Err(StoreError::Backend { source, .. }) = &opened {
        if matches!(source.downcast_ref(), Some(RedbStoreError::InUse(_))) {
            return Ok(None);
        }
    }
    let store = opened.map_err(|e| cannot_open(&path, e))?;
    if is_half_built(&store)? {
        return Err(half_built(dir));
    }
    let manifest = load_manifest(&store, &path)?;
    Ok(Some((store, manifest)))
}

/// Opens the store in `dir` (whose lock the caller holds: in use means another program).
fn open_store(dir: &Path, cache: Cache) -> Result<RedbStore, DevnetError> {
    RedbStore::open_existing_with(dir, cache.options()).map_err(|e| cannot_open(&dir.join(DB_FILE), e))
}

fn cannot_open(path: &Path, e: StoreError) -> DevnetError {
    // Most of the store's errors name its file already: not twice.
    let (message, file) = (e.to_string(), path.display().to_string());
    DevnetError::bad_input(if message.contains(&file) {
        format!("cannot open the store: {message}")
    } else {
        format!("{file}: cannot open the store: {message}")
    })
}

/// The on-chain migration status of the chain in `dir` (held where the stdlib chain keeps it),
/// or an empty one before anything was scheduled. A status that does not decode is bad input:
/// the data directory is not usable as it is.
pub fn load_status(store: &dyn Store, dir: &Path) -> Result<vm_hooks::Status, DevnetError> {
    let chain = devchain::chain_config().map_err(|e| DevnetError::failed(e.to_string()))?;
    vm_hooks::Status::load(store, &chain)
        .map_err(|e| DevnetError::bad_input(format!("{}: on-chain status: {e}", dir.display())))
}

/// Reads and checks the manifest of the chain in `store` (found at `origin`, for messages).
pub fn load_manifest(store: &dyn ChainStore, origin: &Path) -> Result<Manifest, DevnetError> {
    let bytes = store.node_value(MANIFEST_KEY)?.ok_or_else(|| {
        DevnetError::bad_input(format!("{}: the store holds no devnet chain (no manifest)", origin.display()))
    })?;
    Manifest::decode(&bytes, origin)
}

/// Writes `manifest` into `store`, in one transaction.
pub fn save_manifest(store: &mut dyn ChainStore, manifest: &Manifest) -> Result<(), DevnetError> {
    let bytes = manifest.encode()?;
    Ok(store.set_node_value(MANIFEST_KEY, Some(&bytes))?)
}

/// Creates the persistent store in a staging directory.
pub fn create_persistent(dir: &Path, cache: Cache) -> Result<RedbStore, DevnetError> {
    RedbStore::open_with(dir, cache.options())
        .map_err(|e| DevnetError::failed(format!("{}: cannot create the store: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Activation;
    use vm_hooks::Budget;

    fn manifest() -> Manifest {
        Manifest::new(10, 0, 5, Budget { max_resources: 100, max_bytes: 1 << 20 })
    }

    #[test]
    fn a_saved_manifest_loads_back_and_a_corrupt_one_is_bad_input() {
        let mut store = MemoryChain::default();
        let origin = Path::new("chain");
        assert!(load_manifest(&store, origin).unwrap_err().to_string().contains("no manifest"));
        let mut m = manifest();
        m.schedule(2, 10, 0).unwrap();
        save_manifest(&mut store, &m).unwrap();
        assert_eq!(load_manifest(&store, origin).unwrap(), m);
        store.set_node_value(MANIFEST_KEY, Some(b"{\"format\": 1")).unwrap();
        let e = load_manifest(&store, origin).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("chain: corrupt manifest"), "{e}");
        let mut wrong = m.clone();
        wrong.activations.push(Activation { release: 3, height: 3 });
        store.set_node_value(MANIFEST_KEY, Some(serde_json::to_string(&wrong).unwrap().as_bytes())).unwrap();
        assert!(load_manifest(&store, origin).unwrap_err().to_string().contains("must come after"));
        // A setting beyond what a block carries loads (so that `devnet run` can change it back)
        // and is refused where blocks would be produced with it.
        let huge = Manifest { transfers_per_block: u32::MAX, ..m };
        store.set_node_value(MANIFEST_KEY, Some(serde_json::to_string(&huge).unwrap().as_bytes())).unwrap();
        let loaded = load_manifest(&store, origin).unwrap();
        assert!(loaded.check_settings().unwrap_err().to_string().contains("--transfers"));
        let none = Manifest { accounts: 0, ..loaded };
        store.set_node_value(MANIFEST_KEY, Some(serde_json::to_string(&none).unwrap().as_bytes())).unwrap();
        assert!(load_manifest(&store, origin).unwrap_err().to_string().contains("out of range"));
    }
}
