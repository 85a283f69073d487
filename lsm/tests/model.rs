//! Model-based tests: random operations against a `BTreeMap` per keyspace,
//! with tiny buffers so memtables, L0, deep levels and tombstones are all
//! exercised. Every feature runs together: puts, deletes, range deletes,
//! merges (the append operator), batches mixing them across keyspaces,
//! optimistic transactions (with a write between a read and the commit
//! that must make it conflict), snapshots, flushes, compactions, keyspaces
//! dropped and created again, and reopens, on every table store; and with
//! a TTL and a manual clock that moves forward, where merges give way (a
//! store takes a TTL or a merge operator, not both).
//!
//! Three keyspaces: the default, `a` (the database's options) and `b` (its own write
//! buffer, compression flipped, other Bloom bits, and a blob threshold
//! that sends values to blob files where the default keeps them inline,
//! or the other way round). Each write or read picks one of the live
//! ones; transactions and ingests stay in the default, and a store that
//! publishes its manifest has the default only.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use larder_lsm::{
    AppendOperator, Db, DbIter, Keyspace, KeyspaceOptions, ManualClock, Snapshot, WriteBatch,
};
use proptest::prelude::*;

/// The first `u8` of a write or a read picks the keyspace it goes to,
/// among the live ones.
#[derive(Clone, Debug)]
enum Op {
    Put(u8, u8, u16),
    Delete(u8, u8),
    /// A batch of puts and deletes (`None`), each in a keyspace of its own.
    Batch(Vec<(u8, u8, Option<u16>)>),
    /// `delete_range(key(a)..key(b))`.
    DeleteRange(u8, u8, u8),
    Merge(u8, u8, u16),
    /// A batch of every kind of write across keyspaces: `(ks, what % 4,
    /// k, v)` is a put, a delete, a merge or a range delete of
    /// `key(k)..key(k + v % 8)` in keyspace `ks`.
    MixedBatch(Vec<(u8, u8, u8, u16)>),
    /// A transaction (default keyspace): reads, writes (`None` deletes),
    /// and maybe another writer's put before the commit.
    Txn(Vec<u8>, Vec<(u8, Option<u16>)>, Option<u8>),
    /// Moves the clock forward `n % 150` ms (with a TTL of 100 ms).
    Advance(u16),
    /// A sorted run of puts and deletes written with a `TableWriter` and
    /// ingested into the default keyspace (it wins over everything
    /// written before).
    Ingest(Vec<(u8, Option<u16>)>),
    Get(u8, u8),
    Range(u8, u8, u8, bool),
    Prefix(u8, u8, bool),
    TakeSnapshot,
    /// Reads snapshot `i` in keyspace `ks`: a get, a range (both
    /// directions) and everything.
    ReadSnapshot(usize, u8, u8, u8, bool),
    DropSnapshot(usize),
    Flush,
    Compact(u8, u8, u8),
    /// Drops keyspace `a` or `b` (by parity); a dropped one is refused.
    DropKeyspace(u8),
    /// Creates keyspace `a` or `b` (by parity) if dropped, empty; a live
    /// one opens again as it is.
    CreateKeyspace(u8),
    Reopen,
}

fn key(k: u8) -> Vec<u8> {
    format!("key{:03}", k % 120).into_bytes()
}

fn value(k: u8, v: u16) -> Vec<u8> {
    // Values of varied length so blocks split at different places.
    let mut out = format!("v{v}-").into_bytes();
    out.resize(4 + (usize::from(v) * 7 + usize::from(k)) % 90, b'x');
    out
}

fn op() -> impl Strategy<Value = Op> {
    let u = any::<u8>;
    prop_oneof![
        20 => (u(), u(), any::<u16>()).prop_map(|(s, k, v)| Op::Put(s, k, v)),
        6 => (u(), u()).prop_map(|(s, k)| Op::Delete(s, k)),
        4 => prop::collection::vec((u(), u(), prop::option::of(any::<u16>())), 1..8).prop_map(Op::Batch),
        2 => (u(), u(), u()).prop_map(|(s, a, b)| Op::DeleteRange(s, a, b)),
        6 => (u(), u(), any::<u16>()).prop_map(|(s, k, v)| Op::Merge(s, k, v)),
        3 => prop::collection::vec((u(), u(), u(), any::<u16>()), 1..8).prop_map(Op::MixedBatch),
        2 => (
            prop::collection::vec(u(), 0..4),
            prop::collection::vec((u(), prop::option::of(any::<u16>())), 0..4),
            prop::option::of(u()),
        )
            .prop_map(|(r, w, i)| Op::Txn(r, w, i)),
        3 => any::<u16>().prop_map(Op::Advance),
        2 => prop::collection::vec((u(), prop::option::of(any::<u16>())), 1..24).prop_map(Op::Ingest),
        8 => (u(), u()).prop_map(|(s, k)| Op::Get(s, k)),
        3 => (u(), u(), u(), any::<bool>()).prop_map(|(s, a, b, r)| Op::Range(s, a, b, r)),
        2 => (u(), u(), any::<bool>()).prop_map(|(s, a, r)| Op::Prefix(s, a, r)),
        2 => Just(Op::TakeSnapshot),
        3 => (any::<usize>(), u(), u(), u(), any::<bool>())
            .prop_map(|(i, s, a, b, r)| Op::ReadSnapshot(i, s, a, b, r)),
        1 => any::<usize>().prop_map(Op::DropSnapshot),
        2 => Just(Op::Flush),
        1 => (u(), u(), u()).prop_map(|(s, a, b)| Op::Compact(s, a, b)),
        1 => u().prop_map(Op::DropKeyspace),
        2 => u().prop_map(Op::CreateKeyspace),
        1 => Just(Op::Reopen),
    ]
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// When each key was last put, in ms of the manual clock.
type Born = BTreeMap<Vec<u8>, u64>;

/// The TTL of the timed runs.
const TTL_MS: u64 = 100;

/// Drops what expired by `now`: the clock only moves forward, so an
/// expired key stays gone until it is written again, for every reader.
fn expire(m: &mut Model, born: &Born, now: u64) {
    m.retain(|k, _| born.get(k).is_none_or(|&b| b + TTL_MS > now));
}

/// A merge operand.
fn operand(v: u16) -> Vec<u8> {
    format!("m{}", v % 1000).into_bytes()
}

/// What the append operator makes of a merge into the model.
fn merge_into(m: &mut Model, k: Vec<u8>, operand: Vec<u8>) {
    let v = match m.remove(&k) {
        Some(mut old) => {
            old.push(b',');
            old.extend_from_slice(&operand);
            old
        }
        None => operand,
    };
    m.insert(k, v);
}

/// `delete_range(lo..hi)` on the model (empty if `lo >= hi`).
fn delete_range(m: &mut Model, lo: &[u8], hi: &[u8]) {
    if lo < hi {
        let doomed: Vec<Vec<u8>> = m
            .range::<[u8], _>((Bound::Included(lo), Bound::Excluded(hi)))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            m.remove(&k);
        }
    }
}

fn model_range(m: &Model, lo: &[u8], hi: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    if lo > hi {
        return Vec::new();
    }
    m.range::<[u8], _>((Bound::Included(lo), Bound::Included(hi)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn pairs(m: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Keyspace slots: the default (always live), `a`, `b`.
const NAMES: [&str; 3] = ["default", "a", "b"];

/// The options keyspace `b` is created with: each differs from the
/// database's (the write buffer too, with the tiny options). Values are 4 to 93 bytes: with the database at a threshold
/// of 40 (about half its values in blobs) `b` keeps every value inline;
/// with the database's threshold above every value, `b` sends nearly all
/// of them to blobs; with no blob store, neither can.
fn options_b(db: &larder_lsm::Options) -> KeyspaceOptions {
    KeyspaceOptions {
        write_buffer_size_bytes: 4096,
        compression: !db.compression,
        bloom_bits_per_key: if db.bloom_bits_per_key == 3 { 5 } else { 3 },
        blob_threshold_bytes: match db.blob_threshold_bytes {
            Some(t) if t > 100 => Some(8),
            _ => None,
        },
    }
}

/// The options keyspace `a` is created with: the database's.
fn options_a(db: &larder_lsm::Options) -> KeyspaceOptions {
    KeyspaceOptions::from_db(db)
}

/// The options slot `i` is created with.
fn options_of(i: usize, db: &larder_lsm::Options) -> KeyspaceOptions {
    if i == 2 { options_b(db) } else { options_a(db) }
}

/// Creates (or opens) the keyspace of slot `i` (1 or 2): `a` by
/// `Db::keyspace` where the database's options are a keyspace's.
fn open_keyspace(d: &Db, i: usize, opts: &larder_lsm::Options) -> Keyspace {
    let own = options_of(i, opts);
    let ks = if i == 1 && own == KeyspaceOptions::from_db(opts) {
        d.keyspace(NAMES[i])
    } else {
        d.keyspace_with(NAMES[i], own)
    }
    .unwrap_or_else(|e| panic!("keyspace {}: {e}", NAMES[i]));
    assert_eq!(ks.name(), NAMES[i]);
    assert_eq!(ks.options(), own, "{}", NAMES[i]);
    // Open again by name alone: the options it was created with.
    let again = d.keyspace(NAMES[i]).expect("open an existing keyspace");
    assert_eq!(again.options(), own, "{}", NAMES[i]);
    ks
}

/// A live keyspace: its handle (none for the default), its model, and
/// its generation (a new one each time it is created), so a snapshot
/// taken before a drop is not read as the keyspace created after it.
struct Space {
    handle: Option<Keyspace>,
    model: Model,
    born: Born,
    generation: u32,
}

/// The default keyspace or a named one, under one interface.
#[derive(Clone, Copy)]
enum Tree<'a> {
    Default(&'a Db),
    Named(&'a Keyspace),
}

impl Tree<'_> {
    fn put(self, k: Vec<u8>, v: Vec<u8>) -> larder_lsm::Result<()> {
        match self {
            Tree::Default(d) => d.put(k, v),
            Tree::Named(ks) => ks.put(k, v),
        }
    }
    fn delete(self, k: Vec<u8>) -> larder_lsm::Result<()> {
        match self {
            Tree::Default(d) => d.delete(k),
            Tree::Named(ks) => ks.delete(k),
        }
    }
    fn delete_range(self, lo: &[u8], hi: &[u8]) -> larder_lsm::Result<()> {
        match self {
            Tree::Default(d) => d.delete_range(lo..hi),
            Tree::Named(ks) => ks.delete_range(lo..hi),
        }
    }
    fn merge(self, k: Vec<u8>, v: Vec<u8>) -> larder_lsm::Result<()> {
        match self {
            Tree::Default(d) => d.merge(k, v),
            Tree::Named(ks) => ks.merge(k, v),
        }
    }
    fn get(self, k: &[u8]) -> Option<Vec<u8>> {
        match self {
            Tree::Default(d) => d.get(k),
            Tree::Named(ks) => ks.get(k),
        }
        .expect("get")
        .map(|v| v.to_vec())
    }
    fn range(self, lo: &[u8], hi: &[u8]) -> DbIter {
        match self {
            Tree::Default(d) => d.range(lo..=hi),
            Tree::Named(ks) => ks.range(lo..=hi),
        }
    }
    fn iter(self) -> DbIter {
        match self {
            Tree::Default(d) => d.iter(),
            Tree::Named(ks) => ks.iter(),
        }
    }
    fn prefix(self, p: &[u8]) -> DbIter {
        match self {
            Tree::Default(d) => d.prefix(p),
            Tree::Named(ks) => ks.prefix(p),
        }
    }
    fn compact_range(self, lo: &[u8], hi: &[u8]) -> larder_lsm::Result<()> {
        match self {
            Tree::Default(d) => d.compact_range(lo..=hi),
            Tree::Named(ks) => ks.compact_range(lo..=hi),
        }
    }
    fn get_at(self, s: &Snapshot, k: &[u8]) -> Option<Vec<u8>> {
        match self {
            Tree::Default(_) => s.get(k),
            Tree::Named(ks) => ks.get_at(s, k),
        }
        .expect("snapshot get")
        .map(|v| v.to_vec())
    }
    fn range_at(self, s: &Snapshot, lo: &[u8], hi: &[u8]) -> DbIter {
        match self {
            Tree::Default(_) => s.range(lo..=hi),
            Tree::Named(ks) => ks.range_at(s, lo..=hi),
        }
    }
    fn iter_at(self, s: &Snapshot) -> DbIter {
        match self {
            Tree::Default(_) => s.iter(),
            Tree::Named(ks) => ks.range_at::<&[u8], _>(s, ..),
        }
    }
    fn batch_put(self, b: &mut WriteBatch, k: Vec<u8>, v: Vec<u8>) {
        match self {
            Tree::Default(_) => b.put(k, v),
            Tree::Named(ks) => b.put_in(ks, k, v),
        }
    }
    fn batch_delete(self, b: &mut WriteBatch, k: Vec<u8>) {
        match self {
            Tree::Default(_) => b.delete(k),
            Tree::Named(ks) => b.delete_in(ks, k),
        }
    }
    fn batch_merge(self, b: &mut WriteBatch, k: Vec<u8>, v: Vec<u8>) {
        match self {
            Tree::Default(_) => b.merge(k, v),
            Tree::Named(ks) => b.merge_in(ks, k, v),
        }
    }
    fn batch_delete_range(self, b: &mut WriteBatch, lo: Vec<u8>, hi: Vec<u8>) {
        match self {
            Tree::Default(_) => b.delete_range(lo, hi),
            Tree::Named(ks) => b.delete_range_in(ks, lo, hi),
        }
    }
}

/// The live keyspaces, default first.
struct Spaces {
    slots: [Option<Space>; 3],
    next_generation: u32,
    /// Names of the live named keyspaces in the order they were created
    /// (what `Db::keyspace_names` returns).
    names: Vec<String>,
}

impl Spaces {
    /// The slot `sel` picks among the live ones.
    fn pick(&self, sel: u8) -> usize {
        let live: Vec<usize> = (0..3).filter(|&i| self.slots[i].is_some()).collect();
        live[usize::from(sel) % live.len()]
    }
    fn space(&mut self, i: usize) -> &mut Space {
        self.slots[i].as_mut().expect("a live keyspace")
    }
    fn model(&self, i: usize) -> &Model {
        &self.slots[i].as_ref().expect("a live keyspace").model
    }
    fn tree<'a>(&'a self, d: &'a Db, i: usize) -> Tree<'a> {
        match &self.slots[i].as_ref().expect("a live keyspace").handle {
            None => Tree::Default(d),
            Some(ks) => Tree::Named(ks),
        }
    }
    fn create(&mut self, i: usize, handle: Option<Keyspace>) {
        assert!(self.slots[i].is_none());
        self.next_generation += 1;
        self.slots[i] = Some(Space {
            handle,
            model: Model::new(),
            born: Born::new(),
            generation: self.next_generation,
        });
        if i != 0 {
            self.names.push(NAMES[i].to_string());
        }
    }
    fn live(&self) -> impl Iterator<Item = (usize, &Space)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
    }
    /// Drops every named handle, so the database can close.
    fn release(&mut self) {
        for s in self.slots.iter_mut().flatten() {
            s.handle = None;
        }
    }
    /// Opens the named handles again on a reopened database, checking it
    /// restored exactly the live keyspaces, in order, with their options.
    fn reattach(&mut self, d: &Db, opts: &larder_lsm::Options) {
        assert_eq!(d.keyspace_names(), self.names, "keyspaces after reopen");
        for i in 1..3 {
            if let Some(s) = &mut self.slots[i] {
                s.handle = Some(open_keyspace(d, i, opts));
            }
        }
    }
    /// Checks every live keyspace against its model, both directions.
    fn check_all(&self, d: &Db, what: &str) {
        for (i, s) in self.live() {
            let t = self.tree(d, i);
            let all = pairs(&s.model);
            common::assert_same(
                &common::collect(t.iter()),
                &all,
                &format!("{what}: {}", NAMES[i]),
            );
            let mut all_rev = all;
            all_rev.reverse();
            common::assert_same(
                &common::collect(t.iter().rev()),
                &all_rev,
                &format!("{what}: {} rev", NAMES[i]),
            );
        }
    }
}

/// A snapshot and, per keyspace slot, the generation, model and birth
/// times it saw (none for a dropped keyspace).
type Snap = (Snapshot, [Option<(u32, Model, Born)>; 3]);

fn run(ops: Vec<Op>, opts: larder_lsm::Options) {
    run_timed(ops, opts, None);
}

/// [`run`], with a TTL of [`TTL_MS`] on `clock` if given (merges are then
/// skipped), else with the append merge operator.
fn run_timed(ops: Vec<Op>, opts: larder_lsm::Options, clock: Option<Arc<ManualClock>>) {
    let opts = match &clock {
        Some(c) => larder_lsm::Options {
            ttl: Some(std::time::Duration::from_millis(TTL_MS)),
            clock: Arc::clone(c) as Arc<dyn larder_lsm::Clock>,
            ..opts
        },
        None => larder_lsm::Options {
            merge_operator: Some(Arc::new(AppendOperator::new(","))),
            ..opts
        },
    };
    let timed = clock.is_some();
    // Only the default keyspace is published: such a store has no others.
    let named = !opts.publish_manifest;
    let mut now: u64 = 0;
    let mut ingests = 0u32;
    // An in-memory disk: the model checks logic, and a real disk's syncs
    // would make each case take seconds.
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    fs.create_dir_all(std::path::Path::new("/ext"))
        .expect("a directory for runs to ingest");
    let open = |opts: &larder_lsm::Options| Db::open_with_fs(Arc::clone(&fs), "/db", opts.clone());
    let mut db = Some(open(&opts).expect("open"));
    let mut spaces = Spaces {
        slots: [None, None, None],
        next_generation: 0,
        names: Vec::new(),
    };
    spaces.create(0, None);
    if named {
        for i in 1..3 {
            let ks = open_keyspace(db.as_ref().expect("db open"), i, &opts);
            spaces.create(i, Some(ks));
        }
    }
    let mut snaps: Vec<Snap> = Vec::new();
    for op in ops {
        let d = db.as_ref().expect("db open");
        match op {
            Op::Put(s, k, v) => {
                let i = spaces.pick(s);
                spaces.tree(d, i).put(key(k), value(k, v)).expect("put");
                let sp = spaces.space(i);
                sp.model.insert(key(k), value(k, v));
                sp.born.insert(key(k), now);
            }
            Op::Delete(s, k) => {
                let i = spaces.pick(s);
                spaces.tree(d, i).delete(key(k)).expect("delete");
                spaces.space(i).model.remove(&key(k));
            }
            Op::Batch(ops) => {
                let mut b = WriteBatch::new();
                for (s, k, v) in ops {
                    let i = spaces.pick(s);
                    let t = spaces.tree(d, i);
                    match v {
                        Some(v) => {
                            t.batch_put(&mut b, key(k), value(k, v));
                            let sp = spaces.space(i);
                            sp.model.insert(key(k), value(k, v));
                            sp.born.insert(key(k), now);
                        }
                        None => {
                            t.batch_delete(&mut b, key(k));
                            spaces.space(i).model.remove(&key(k));
                        }
                    }
                }
                d.write(b).expect("write");
            }
            Op::DeleteRange(s, a, b) => {
                let i = spaces.pick(s);
                let (lo, hi) = (key(a).min(key(b)), key(a).max(key(b)));
                spaces
                    .tree(d, i)
                    .delete_range(&lo, &hi)
                    .expect("delete_range");
                delete_range(&mut spaces.space(i).model, &lo, &hi);
            }
            Op::Merge(..) if timed => {}
            Op::Merge(s, k, v) => {
                let i = spaces.pick(s);
                spaces.tree(d, i).merge(key(k), operand(v)).expect("merge");
                merge_into(&mut spaces.space(i).model, key(k), operand(v));
            }
            Op::MixedBatch(ops) => {
                let mut b = WriteBatch::new();
                for (s, what, k, v) in ops {
                    let i = spaces.pick(s);
                    let t = spaces.tree(d, i);
                    match what % 4 {
                        0 => {
                            t.batch_put(&mut b, key(k), value(k, v));
                            let sp = spaces.space(i);
                            sp.model.insert(key(k), value(k, v));
                            sp.born.insert(key(k), now);
                        }
                        1 => {
                            t.batch_delete(&mut b, key(k));
                            spaces.space(i).model.remove(&key(k));
                        }
                        2 if timed => {}
                        2 => {
                            t.batch_merge(&mut b, key(k), operand(v));
                            merge_into(&mut spaces.space(i).model, key(k), operand(v));
                        }
                        _ => {
                            let (lo, hi) = (key(k), key(k.saturating_add((v % 8) as u8)));
                            t.batch_delete_range(&mut b, lo.clone(), hi.clone());
                            delete_range(&mut spaces.space(i).model, &lo, &hi);
                        }
                    }
                }
                d.write(b).expect("write");
            }
            Op::Txn(reads, writes, interfere) => {
                let mut t = d.transaction().expect("begin");
                let sp = spaces.space(0);
                let mut view = sp.model.clone();
                let mut touched = std::collections::BTreeSet::new();
                for (k, v) in &writes {
                    match v {
                        Some(v) => {
                            t.put(key(*k), value(*k, *v));
                            view.insert(key(*k), value(*k, *v));
                        }
                        None => {
                            t.delete(key(*k));
                            view.remove(&key(*k));
                        }
                    }
                    touched.insert(key(*k));
                }
                for k in &reads {
                    let got = t.get(&key(*k)).expect("txn get").map(|v| v.to_vec());
                    assert_eq!(got, view.get(&key(*k)).cloned(), "txn get");
                    touched.insert(key(*k));
                }
                let conflict = match interfere {
                    Some(k) => {
                        d.put(key(k), value(k, 7)).expect("put");
                        sp.model.insert(key(k), value(k, 7));
                        sp.born.insert(key(k), now);
                        !writes.is_empty() && touched.contains(&key(k))
                    }
                    None => false,
                };
                match t.commit() {
                    Ok(()) if !conflict => {
                        for (k, v) in &writes {
                            match v {
                                Some(v) => {
                                    sp.born.insert(key(*k), now);
                                    sp.model.insert(key(*k), value(*k, *v))
                                }
                                None => sp.model.remove(&key(*k)),
                            };
                        }
                    }
                    Err(larder_lsm::Error::Conflict { key: c }) if conflict => {
                        assert_eq!(Some(c), interfere.map(key));
                    }
                    r => panic!("commit: {r:?}, a conflict expected: {conflict}"),
                }
            }
            Op::Get(s, k) => {
                let i = spaces.pick(s);
                let got = spaces.tree(d, i).get(&key(k));
                assert_eq!(
                    got,
                    spaces.model(i).get(&key(k)).cloned(),
                    "get {:?} in {}",
                    String::from_utf8_lossy(&key(k)),
                    NAMES[i]
                );
            }
            Op::Range(s, a, b, rev) => {
                let i = spaces.pick(s);
                let (lo, hi) = (key(a), key(b));
                let t = spaces.tree(d, i);
                let mut want = model_range(spaces.model(i), &lo, &hi);
                let got = if rev {
                    want.reverse();
                    common::collect(t.range(&lo, &hi).rev())
                } else {
                    common::collect(t.range(&lo, &hi))
                };
                common::assert_same(&got, &want, &format!("range in {}", NAMES[i]));
            }
            Op::Prefix(s, a, rev) => {
                let i = spaces.pick(s);
                let p = &key(a)[..5];
                let t = spaces.tree(d, i);
                let mut want: Vec<_> = spaces
                    .model(i)
                    .iter()
                    .filter(|(k, _)| k.starts_with(p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let got = if rev {
                    want.reverse();
                    common::collect(t.prefix(p).rev())
                } else {
                    common::collect(t.prefix(p))
                };
                common::assert_same(&got, &want, &format!("prefix in {}", NAMES[i]));
            }
            Op::Advance(ms) if timed => {
                let ms = u64::from(ms % 150);
                if let Some(c) = &clock {
                    c.advance(std::time::Duration::from_millis(ms));
                }
                now += ms;
                for sp in spaces.slots.iter_mut().flatten() {
                    expire(&mut sp.model, &sp.born, now);
                }
                for (_, seen) in &mut snaps {
                    for (_, m, b) in seen.iter_mut().flatten() {
                        expire(m, b, now);
                    }
                }
            }
            Op::Advance(_) => {}
            Op::Ingest(run) => {
                let run: BTreeMap<Vec<u8>, Option<Vec<u8>>> = run
                    .into_iter()
                    .map(|(k, v)| (key(k), v.map(|v| value(k, v))))
                    .collect();
                ingests += 1;
                let mut w = larder_lsm::TableWriter::create_with_fs(
                    Arc::clone(&fs),
                    format!("/ext/{ingests}.sst"),
                    &opts,
                )
                .expect("table writer");
                for (k, v) in &run {
                    match v {
                        Some(v) => w.put(k.clone(), v.clone()).expect("writer put"),
                        None => w.delete(k.clone()).expect("writer delete"),
                    }
                }
                let paths: Vec<_> = w
                    .finish()
                    .expect("finish")
                    .into_iter()
                    .map(|t| t.path)
                    .collect();
                d.ingest(&paths).expect("ingest");
                let sp = spaces.space(0);
                for (k, v) in run {
                    // Ingested entries carry no write time: they never
                    // expire.
                    sp.born.remove(&k);
                    match v {
                        Some(v) => sp.model.insert(k, v),
                        None => sp.model.remove(&k),
                    };
                }
            }
            Op::TakeSnapshot => {
                let seen = std::array::from_fn(|i| {
                    spaces.slots[i]
                        .as_ref()
                        .map(|s| (s.generation, s.model.clone(), s.born.clone()))
                });
                snaps.push((d.snapshot(), seen));
            }
            Op::ReadSnapshot(n, s, a, b, rev) => {
                if !snaps.is_empty() {
                    let i = spaces.pick(s);
                    let (snap, seen) = &snaps[n % snaps.len()];
                    // A keyspace created after the snapshot is empty in it.
                    let generation = spaces.slots[i].as_ref().expect("live").generation;
                    let empty = Model::new();
                    let m = match &seen[i] {
                        Some((g, m, _)) if *g == generation => m,
                        _ => &empty,
                    };
                    let t = spaces.tree(d, i);
                    assert_eq!(
                        t.get_at(snap, &key(a)),
                        m.get(&key(a)).cloned(),
                        "snapshot get in {}",
                        NAMES[i]
                    );
                    let (lo, hi) = (key(a.min(b)), key(a.max(b)));
                    let mut want = model_range(m, &lo, &hi);
                    let got = if rev {
                        want.reverse();
                        common::collect(t.range_at(snap, &lo, &hi).rev())
                    } else {
                        common::collect(t.range_at(snap, &lo, &hi))
                    };
                    common::assert_same(&got, &want, &format!("snapshot range in {}", NAMES[i]));
                    common::assert_same(
                        &common::collect(t.iter_at(snap)),
                        &pairs(m),
                        &format!("snapshot iter in {}", NAMES[i]),
                    );
                }
            }
            Op::DropSnapshot(n) => {
                if !snaps.is_empty() {
                    snaps.remove(n % snaps.len());
                }
            }
            Op::Flush => d.flush().expect("flush"),
            Op::Compact(s, a, b) => {
                let i = spaces.pick(s);
                let (lo, hi) = (key(a.min(b)), key(a.max(b)));
                spaces.tree(d, i).compact_range(&lo, &hi).expect("compact");
            }
            Op::DropKeyspace(_) if !named => {}
            Op::DropKeyspace(n) => {
                let i = 1 + usize::from(n % 2);
                match spaces.slots[i].take() {
                    Some(sp) => {
                        d.drop_keyspace(NAMES[i]).expect("drop_keyspace");
                        spaces.names.retain(|n| n != NAMES[i]);
                        // The handle outlives the keyspace, refused.
                        let h = sp.handle.expect("a named keyspace's handle");
                        assert!(
                            matches!(h.get(b"key000"), Err(larder_lsm::Error::InvalidKeyspace(_))),
                            "get on a dropped keyspace"
                        );
                        assert!(
                            matches!(h.put("k", "v"), Err(larder_lsm::Error::InvalidKeyspace(_))),
                            "put on a dropped keyspace"
                        );
                    }
                    None => assert!(
                        matches!(
                            d.drop_keyspace(NAMES[i]),
                            Err(larder_lsm::Error::InvalidKeyspace(_))
                        ),
                        "drop of a dropped keyspace"
                    ),
                }
                assert_eq!(d.keyspace_names(), spaces.names);
            }
            Op::CreateKeyspace(_) if !named => {}
            Op::CreateKeyspace(n) => {
                let i = 1 + usize::from(n % 2);
                let ks = open_keyspace(d, i, &opts);
                match &spaces.slots[i] {
                    None => spaces.create(i, Some(ks)),
                    Some(sp) => {
                        // The same keyspace again, not a new one.
                        common::assert_same(
                            &common::collect(ks.iter()),
                            &pairs(&sp.model),
                            &format!("{} opened again", NAMES[i]),
                        );
                    }
                }
                if i == 2 {
                    // `b` exists with its own options: others are refused.
                    assert!(matches!(
                        d.keyspace_with(NAMES[i], KeyspaceOptions::from_db(&opts)),
                        Err(larder_lsm::Error::InvalidKeyspace(_))
                    ));
                }
                assert_eq!(d.keyspace_names(), spaces.names);
            }
            Op::Reopen => {
                snaps.clear();
                spaces.release();
                db.take().expect("db").close().expect("close");
                let d = open(&opts).expect("reopen");
                spaces.reattach(&d, &opts);
                db = Some(d);
            }
        }
    }
    let d = db.expect("db");
    spaces.check_all(&d, "before close");
    drop(snaps);
    spaces.release();
    d.close().expect("close");
    let d = open(&opts).expect("final reopen");
    spaces.reattach(&d, &opts);
    spaces.check_all(&d, "after reopen");
    // No blob file leaks and none is missing: the store holds exactly the
    // files the manifest records, and each of them still holds live values.
    // (Background work may be between a blob write and its manifest edit:
    // wait until it is idle.)
    d.wait_idle().expect("background work idle");
    let stats = d.stats();
    let on_disk = common::blob_files_on_disk(&*fs);
    assert_eq!(on_disk, stats.blob_files, "{stats:?}");
    let report = d.verify().expect("verify");
    assert!(report.is_clean(), "{report:?}");
    assert!(
        stats.blob_files == 0 || stats.blob_live_bytes > 0,
        "{stats:?}"
    );
    // Tables on a store: the store holds exactly the tables of the trees
    // (none leaked, none missing), and the directory holds none.
    if let Some(store) = &opts.table_store {
        let objects = store.list("tables/").expect("list").len();
        // `Db::stats` adds up every keyspace's tables.
        let tables = stats.levels.iter().map(|l| l.files).sum::<usize>();
        if opts.publish_manifest {
            // Tables the last few published manifests name stay for the
            // readers elsewhere that may read them.
            assert!(objects >= tables, "{stats:?}");
        } else {
            assert_eq!(objects, tables, "{stats:?}");
        }
        assert_eq!(common::table_files_on_disk(&*fs, "/db"), 0);
        // Published: a reader elsewhere sees everything once it is flushed.
        if opts.publish_manifest {
            d.flush().expect("flush");
            // The flush may start a compaction, which deletes the tables it
            // replaced once it has published: a reader opened on the
            // manifest before would find them gone.
            d.wait_idle().expect("idle");
            let reader =
                larder_lsm::Reader::open_with(Arc::clone(store), "", opts.clone()).expect("reader");
            let all = pairs(spaces.model(0));
            common::assert_same(&common::collect(reader.iter()), &all, "reader");
        }
    }
}

/// Options whose tables live on a fresh in-memory object store.
fn on_store(opts: larder_lsm::Options) -> larder_lsm::Options {
    larder_lsm::Options {
        table_store: Some(Arc::new(objstore::MemStore::new())),
        ..opts
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// With a TTL of 100 ms and a manual clock: entries vanish for every
    /// reader once expired, across flushes, compactions (which drop them),
    /// blob files and reopens; merges are skipped.
    #[test]
    fn db_with_ttl_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        let clock = ManualClock::new(std::time::Duration::from_secs(1_000_000));
        run_timed(
            ops,
            larder_lsm::Options { blob_threshold_bytes: Some(40), blob_gc_ratio: 0.3, ..common::tiny_options() },
            Some(clock),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn db_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, common::tiny_options());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The same body, tables on an object store.
    #[test]
    fn db_with_tables_on_a_store_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, on_store(common::tiny_options()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Tables on a store, blocks through a disk cache too small to hold
    /// them all and a tiny memory cache, the manifest published (and read
    /// back by a `Reader` at the end).
    #[test]
    fn db_with_tables_on_a_store_and_a_disk_cache_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, larder_lsm::Options {
            table_cache_dir: Some("/cache".into()),
            table_cache_dir_bytes_max: 4096,
            block_cache_bytes: 2048,
            publish_manifest: true,
            ..on_store(common::tiny_options())
        });
    }
}

/// The S3 server the model runs against: one per test binary, a fresh
/// prefix of its bucket per case.
fn s3_server() -> &'static objstore::testing::S3Server {
    static SERVER: std::sync::OnceLock<objstore::testing::S3Server> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| objstore::testing::S3Server::start().expect("start the S3 server"))
}

/// Options whose tables live under a fresh prefix of `inner`, reached
/// through `RemoteStore` (requests, retries and all), the manifest
/// published.
fn on_remote(
    inner: Arc<dyn object_store::ObjectStore>,
    opts: larder_lsm::Options,
) -> larder_lsm::Options {
    static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let options = objstore::RemoteOptions {
        worker_threads: 1,
        ..objstore::RemoteOptions::default()
    };
    let store = objstore::RemoteStore::with_options(inner, &format!("case{case}"), options)
        .expect("remote store");
    larder_lsm::Options {
        table_store: Some(Arc::new(store)),
        publish_manifest: true,
        ..opts
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// The same body, tables on a real S3 server (`s3s-fs` on 127.0.0.1)
    /// through `RemoteStore`: every table upload, block read, listing,
    /// delete and conditional manifest create is an HTTP request.
    #[test]
    fn db_with_tables_on_the_s3_server_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        let bucket = s3_server().bucket("model").expect("bucket");
        run(ops, on_remote(bucket, common::tiny_options()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// The same body, tables on `object_store`'s in-memory store through
    /// `RemoteStore`.
    #[test]
    fn db_with_tables_on_object_stores_in_memory_store_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        let inner: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        run(ops, on_remote(inner, common::tiny_options()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// The same body, tables on `object_store`'s local-file store (a
    /// temporary directory) through `RemoteStore`.
    #[test]
    fn db_with_tables_on_object_stores_local_file_store_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let inner: Arc<dyn object_store::ObjectStore> = Arc::new(
            object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("local store"),
        );
        run(ops, on_remote(inner, common::tiny_options()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Key-value separation with a threshold in the middle of the value
    /// lengths (4..94 bytes): about half the values go to blobs, half stay
    /// inline, and a key flips between the two as it is overwritten. A low
    /// garbage ratio makes compactions collect blobs all the time.
    #[test]
    fn db_with_blob_separation_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, larder_lsm::Options { blob_threshold_bytes: Some(40), blob_gc_ratio: 0.3, ..common::tiny_options() });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Separation off: every value stays inline, as before the feature.
    #[test]
    fn db_without_blob_separation_matches_btreemap_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, larder_lsm::Options { blob_threshold_bytes: None, ..common::tiny_options() });
    }
}

#[test]
fn many_writes_reach_deep_levels_and_read_back() {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs, "/db", common::tiny_options()).expect("open");
    let mut model = Model::new();
    for i in 0..20_000u32 {
        let k = format!("k{:06}", (i * 7919) % 5000).into_bytes();
        if i % 9 == 0 {
            db.delete(k.clone()).expect("delete");
            model.remove(&k);
        } else {
            let v = format!("value{i}").into_bytes();
            db.put(k.clone(), v.clone()).expect("put");
            model.insert(k, v);
        }
    }
    db.flush().expect("flush");
    let stats = db.stats();
    assert!(
        stats.levels.iter().skip(2).any(|l| l.files > 0),
        "{stats:?}"
    );
    for (k, v) in &model {
        assert_eq!(db.get(k).expect("get").as_deref(), Some(v.as_slice()));
    }
    assert_eq!(
        common::collect(db.range::<&[u8], _>(..)),
        model.into_iter().collect::<Vec<_>>()
    );
    db.close().expect("close");
}

/// A flush writes only versions a reader may still see: of a key's versions
/// at or below the oldest snapshot, only the newest (LevelDB's rule; the
/// versions between a snapshot and the newest stay).
#[test]
fn a_flush_drops_versions_no_reader_can_see() {
    let opts = larder_lsm::Options {
        blob_threshold_bytes: None,
        compression: false,
        ..larder_lsm::Options::default()
    };
    let open = || {
        let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
        Db::open_with_fs(fs, "/db", opts.clone()).expect("open")
    };
    // No snapshot: only the newest of 400 versions is written.
    let db = open();
    for i in 0..400u32 {
        db.put("k", vec![i as u8; 1000]).expect("put");
    }
    db.flush().expect("flush");
    let s = db.stats();
    assert!(s.flush_bytes < 4 * 1024, "{s:?}");
    assert_eq!(
        db.get(b"k").expect("get").as_deref(),
        Some(&[(399 % 256) as u8; 1000][..])
    );

    // A snapshot after 200 writes: the 199 versions below it go, the one it
    // sees and the 200 after it stay.
    let db = open();
    for i in 0..200u32 {
        db.put("k", vec![i as u8; 1000]).expect("put");
    }
    let snap = db.snapshot();
    for i in 200..400u32 {
        db.put("k", vec![i as u8; 1000]).expect("put");
    }
    db.flush().expect("flush");
    let s = db.stats();
    assert!(
        s.flush_bytes < 210 * 1024 && s.flush_bytes > 200 * 1000,
        "{s:?}"
    );
    assert_eq!(
        snap.get(b"k").expect("get").as_deref(),
        Some(&[199u8; 1000][..])
    );
    assert_eq!(
        db.get(b"k").expect("get").as_deref(),
        Some(&[(399 % 256) as u8; 1000][..])
    );
}

/// `Db::keyspace` creates a keyspace with the database's own options,
/// whatever write buffer the database was given (it takes 1 KiB and up).
#[test]
fn a_keyspace_takes_a_small_database_write_buffer() {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let db = Db::open_with_fs(fs, "/db", common::tiny_options()).expect("open");
    let a = db
        .keyspace("a")
        .expect("a keyspace with the database's options");
    assert_eq!(
        a.options(),
        KeyspaceOptions::from_db(&common::tiny_options())
    );
}

/// `Stats::blob_live_bytes` counts the blob bytes every keyspace's
/// tables reference, not the default keyspace's only.
#[test]
fn blob_values_of_a_named_keyspace_count_as_live() {
    let fs: Arc<dyn vfs::Fs> = Arc::new(vfs::MemFs::new());
    let opts = larder_lsm::Options {
        blob_threshold_bytes: Some(1000),
        ..common::tiny_options()
    };
    let db = Db::open_with_fs(fs, "/db", opts.clone()).expect("open");
    let b = db
        .keyspace_with(
            "b",
            KeyspaceOptions {
                write_buffer_size_bytes: 4096,
                blob_threshold_bytes: Some(8),
                ..KeyspaceOptions::from_db(&opts)
            },
        )
        .expect("b");
    for i in 0..10u8 {
        b.put(key(i), vec![b'v'; 50]).expect("put");
    }
    db.flush().expect("flush");
    db.wait_idle().expect("idle");
    let stats = db.stats();
    assert!(stats.blob_files > 0, "{stats:?}");
    assert_eq!(stats.blob_live_bytes, 500, "{stats:?}");
    assert_eq!(stats.blob_garbage_bytes, 0, "{stats:?}");
}
