//! A writing child process is killed with SIGKILL, repeatedly; after each
//! kill the database reopens at the last commit the child reported durable
//! (or the one after it, in flight), and every page's checksum holds.
//!
//! The child is this test binary itself, run with `BTREE_SIGKILL_DIR` set.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use larder_btree::{Db, Options};

const ENV: &str = "BTREE_SIGKILL_DIR";

fn open(dir: &Path) -> Db {
    Db::open_with_fs(
        Arc::new(vfs::OsFs::new()),
        dir.join("db"),
        Options::default(),
    )
    .unwrap()
}

/// Commit `c`: set key `c % 500` to a value of `c`, remove `(c * 7) % 500`
/// when `c` is odd, and store `c` under `commit`.
fn apply(model: &mut BTreeMap<Vec<u8>, Vec<u8>>, c: u64) {
    let k = (c % 500).to_be_bytes().to_vec();
    model.insert(k, vec![c as u8; 10 + (c as usize * 37) % 6000]);
    if c % 2 == 1 {
        model.remove(((c * 7) % 500).to_be_bytes().as_slice());
    }
    model.insert(b"commit".to_vec(), c.to_le_bytes().to_vec());
}

fn last_commit(db: &Db) -> Option<u64> {
    let read = db.begin_read().unwrap();
    read.get(b"commit")
        .unwrap()
        .map(|v| u64::from_le_bytes(v[..8].try_into().unwrap()))
}

/// The child's role: commit forever, reporting each durable commit.
#[test]
fn sigkill_child_role() {
    let Ok(dir) = std::env::var(ENV) else { return };
    let db = open(Path::new(&dir));
    let mut c = last_commit(&db).map_or(0, |c| c + 1);
    let mut out = std::io::stdout().lock();
    loop {
        let mut model = BTreeMap::new();
        apply(&mut model, c);
        let mut txn = db.begin_write().unwrap();
        for (k, v) in &model {
            txn.insert(k, v).unwrap();
        }
        if c % 2 == 1 {
            txn.remove(&((c * 7) % 500).to_be_bytes()).unwrap();
        }
        txn.commit().unwrap();
        writeln!(out, "committed {c}").unwrap();
        out.flush().unwrap();
        c += 1;
    }
}

#[test]
fn sigkilled_writer_reopens_at_its_last_durable_commit() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut reported: Option<u64> = None;
    for round in 0..6u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "sigkill_child_role",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line
                    .strip_prefix("committed ")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    && tx.send(n).is_err()
                {
                    break;
                }
            }
        });
        // Wait for the child's first commit of this round (however slow the
        // machine), then let it run a varying while before the kill.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the child never committed");
        reported = Some(first);
        std::thread::sleep(Duration::from_millis(20 + round * 37 % 100));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        while let Ok(n) = rx.try_recv() {
            reported = Some(n);
        }
        let db = open(dir.path());
        db.check().unwrap();
        let got = last_commit(&db);
        // Every reported commit is durable; at most one more may have landed.
        if let Some(r) = reported {
            let g = got.expect("a reported commit was lost");
            assert!(g == r || g == r + 1, "reported {r}, found {g}");
        }
        let mut model = BTreeMap::new();
        if let Some(g) = got {
            for c in 0..=g {
                apply(&mut model, c);
            }
        }
        let read = db.begin_read().unwrap();
        let contents: BTreeMap<Vec<u8>, Vec<u8>> = read
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert_eq!(contents, model);
    }
    assert!(
        reported.is_some_and(|r| r > 5),
        "the child made too little progress: {reported:?}"
    );
}
