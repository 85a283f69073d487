//! A writer process killed with SIGKILL in the middle of puts: after
//! reopening, every blob whose `put` returned is readable and whole, and no
//! partial blob is listed.
//!
//! The test binary spawns itself (`std::env::current_exe()`) with
//! `ERASURE_SIGKILL_CHILD` naming the store's directory; the child puts blobs
//! forever, printing `ACK <id> <seed>` after each `put` returns, until the
//! parent kills it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::blob;
use larder_erasure::{BlobId, BlobStore, Options};

const CHILD_ENV: &str = "ERASURE_SIGKILL_CHILD";
const TEST_NAME: &str = "sigkill_mid_puts_keeps_every_acknowledged_blob";
/// Kill-and-reopen rounds on one store.
const ROUNDS: u64 = 6;

fn options() -> Options {
    Options {
        data_shards: 4,
        parity_shards: 2,
        stripe_size_bytes: 16 << 10,
    }
}

fn dirs(root: &Path) -> Vec<PathBuf> {
    (0..6).map(|i| root.join(format!("disk{i}"))).collect()
}

/// A blob that says what it should be: its seed and length, then
/// `blob(len, seed)`.
fn self_describing(seed: u64) -> Vec<u8> {
    let len = (seed.wrapping_mul(7919) % 100_000) as usize;
    let mut b = Vec::with_capacity(16 + len);
    b.extend_from_slice(&seed.to_le_bytes());
    b.extend_from_slice(&(len as u64).to_le_bytes());
    b.extend_from_slice(&blob(len, seed));
    b
}

fn check_self_describing(b: &[u8]) -> Option<u64> {
    let seed = u64::from_le_bytes(b.get(..8)?.try_into().ok()?);
    (self_describing(seed) == b).then_some(seed)
}

fn child(root: &Path, first_seed: u64) -> ! {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
    let store = BlobStore::open_with_fs(fs, &dirs(root), options()).expect("child open");
    let mut out = std::io::stdout().lock();
    for seed in first_seed.. {
        let id = store.put(&self_describing(seed)).expect("child put");
        writeln!(out, "ACK {} {seed}", id.0).expect("stdout");
        out.flush().expect("stdout");
    }
    unreachable!()
}

#[test]
fn sigkill_mid_puts_keeps_every_acknowledged_blob() {
    if let Some(root) = std::env::var_os(CHILD_ENV) {
        let first: u64 = std::env::var("ERASURE_SIGKILL_SEED")
            .expect("seed")
            .parse()
            .expect("seed");
        child(Path::new(&root), first);
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut acked: Vec<(BlobId, u64)> = Vec::new();
    for round in 0..ROUNDS {
        let mut proc = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, tmp.path())
            .env("ERASURE_SIGKILL_SEED", (round * 1_000_000).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = proc.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let kill_after = 5 + round * 7;
        let mut this_round = 0;
        while this_round < kill_after {
            let line = lines.next().expect("child ended early").unwrap();
            let Some(rest) = line.strip_prefix("ACK ") else {
                continue;
            };
            let (id, seed) = rest.split_once(' ').unwrap();
            acked.push((BlobId(id.parse().unwrap()), seed.parse().unwrap()));
            this_round += 1;
        }
        // Mid-put: the child is always inside a put or about to start one;
        // a short, varying pause lands the kill inside one (its syncs take
        // milliseconds).
        std::thread::sleep(std::time::Duration::from_micros(700 + round * 900));
        proc.kill().unwrap();
        proc.wait().unwrap();
        // A put may have returned after the last line we read.
        for line in lines.map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (id, seed) = rest.split_once(' ').unwrap();
                acked.push((BlobId(id.parse().unwrap()), seed.parse().unwrap()));
            }
        }

        let pending = dirs(tmp.path())
            .iter()
            .flat_map(|d| std::fs::read_dir(d).unwrap())
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().ends_with(".pending")
            })
            .count();
        eprintln!("round {round}: killed with {pending} pending shard files on disk");
        let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::OsFs::new());
        let store = BlobStore::open_with_fs(fs, &dirs(tmp.path()), options()).unwrap();
        for (id, seed) in &acked {
            let got = store.get(*id).unwrap();
            assert_eq!(
                check_self_describing(&got),
                Some(*seed),
                "round {round}: blob {id}"
            );
        }
        for id in store.list() {
            let got = store.get(id).unwrap();
            assert!(
                check_self_describing(&got).is_some(),
                "round {round}: listed blob {id} is partial"
            );
        }
        // Nothing but committed shards is left after the reopen.
        for d in dirs(tmp.path()) {
            for e in std::fs::read_dir(&d).unwrap() {
                let name = e.unwrap().file_name().into_string().unwrap();
                assert!(
                    name == "MANIFEST" || name == "LOCK" || name.ends_with(".shard"),
                    "{name}"
                );
            }
        }
    }
    assert!(acked.len() as u64 >= (0..ROUNDS).map(|r| 5 + r * 7).sum::<u64>());
}
