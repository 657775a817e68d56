//! `devnet status`: the on-chain migration status, in text or JSON. Read from the store; while
//! a node holds the store, from the view it published after its last block (without the state
//! root, which reads the whole state), and said so.

use compat_checker::escape::Text;
use devnet::chain_store::{load_status, open_chain_unless_in_use, Cache};
use devnet::runbook::Journal;
use devnet::{view, DevnetError};
use migrations::state_key::describe;
use serde_json::json;
use std::path::Path;
use vm_hooks::state_root;

pub fn status(dir: &Path, cache: Cache, as_json: bool) -> Result<(), DevnetError> {
    let (height, manifest, status, journal, root, published) = match open_chain_unless_in_use(dir, cache)? {
        Some((store, manifest)) => {
            let status = load_status(&store, dir)?;
            (store.height()?, manifest, status, Journal::load(&store)?, Some(state_root(&store)?), None)
        }
        None => {
            let v = view::published(dir)?.ok_or_else(|| {
                DevnetError::bad_input(format!(
                    "{}: the store is in use by another process that publishes no view of it (a snapshot export, a \
                     rollback); try again once it has finished",
                    dir.display()
                ))
            })?;
            let journal = v.journal.as_deref().map(Journal::decode).transpose()?;
            (v.height, v.manifest, v.status, journal, None, Some(v.pid))
        }
    };
    let shown_root = root.map(|r| r.to_string());
    let active = devnet::node::active_release(&status);
    let width = devchain::WIDTH;
    let position = |c: &vm_hooks::Cursor| c.position.as_deref().map(|k| describe(k, width));
    let account = |f: &vm_hooks::Failure| f.account(width).map_or_else(|| describe(&f.key, width), |a| a.to_string());
    let activated: Vec<_> = status.releases().iter().filter(|r| r.is_active()).collect();
    let quarantined: Vec<_> = status.failures().iter().filter(|f| !f.is_migration_failure()).collect();
    let halted: Vec<_> = status.failures().iter().filter(|f| f.is_migration_failure()).collect();
    if as_json {
        let mut value = json!({
            "data_dir": dir.display().to_string(),
            "height": height,
            "accounts": manifest.accounts,
            "active_release": active,
            "scheduled": manifest.activations,
            "manifest": manifest,
            "activations": activated.iter().map(|r| json!({"release": r.number, "height": r.activated_at})).collect::<Vec<_>>(),
            "on_chain_schedule": status.releases().iter().map(|r| json!({
                "release": r.number,
                "label": r.label,
                "height": r.height,
                "activated_at": r.activated_at,
                "max_resources_per_block": r.budget.max_resources,
                "max_bytes_per_block": r.budget.max_bytes,
                "max_quarantined": r.max_quarantined,
                "max_value_size": r.max_value_size,
                "migrations": r.entries.iter().map(|(id, checksum)| json!({"id": id, "checksum": checksum.to_string()})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "completed": status.completed().iter().map(|c| json!({"id": c.id, "checksum": c.checksum.to_string(), "height": c.height})).collect::<Vec<_>>(),
            "in_progress": status.in_progress().iter().map(|p| json!({
                "id": p.id,
                "migrated": p.migrated,
                "cursor": position(&p.cursor),
            })).collect::<Vec<_>>(),
            "quarantined": quarantined.iter().map(|f| json!({"migration": f.migration, "account": account(f), "reason": f.reason})).collect::<Vec<_>>(),
            "halted": halted.iter().map(|f| json!({"migration": f.migration, "reason": f.reason})).collect::<Vec<_>>(),
            "upgrade_under_way": journal.as_ref().map(|j| json!({"from": j.from, "to": j.to, "phase": j.phase, "backup": j.backup})),
            "state_root": shown_root,
        });
        if let (Some(pid), Some(fields)) = (published, value.as_object_mut()) {
            let note = "a running node holds the store: this is the view it published after its last block; the \
                        state root is not computed";
            fields.insert("published_by".to_owned(), json!({"pid": pid, "note": note}));
        }
        println!("{}", serde_json::to_string_pretty(&value).map_err(|e| DevnetError::failed(e.to_string()))?);
        return Ok(());
    }
    let mut t = Text::new();
    let _ = writeln!(t, "data dir:       {}", dir.display());
    let _ = writeln!(t, "height:         {height}");
    let _ = writeln!(t, "accounts:       {}", manifest.accounts);
    let _ = writeln!(t, "active release: v{active}");
    let scheduled: Vec<String> =
        manifest.activations.iter().map(|a| format!("v{} at {}", a.release, a.height)).collect();
    let _ =
        writeln!(t, "scheduled:      {}", if scheduled.is_empty() { "none".to_owned() } else { scheduled.join(", ") });
    for r in &activated {
        let _ = writeln!(t, "activated:      v{} at height {} (budget {})", r.number, r.activated_at, r.budget);
    }
    for c in status.completed() {
        let _ = writeln!(t, "completed:      {:<18} at {:<8} checksum {}", c.id, c.height, c.checksum);
    }
    for p in status.in_progress() {
        let cursor = position(&p.cursor).unwrap_or_else(|| "start".to_owned());
        let _ = writeln!(t, "in progress:    {:<18} {} migrated, after {cursor}", p.id, p.migrated);
    }
    let _ = writeln!(t, "quarantined:    {}", quarantined.len());
    for f in quarantined.iter().take(20) {
        let _ = writeln!(t, "  {} {}: {}", f.migration, account(f), f.reason);
    }
    for f in &halted {
        let _ = writeln!(t, "HALTED:         {}: {}", f.migration, f.reason);
    }
    if let Some(j) = &journal {
        let _ = writeln!(
            t,
            "UPGRADE:        v{} -> v{} interrupted at its {} step (backup {}); `devnet upgrade --to v{}` takes it up",
            j.from,
            j.to,
            j.phase.as_str(),
            j.backup.display(),
            j.to
        );
    }
    let _ = match (shown_root, published) {
        (Some(root), _) => writeln!(t, "state root:     {root}"),
        (None, pid) => writeln!(
            t,
            "state root:     not computed: a running node (process {}) holds the store; the above is the view it \
             published after block {height}",
            pid.unwrap_or_default()
        ),
    };
    // Every line escaped ([`Text`]): a quarantine reason, a migration id or a path from the
    // chain's status never reaches the terminal as a control character.
    print!("{}", t.as_str());
    Ok(())
}
