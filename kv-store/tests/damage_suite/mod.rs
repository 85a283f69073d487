//! The damage suite's harness: `build` makes a store through the
//! `kv-store` binary and keeps its model, `files` copies and snapshots a
//! store directory, `targets` lists the damages for every file of a store
//! (with the log and page parsing that finds records and pages), `check`
//! runs the reading commands on a damaged copy and classifies the outcome,
//! `report` prints the tables.

#![allow(
    clippy::print_stdout,
    reason = "the suite prints its table of outcomes"
)]

pub(crate) mod build;
pub(crate) mod check;
pub(crate) mod files;
pub(crate) mod report;
pub(crate) mod targets;

use std::path::Path;

/// The engine under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    Lsm,
    Btree,
}

impl Engine {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Engine::Lsm => "lsm",
            Engine::Btree => "btree",
        }
    }
}

/// How big a store the suite builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Size {
    /// A few hundred keys: runs in `cargo test --workspace`.
    Small,
    /// 200,000 keys, as the campaign of issue 20 used.
    Large,
}

/// The `kv-store` binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_kv-store");

/// Builds a store of `size` on `engine`, runs every damage on a fresh copy
/// of it, prints the table and asserts that no case failed.
pub(crate) fn run_suite(engine: Engine, size: Size) {
    let work = tempfile::tempdir().unwrap();
    let built = build::build(engine, size, &work.path().join("built"));
    // The harness itself: an undamaged copy reads back exactly the model.
    let control = check::run_case(
        engine,
        &built,
        &targets::Case::control(),
        &work.path().join("case"),
    );
    assert_eq!(
        control.outcome,
        check::Outcome::Harmless,
        "the undamaged store does not check out: {control:?}"
    );
    let cases = targets::cases(engine, &built);
    let mut results = Vec::with_capacity(cases.len() + 1);
    results.push(control);
    for case in &cases {
        results.push(check::run_case(
            engine,
            &built,
            case,
            &work.path().join("case"),
        ));
    }
    report::print(engine, size, &built, &results);
    let failures: Vec<String> = results
        .iter()
        .filter(|r| r.outcome.is_failure() || r.file_changed.is_some() || r.panic.is_some())
        .map(|r| r.line())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} damage case(s) on {} failed:\n{}",
        failures.len(),
        results.len(),
        engine.name(),
        failures.join("\n")
    );
}

/// The file name of `rel` (a path relative to the store), for messages.
pub(crate) fn base_name(rel: &Path) -> String {
    rel.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
