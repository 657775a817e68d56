//! `devnet snapshot export|import FILE`.

use super::bar;
use crate::SnapshotCommand;
use devnet::chain_store::{create_chain, open_chain, store_from_snapshot, take_up, Cache};
use devnet::data_dir::DataDir;
use devnet::node::Node;
use devnet::{snapshot, DevnetError};
use std::path::Path;

pub fn snapshot(command: &SnapshotCommand) -> Result<(), DevnetError> {
    match command {
        SnapshotCommand::Export { file, data } => export(file, &data.data_dir, data.cache(Cache::NODE)),
        SnapshotCommand::Import { file, data, allow_special_files } => {
            import(file, &data.data_dir, data.cache(Cache::NODE), *allow_special_files)
        }
    }
}

fn export(file: &Path, dir: &Path, cache: Cache) -> Result<(), DevnetError> {
    let data = DataDir::lock(dir, false)?;
    data.clear_leftovers()?;
    let (store, manifest) = open_chain(dir, cache)?;
    if let Some(j) = devnet::runbook::Journal::load(&store)? {
        return Err(DevnetError::bad_input(format!(
            "{}: an upgrade v{} -> v{} is under way; `devnet upgrade --to v{}` takes it up before a snapshot",
            dir.display(),
            j.from,
            j.to,
            j.to
        )));
    }
    let height = store.height()?;
    let info =
        snapshot::export(&devnet::drill::ExportDrill(&store), height, manifest.to_json(), devchain::WIDTH, file)?;
    println!(
        "exported {}: height {}, {} resources, {} bytes, state root {}",
        file.display(),
        info.height,
        info.resources(),
        info.bytes,
        info.state_root
    );
    Ok(())
}

fn import(file: &Path, dir: &Path, cache: Cache, special_files: bool) -> Result<(), DevnetError> {
    // The file is checked before the data directory is touched: a directory, a device, a FIFO
    // (unless allowed) or an oversize file is refused at once.
    let input = snapshot::check_input(file, special_files)?;
    let data = DataDir::lock(dir, true)?;
    data.clear_leftovers()?;
    if take_up(&data, cache)?.is_some() {
        return Err(DevnetError::bad_input(format!(
            "{}: already holds a chain; import into a new --data-dir",
            dir.display()
        )));
    }
    // The chain is built beside the data directory and moved in only when whole and checked.
    let root = create_chain(&data, |staging| {
        // A stream is read once, into a file beside the store it fills (removed with it).
        let copy = staging.join("incoming.snapshot");
        let source = match input {
            snapshot::Input::File => file,
            snapshot::Input::Stream(stream) => {
                snapshot::spool(file, stream, &copy)?;
                copy.as_path()
            }
        };
        let progress = bar(snapshot::read_info(source).map_or(0, |i| i.resources()), "resources");
        progress.set_message("importing");
        let (store, info, manifest) =
            store_from_snapshot(source, file, staging, cache, &mut |n| progress.set_position(n))?;
        progress.finish_and_clear();
        // A chain whose status does not match its schedule would not run: refuse it now.
        let node = Node::new(Box::new(store), manifest)
            .map_err(|e| DevnetError::bad_input(format!("{}: not a runnable chain: {e}", file.display())))?;
        Ok((info.state_root, node.height(), info.resources()))
    })?;
    let (root, height, resources) = root;
    println!(
        "imported {} into {}: height {height}, {resources} resources, state root {root}",
        file.display(),
        dir.display()
    );
    Ok(())
}
