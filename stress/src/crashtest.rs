//! The crash-test driver (after RocksDB's `db_crashtest.py`): starts the
//! workload as a child process on one directory, SIGKILLs it at a random
//! moment, starts it again (each start verifies what the last one left),
//! and at the end verifies once more.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::engine::Kind;
use crate::expected::on_off;

/// What a crash test did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Children killed with SIGKILL while writing.
    pub kills: u64,
    /// Verifications run (one per start, and the last).
    pub verifications: u64,
    /// Keys checked over all verifications.
    pub keys_verified: u64,
    /// Values naming their batch (lsm) found over all verifications, each
    /// checked for the rest of its batch.
    pub batch_values_verified: u64,
    /// Writes acknowledged to the children over the whole test.
    pub writes_acked: u64,
    /// Violations found (each one is a bug).
    pub violations: Vec<String>,
}

/// The crash test's settings.
#[derive(Clone, Debug)]
pub struct CrashOptions {
    /// Which engine.
    pub engine: Kind,
    /// Keys `0..keys`.
    pub keys: u32,
    /// Writer threads per child.
    pub threads: usize,
    /// Sync on: every write durable before it is acknowledged.
    pub sync_on: bool,
    /// How long the whole test runs.
    pub duration: Duration,
    /// A child lives a random time up to this long before it is killed.
    pub kill_after_max: Duration,
    /// Seeds the kill times and the children.
    pub seed: u64,
    /// lsm: values of at least this many bytes go to blob files.
    pub blob_threshold: Option<usize>,
}

fn engine_name(k: Kind) -> &'static str {
    match k {
        Kind::Lsm => "lsm",
        Kind::Btree => "btree",
    }
}

/// Runs the crash test with the `stress` binary at `exe` on `dir`.
pub fn crashtest(exe: &Path, dir: &Path, o: &CrashOptions) -> Result<Summary, String> {
    let mut rng = SmallRng::seed_from_u64(o.seed);
    let mut summary = Summary::default();
    let start = Instant::now();
    let args = |seconds: f64, seed: u64| -> Vec<String> {
        vec![
            "run".into(),
            "--engine".into(),
            engine_name(o.engine).into(),
            "--dir".into(),
            dir.display().to_string(),
            "--keys".into(),
            o.keys.to_string(),
            "--threads".into(),
            o.threads.to_string(),
            "--sync".into(),
            on_off(o.sync_on).into(),
            "--seconds".into(),
            seconds.to_string(),
            "--seed".into(),
            seed.to_string(),
        ]
        .into_iter()
        .chain(
            o.blob_threshold
                .map(|t| ["--blob-threshold".to_string(), t.to_string()])
                .into_iter()
                .flatten(),
        )
        .collect()
    };
    while start.elapsed() < o.duration {
        let life =
            Duration::from_secs_f64(rng.random_range(0.05..1.0) * o.kill_after_max.as_secs_f64());
        let mut child = Command::new(exe)
            .args(args(3600.0, rng.random()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // The child verifies before it writes: let it finish that, then
        // give it its life.
        let mut lines = Vec::new();
        let verify_deadline = Instant::now() + Duration::from_secs(600);
        while !lines.iter().any(|l: &String| l.starts_with("verified")) {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(l) => lines.push(l),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < verify_deadline => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!("the child exited while verifying: {status}"));
                    }
                }
                Err(_) => return Err("the child stopped before verifying".into()),
            }
        }
        std::thread::sleep(life);
        let exited_early = child.try_wait().map_err(|e| e.to_string())?;
        if exited_early.is_none() {
            child.kill().map_err(|e| format!("SIGKILL: {e}"))?;
            summary.kills += 1;
        }
        let status = child.wait().map_err(|e| e.to_string())?;
        let _ = reader.join();
        lines.extend(rx.try_iter());
        account(&mut summary, &lines);
        if exited_early.is_some() && !status.success() {
            summary
                .violations
                .push(format!("the child failed on its own ({status}): {lines:?}"));
        }
        if !summary.violations.is_empty() {
            return Ok(summary);
        }
    }
    // The last state, verified without writing.
    let out = Command::new(exe)
        .args(args(0.0, 0))
        .output()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    account(&mut summary, &lines);
    if !out.status.success() {
        summary.violations.push(format!(
            "the final verification failed ({}): {lines:?}",
            out.status
        ));
    }
    Ok(summary)
}

/// Adds a child's output to the summary.
fn account(summary: &mut Summary, lines: &[String]) {
    for l in lines {
        if let Some(rest) = l.strip_prefix("verified ") {
            summary.verifications += 1;
            if let Some(n) = rest.split(' ').next().and_then(|n| n.parse::<u64>().ok()) {
                summary.keys_verified += n;
            }
            // `..., N batch values`
            if let Some(n) = rest
                .strip_suffix(" batch values")
                .and_then(|r| r.rsplit(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
            {
                summary.batch_values_verified += n;
            }
        } else if let Some(v) = l.strip_prefix("violation: ") {
            summary.violations.push(v.to_string());
        }
    }
    if let Some(n) = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("acked ").and_then(|n| n.parse::<u64>().ok()))
    {
        summary.writes_acked += n;
    }
}
