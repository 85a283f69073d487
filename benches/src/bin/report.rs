//! `cargo run --release -p benches --bin report -- [--scale tiny|quick|full|large] [--out DIR] [--only NAME...]`:
//! runs the workloads and writes `DIR/index.md`, SVG plots and `results.json`.

use std::path::PathBuf;

use benches::report::{self, Scale};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// Runs every structure and engine workload and writes one report.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, after_help = "Example:\n  cargo run --release -p benches --features peers --bin report -- --quick --out target/report")]
struct Args {
    /// How large: tiny (seconds; tests the harness), quick (under five
    /// minutes), full (a million keys), large (20 M keys, 40 minutes on a
    /// 2-core machine with every peer).
    #[arg(long, default_value = "full", value_parser = Scale::from_name)]
    scale: Scale,
    /// Same as `--scale quick`.
    #[arg(long, conflicts_with_all = ["tiny", "scale"])]
    quick: bool,
    /// Same as `--scale tiny`.
    #[arg(long, conflicts_with = "scale")]
    tiny: bool,
    /// Multiplies every engine phase's time budget (1: as calibrated for a
    /// 2-core machine).
    #[arg(long, default_value_t = 1.0)]
    budget_factor: f64,
    /// Where to write index.md, the SVG plots and results.json.
    #[arg(long, default_value = "target/report")]
    out: PathBuf,
    /// Run only these workloads (bloom, hyperloglog, merkle, erasure, engines).
    #[arg(long, num_args = 1..)]
    only: Vec<String>,
    /// Where the engines keep their files during the run (removed after);
    /// put it on the disk you want measured, not tmpfs.
    #[arg(long, default_value = "target/report-data")]
    data: PathBuf,
}

/// ` --features a,b` for the features this binary was built with.
fn features() -> String {
    let on: Vec<&str> = [
        (cfg!(feature = "peers"), "peers"),
        (cfg!(feature = "rocksdb"), "rocksdb"),
        (cfg!(feature = "lmdb"), "lmdb"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if on.is_empty() {
        String::new()
    } else {
        format!(" --features {}", on.join(","))
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let scale = match (args.tiny, args.quick) {
        (true, _) => Scale::Tiny,
        (_, true) => Scale::Quick,
        _ => args.scale,
    };
    if !(args.budget_factor.is_finite() && args.budget_factor > 0.0) {
        eprintln!(
            "error: --budget-factor {} is not a positive number",
            args.budget_factor
        );
        return std::process::ExitCode::from(2);
    }
    let known: Vec<&str> = report::workloads().iter().map(|w| w.name).collect();
    if let Some(bad) = args.only.iter().find(|o| !known.contains(&o.as_str())) {
        eprintln!(
            "error: no workload named {bad:?} (known: {})",
            known.join(", ")
        );
        return std::process::ExitCode::from(2);
    }
    let steps: u64 = report::workloads()
        .iter()
        .filter(|w| args.only.is_empty() || args.only.iter().any(|o| o == w.name))
        .map(|w| w.steps)
        .sum();
    let bar = ProgressBar::new(steps);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut started = false;
    if let Err(e) = std::fs::create_dir_all(&args.data) {
        eprintln!("error: creating {}: {e}", args.data.display());
        return std::process::ExitCode::from(2);
    }
    let context = report::Context {
        scale,
        data_dir: args.data.clone(),
        budget_factor: args.budget_factor,
    };
    let result = report::run_with(&context, &args.only, &mut |step| {
        if started {
            bar.inc(1);
        }
        started = true;
        bar.set_message(step.to_string());
    });
    bar.finish_with_message("done");
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let command = format!(
        "cargo run --release -p benches{} --bin report --{}",
        features(),
        command
            .split_once(' ')
            .map_or(String::new(), |(_, rest)| format!(" {rest}"))
    );
    if let Err(e) = report::write(&result, &args.out, &command) {
        eprintln!("error: writing the report to {}: {e}", args.out.display());
        return std::process::ExitCode::from(2);
    }
    eprintln!("wrote {}", args.out.join("index.md").display());
    std::process::ExitCode::SUCCESS
}
