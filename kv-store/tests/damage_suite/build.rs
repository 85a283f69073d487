//! Builds a store through the `kv-store` binary, as a user does, and keeps
//! the model: every pair acknowledged and made durable (each command syncs
//! before it exits), every deleted key, and a copy of every file after each
//! step (the older valid copies a damage puts back).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{Engine, Size, files};

/// A built store and what it must hold.
#[derive(Debug)]
pub(crate) struct Built {
    /// Every file of the finished store.
    pub(crate) tree: BTreeMap<PathBuf, Vec<u8>>,
    /// Every live key and its latest value.
    pub(crate) model: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Keys deleted and not written since.
    pub(crate) deleted: BTreeSet<Vec<u8>>,
    /// The store's files after each earlier step, oldest first.
    pub(crate) history: Vec<BTreeMap<PathBuf, Vec<u8>>>,
}

/// Shape of the workload for a size.
struct Plan {
    keys: u64,
    /// Every `big_every`-th key gets a value over lsm's 4 KiB blob threshold.
    big_every: u64,
    batch: u64,
}

fn plan(size: Size) -> Plan {
    match size {
        Size::Small => Plan {
            keys: 400,
            big_every: 13,
            batch: 25,
        },
        Size::Large => Plan {
            keys: 200_000,
            big_every: 400,
            batch: 1_000,
        },
    }
}

pub(crate) fn key(i: u64) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

/// The value of key `i` written by step `generation`: distinct per step, so
/// an older value read back is told from the latest.
fn value(i: u64, generation: u64, big_every: u64) -> Vec<u8> {
    let mut v = format!("v{generation}-{i}-").into_bytes();
    let len = if i.is_multiple_of(big_every) {
        5_000
    } else {
        40
    };
    let fill = b'a' + (i % 26) as u8;
    v.resize(len, fill);
    v
}

/// Runs `kv-store --db dir --engine e args` with `stdin`; panics unless it
/// succeeds (building must work).
fn kv(dir: &Path, engine: Engine, args: &[&str], stdin: &[u8]) {
    let all: Vec<&str> = ["--engine", engine.name()]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let out = crate::common::run(dir, &all, stdin);
    assert!(
        out.status.success(),
        "building: kv-store {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Builder<'a> {
    dir: &'a Path,
    engine: Engine,
    plan: Plan,
    model: BTreeMap<Vec<u8>, Vec<u8>>,
    deleted: BTreeSet<Vec<u8>>,
    history: Vec<BTreeMap<PathBuf, Vec<u8>>>,
}

impl Builder<'_> {
    fn load(&mut self, generation: u64, keys: impl Iterator<Item = u64>) {
        let mut text = Vec::new();
        for i in keys {
            let (k, v) = (key(i), value(i, generation, self.plan.big_every));
            text.extend_from_slice(&k);
            text.push(b'\t');
            text.extend_from_slice(&v);
            text.push(b'\n');
            self.deleted.remove(&k);
            self.model.insert(k, v);
        }
        let batch = self.plan.batch.to_string();
        kv(
            self.dir,
            self.engine,
            &["load", "--batch", &batch, "-"],
            &text,
        );
        self.step_done();
    }

    fn delete(&mut self, keys: impl Iterator<Item = u64>) {
        let mut script = Vec::new();
        for i in keys {
            let k = key(i);
            script.extend_from_slice(b"delete ");
            script.extend_from_slice(&k);
            script.push(b'\n');
            if self.model.remove(&k).is_some() {
                self.deleted.insert(k);
            }
        }
        kv(self.dir, self.engine, &["shell"], &script);
        self.step_done();
    }

    fn compact(&mut self) {
        kv(self.dir, self.engine, &["compact"], b"");
        self.step_done();
    }

    fn step_done(&mut self) {
        self.history.push(files::read_tree(self.dir));
    }
}

/// Builds the store in `dir`: a load, overwrites, deletes, a compaction,
/// more overwrites and new keys, more deletes, and a last small load that
/// stays in lsm's log.
pub(crate) fn build(engine: Engine, size: Size, dir: &Path) -> Built {
    let plan = plan(size);
    let n = plan.keys;
    let mut b = Builder {
        dir,
        engine,
        plan,
        model: BTreeMap::new(),
        deleted: BTreeSet::new(),
        history: Vec::new(),
    };
    b.load(0, 0..n);
    b.load(1, (0..n).filter(|i| i % 3 == 0));
    b.delete((0..n).filter(|i| i % 10 == 5));
    b.compact();
    b.load(2, (0..n).filter(|i| i % 4 == 1).chain(n..n + n / 10));
    b.delete((0..n).filter(|i| i % 17 == 2));
    b.load(3, (0..n).filter(|i| i % 5 == 3));
    let mut history = b.history;
    let tree = history.pop().unwrap();
    Built {
        tree,
        model: b.model,
        deleted: b.deleted,
        history,
    }
}
