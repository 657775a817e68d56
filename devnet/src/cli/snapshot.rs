//! `devnet snapshot export|import FILE`.

use super::bar;
use crate::SnapshotCommand;
use devnet::chain_store::{create_chain, create_persistent, holds_chain, open_persistent, ChainStore};
use devnet::manifest::Manifest;
use devnet::{snapshot, DevnetError};
use std::path::Path;
use vm_hooks::state_root;

pub fn snapshot(command: &SnapshotCommand) -> Result<(), DevnetError> {
    match command {
        SnapshotCommand::Export { file, data } => export(file, &data.data_dir),
        SnapshotCommand::Import { file, data } => import(file, &data.data_dir),
    }
}

fn export(file: &Path, dir: &Path) -> Result<(), DevnetError> {
    let manifest = Manifest::load(dir)?;
    let store = open_persistent(dir)?;
    let height = store.height()?;
    let info = snapshot::export(&store, height, manifest.to_json(), file)?;
    println!(
        "exported {}: height {}, {} resources, {} bytes, state root {}",
        file.display(),
        info.height,
        info.resources,
        info.bytes,
        info.state_root
    );
    Ok(())
}

fn import(file: &Path, dir: &Path) -> Result<(), DevnetError> {
    if holds_chain(dir) {
        return Err(DevnetError::bad_input(format!(
            "{}: already holds a chain; import into a new --data-dir",
            dir.display()
        )));
    }
    // Everything is checked before the data directory is touched.
    let info = snapshot::verify(file)?;
    let manifest = Manifest::parse(&info.chain.to_string(), file)?;
    let root = create_chain(dir, |staging| {
        let mut store = create_persistent(staging)?;
        let progress = bar(info.resources, "resources");
        progress.set_message("importing");
        let imported = snapshot::import(file, &mut store, 50_000, &mut |n| progress.set_position(n))?;
        progress.finish_and_clear();
        store.commit_block(migrations::WriteBatch::new(), imported.height)?;
        let root = state_root(&store)?;
        if root != imported.state_root {
            return Err(DevnetError::failed(format!(
                "imported state has root {root}, the snapshot says {}",
                imported.state_root
            )));
        }
        manifest.save(staging)?;
        Ok(root)
    })?;
    println!(
        "imported {} into {}: height {}, {} resources, state root {root}",
        file.display(),
        dir.display(),
        info.height,
        info.resources
    );
    Ok(())
}
