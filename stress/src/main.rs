//! `stress run` (one run of the workload) and `stress crashtest` (the
//! kill-and-restart driver). See the crate README.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool"
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use stress::{CrashOptions, Kind, RunOptions};

#[derive(Parser)]
#[command(version, about = "Crash soak for the lsm and btree engines")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// What both commands take.
#[derive(clap::Args)]
struct Common {
    #[arg(long, value_enum)]
    engine: Kind,
    #[arg(long)]
    dir: PathBuf,
    #[arg(long, default_value_t = 10_000)]
    keys: u32,
    /// Threads doing the workload.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// On: every write durable before it is acknowledged; off: a `sync`
    /// every 100 ms, and only what it covered must survive.
    #[arg(long, value_enum, default_value = "on")]
    sync: OnOff,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// lsm: values of at least this many bytes go to blob files (the
    /// workload's values are 20 to 215 bytes; 100 separates about half).
    #[arg(long)]
    blob_threshold: Option<usize>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Verifies the directory, then runs the workload for `--seconds`
    /// (0: verify only). Exit code 2 on a violation.
    Run {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Starts `run` again and again on one directory, SIGKILLs it at random
    /// moments, and verifies after every restart. Exit code 2 on a
    /// violation.
    Crashtest {
        #[command(flatten)]
        common: Common,
        /// How long the whole test runs.
        #[arg(long, default_value_t = 1.0)]
        minutes: f64,
        /// A child is killed after a random time up to this.
        #[arg(long, default_value_t = 4.0)]
        kill_after_max_seconds: f64,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run { common: c, seconds } => {
            let o = RunOptions {
                engine: c.engine,
                keys: c.keys,
                threads: c.threads,
                sync_on: c.sync == OnOff::On,
                seconds,
                seed: c.seed,
                blob_threshold: c.blob_threshold,
            };
            match stress::run(&c.dir, &o) {
                Ok((v, _)) if v.violations.is_empty() => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(2),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Cmd::Crashtest {
            common: c,
            minutes,
            kill_after_max_seconds,
        } => {
            let exe = match std::env::current_exe() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let o = CrashOptions {
                engine: c.engine,
                keys: c.keys,
                threads: c.threads,
                sync_on: c.sync == OnOff::On,
                duration: Duration::from_secs_f64(minutes * 60.0),
                kill_after_max: Duration::from_secs_f64(kill_after_max_seconds),
                seed: c.seed,
                blob_threshold: c.blob_threshold,
            };
            match stress::crashtest(&exe, &c.dir, &o) {
                Ok(s) => {
                    println!(
                        "kills {}, verifications {}, keys verified {}, batch values verified {}, writes acknowledged {}, violations {}",
                        s.kills,
                        s.verifications,
                        s.keys_verified,
                        s.batch_values_verified,
                        s.writes_acked,
                        s.violations.len()
                    );
                    for v in s.violations.iter().take(20) {
                        println!("violation: {v}");
                    }
                    if s.violations.is_empty() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(2)
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
