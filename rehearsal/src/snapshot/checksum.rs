//! The SHA-256 of a snapshot file, for its trailer: computed beside the pass that writes or
//! reads the file.

use sha2::{Digest, Sha256};
use std::io;
use std::sync::mpsc;
use std::thread;

/// The file's SHA-256, computed on another thread: export and verification are bound by
/// SHA-256 (the state root is one too), so the checksum costs them no time on the thread that
/// parses and computes the root. Fed in large chunks; inline if no thread can be started.
pub(super) enum Checksum {
    Inline(Sha256),
    /// Both are `Some` until `finish` or drop, which join the thread: a pass that fails never
    /// leaves a thread running behind it.
    Background {
        chunks: Option<mpsc::SyncSender<Vec<u8>>>,
        thread: Option<thread::JoinHandle<Sha256>>,
    },
}

impl Drop for Checksum {
    fn drop(&mut self) {
        if let Checksum::Background { chunks, thread } = self {
            drop(chunks.take());
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Checksum {
    pub(super) fn new() -> Checksum {
        let (chunks, received) = mpsc::sync_channel::<Vec<u8>>(4);
        let spawned = thread::Builder::new().name("snapshot-sha256".to_owned()).spawn(move || {
            let mut sha = Sha256::new();
            for chunk in received {
                sha.update(&chunk);
            }
            sha
        });
        match spawned {
            Ok(thread) => Checksum::Background { chunks: Some(chunks), thread: Some(thread) },
            Err(_) => Checksum::Inline(Sha256::new()),
        }
    }

    pub(super) fn update(&mut self, data: &[u8]) {
        match self {
            Checksum::Inline(sha) => sha.update(data),
            // A thread that is gone is reported by `finish`.
            Checksum::Background { chunks: Some(chunks), .. } => {
                let _ = chunks.send(data.to_vec());
            }
            Checksum::Background { chunks: None, .. } => {}
        }
    }

    pub(super) fn finish(mut self) -> io::Result<[u8; 32]> {
        let sha = match &mut self {
            Checksum::Inline(sha) => std::mem::take(sha),
            Checksum::Background { chunks, thread } => {
                drop(chunks.take());
                let thread = thread.take().ok_or_else(|| io::Error::other("the checksum thread is gone"))?;
                thread.join().map_err(|_| io::Error::other("the checksum thread failed"))?
            }
        };
        Ok(sha.finalize().into())
    }
}
