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

#[derive(Subcommand)]
enum Cmd {
    /// Verifies the directory, then runs the workload for `--seconds`
    /// (0: verify only). Exit code 2 on a violation.
    Run {
        #[arg(long, value_enum)]
        engine: Kind,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        keys: u32,
        #[arg(long, default_value_t = 4)]
        threads: usize,
        #[arg(long, value_enum, default_value = "on")]
        sync: OnOff,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Starts `run` again and again on one directory, SIGKILLs it at random
    /// moments, and verifies after every restart. Exit code 2 on a
    /// violation.
    Crashtest {
        #[arg(long, value_enum)]
        engine: Kind,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        keys: u32,
        #[arg(long, default_value_t = 4)]
        threads: usize,
        #[arg(long, value_enum, default_value = "on")]
        sync: OnOff,
        /// How long the whole test runs.
        #[arg(long, default_value_t = 1.0)]
        minutes: f64,
        /// A child is killed after a random time up to this.
        #[arg(long, default_value_t = 4.0)]
        kill_after_max_seconds: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Cmd::Run {
            engine,
            dir,
            keys,
            threads,
            sync,
            seconds,
            seed,
        } => {
            let o = RunOptions {
                engine,
                keys,
                threads,
                sync_on: sync == OnOff::On,
                seconds,
                seed,
            };
            match stress::run(&dir, &o) {
                Ok(v) if v.violations.is_empty() => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(2),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Cmd::Crashtest {
            engine,
            dir,
            keys,
            threads,
            sync,
            minutes,
            kill_after_max_seconds,
            seed,
        } => {
            let exe = match std::env::current_exe() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let o = CrashOptions {
                engine,
                keys,
                threads,
                sync_on: sync == OnOff::On,
                duration: Duration::from_secs_f64(minutes * 60.0),
                kill_after_max: Duration::from_secs_f64(kill_after_max_seconds),
                seed,
            };
            match stress::crashtest(&exe, &dir, &o) {
                Ok(s) => {
                    println!(
                        "kills {}, verifications {}, keys verified {}, writes acknowledged {}, violations {}",
                        s.kills,
                        s.verifications,
                        s.keys_verified,
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
