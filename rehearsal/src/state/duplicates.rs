//! Keys a state gives more than once. An interchange file may repeat a resource: the same bytes
//! twice are harmless (noted), but two different values under one key leave the state
//! ambiguous: which one is the chain's is unknown, and a rehearsal that kept the last one
//! silently would judge a state nobody gave. Each differing copy is a problem that makes the
//! state incomplete.

use super::{Context, Problem, ProblemKind, Problems, StateError, StateSource};
use migrations::store::Store;

/// Records in `problems` what the `repeated` resources that repeat a key read before them are:
/// a note, and a [`ProblemKind::Conflict`] for each copy whose bytes differ from the value kept
/// under its key in `store` (the state as loaded, the last copy of each key). Reads `source`
/// once more, only when something repeats; its own problems are not counted twice.
pub fn report(
    source: &mut dyn StateSource,
    context: &Context<'_>,
    store: &dyn Store,
    repeated: u64,
    origin: &str,
    problems: &mut Problems,
) -> Result<(), StateError> {
    let mut conflicting = 0u64;
    let mut found: Vec<Problem> = Vec::new();
    source.resources(
        context,
        &mut |r| {
            let kept = store.get(&r.account, r.tag).map_err(|e| StateError::Sink(e.to_string()))?;
            if kept.as_deref() != Some(r.bytes) {
                conflicting += 1;
                if found.len() < super::problems::EXAMPLES_PER_KIND {
                    found.push(Problem {
                        kind: ProblemKind::Conflict,
                        origin: r.origin.to_string(),
                        key: Some(format!("{} at {}", r.tag, r.account)),
                        message: "another resource under this key holds other bytes: which one the state means is \
                                  unknown, and the last one read was rehearsed"
                            .to_owned(),
                    });
                }
            }
            Ok(())
        },
        &mut Problems::default(),
    )?;
    problems.add(
        Problem {
            kind: ProblemKind::Duplicate,
            origin: origin.to_owned(),
            key: None,
            message: format!(
                "{repeated} resources repeat a key read before them ({conflicting} of all the copies differ from the one \
                 kept): the last one read is kept"
            ),
        },
        0,
    );
    // The first few in full, the rest counted.
    let rest = conflicting - found.len() as u64;
    for problem in found {
        problems.add(problem, 1);
    }
    if rest > 0 {
        *problems.counts.entry(ProblemKind::Conflict).or_default() += rest;
        problems.skipped_resources += rest;
    }
    Ok(())
}
