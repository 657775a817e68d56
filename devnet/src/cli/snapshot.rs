//! `devnet snapshot export|import FILE`.

use super::bar;
use crate::SnapshotCommand;
use devnet::chain_store::{create_persistent, holds_chain, open_persistent, prepare_new, ChainStore};
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
    let existed = dir.exists();
    prepare_new(dir)?;
    let result = (|| {
        let mut store = create_persistent(dir)?;
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
        manifest.save(dir)?;
        Ok(root)
    })();
    match result {
        Ok(root) => {
            println!(
                "imported {} into {}: height {}, {} resources, state root {root}",
                file.display(),
                dir.display(),
                info.height,
                info.resources
            );
            Ok(())
        }
        Err(e) => {
            // Take back what this command created; the directory was new or empty.
            let _ = if existed {
                std::fs::remove_file(dir.join(vm_hooks::persistent::DB_FILE))
            } else {
                std::fs::remove_dir_all(dir)
            };
            Err(e)
        }
    }
}
