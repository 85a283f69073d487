//! The table of outcomes per file kind, and every case on its own line.

use std::collections::BTreeMap;

use super::build::Built;
use super::check::CaseResult;
use super::{Engine, Size};

/// Prints the summary table (Markdown, as in the engines' READMEs) and the
/// list of cases.
pub(crate) fn print(engine: Engine, size: Size, built: &Built, results: &[CaseResult]) {
    let mut rows: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for r in results {
        *rows
            .entry(r.case.kind.as_str())
            .or_default()
            .entry(r.labels().join(" + "))
            .or_default() += 1;
    }
    println!(
        "\n## damage suite: {} ({size:?} store: {} live keys, {} deleted, {} files)\n",
        engine.name(),
        built.model.len(),
        built.deleted.len(),
        built.tree.len()
    );
    println!("| file kind | cases | outcomes |");
    println!("|---|---:|---|");
    for (kind, outcomes) in &rows {
        let total: usize = outcomes.values().sum();
        let text: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o}: {n}")).collect();
        println!("| {kind} | {total} | {} |", text.join(", "));
    }
    println!("\nevery case:");
    for r in results {
        println!("{}", r.line());
    }
}
