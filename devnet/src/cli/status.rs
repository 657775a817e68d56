//! `devnet status`: the on-chain migration status, in text or JSON.

use devnet::chain_store::open_chain;
use devnet::runbook::Journal;
use devnet::DevnetError;
use serde_json::json;
use std::path::Path;
use vm_hooks::{state_root, Status};

pub fn status(dir: &Path, as_json: bool) -> Result<(), DevnetError> {
    let (store, manifest) = open_chain(dir)?;
    let height = store.height()?;
    let journal = Journal::load(&store)?;
    let status =
        Status::load(&store, &vm_hooks::ChainConfig::stdlib().map_err(|e| DevnetError::failed(e.to_string()))?)
            .map_err(|e| DevnetError::bad_input(format!("{}: on-chain status: {e}", dir.display())))?;
    let root = state_root(&store)?;
    let active = status.activations().last().map_or(1, |a| a.release);
    let quarantined: Vec<_> = status.failures().iter().filter(|f| !f.is_migration_failure()).collect();
    let halted: Vec<_> = status.failures().iter().filter(|f| f.is_migration_failure()).collect();
    if as_json {
        let value = json!({
            "data_dir": dir.display().to_string(),
            "height": height,
            "accounts": manifest.accounts,
            "active_release": active,
            "scheduled": manifest.activations,
            "manifest": manifest,
            "activations": status.activations().iter().map(|a| json!({"release": a.release, "height": a.height})).collect::<Vec<_>>(),
            "completed": status.completed().iter().map(|c| json!({"id": c.id, "checksum": c.checksum.to_string(), "height": c.height})).collect::<Vec<_>>(),
            "in_progress": status.in_progress().iter().map(|p| json!({
                "id": p.id,
                "migrated": p.migrated,
                "cursor": p.cursor.after.map(|a| a.to_string()),
            })).collect::<Vec<_>>(),
            "quarantined": quarantined.iter().map(|f| json!({"migration": f.migration, "account": f.account.to_string(), "reason": f.reason})).collect::<Vec<_>>(),
            "halted": halted.iter().map(|f| json!({"migration": f.migration, "reason": f.reason})).collect::<Vec<_>>(),
            "upgrade_under_way": journal.as_ref().map(|j| json!({"from": j.from, "to": j.to, "phase": j.phase, "backup": j.backup})),
            "state_root": root.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&value).map_err(|e| DevnetError::failed(e.to_string()))?);
        return Ok(());
    }
    println!("data dir:       {}", dir.display());
    println!("height:         {height}");
    println!("accounts:       {}", manifest.accounts);
    println!("active release: v{active}");
    let scheduled: Vec<String> =
        manifest.activations.iter().map(|a| format!("v{} at {}", a.release, a.height)).collect();
    println!("scheduled:      {}", if scheduled.is_empty() { "none".to_owned() } else { scheduled.join(", ") });
    for a in status.activations() {
        println!("activated:      v{} at height {}", a.release, a.height);
    }
    for c in status.completed() {
        println!("completed:      {:<18} at {:<8} checksum {}", c.id, c.height, c.checksum);
    }
    for p in status.in_progress() {
        let cursor = p.cursor.after.map_or_else(|| "start".to_owned(), |a| a.to_string());
        println!("in progress:    {:<18} {} migrated, after {cursor}", p.id, p.migrated);
    }
    println!("quarantined:    {}", quarantined.len());
    for f in quarantined.iter().take(20) {
        println!("  {} {}: {}", f.migration, f.account, f.reason);
    }
    for f in &halted {
        println!("HALTED:         {}: {}", f.migration, f.reason);
    }
    if let Some(j) = &journal {
        println!(
            "UPGRADE:        v{} -> v{} interrupted at its {} step (backup {}); `devnet upgrade --to v{}` takes it up",
            j.from,
            j.to,
            j.phase.as_str(),
            j.backup.display(),
            j.to
        );
    }
    println!("state root:     {root}");
    Ok(())
}
