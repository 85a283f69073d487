//! Model-based property test: random sequences of insert, remove, get,
//! range, commit, abort and reopen against a `BTreeMap`, with keys and
//! values from 0 bytes to the key maximum and to several pages.

use std::collections::BTreeMap;
use std::sync::Arc;

use larder_btree::{Db, Durability, Options};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, usize),
    Remove(u8),
    Get(u8),
    Range(u8, u8, bool),
    /// Removes keys from the first to the second, the end included if set.
    RemoveRange(u8, u8, bool),
    /// Keeps the entries whose value length is not a multiple of the divisor.
    Retain(usize),
    Commit,
    Abort,
    Reopen,
    Compact,
}

const PAGE: u32 = 512;
const KEY_MAX: usize = PAGE as usize / 8;

/// Keys of many lengths (0 to the maximum) that still collide often.
fn key(i: u8) -> Vec<u8> {
    let len = (i as usize * 7) % (KEY_MAX + 1);
    let mut k = vec![i; len];
    if len > 0 {
        k[0] = i / 4;
    }
    k
}

fn value(seed: usize) -> Vec<u8> {
    // Mostly short, sometimes several pages.
    let len = match seed % 4 {
        0 => seed % 8,
        1 => seed % 64,
        2 => seed % 300,
        _ => seed % (PAGE as usize * 4),
    };
    (0..len).map(|j| (seed + j * 31) as u8).collect()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0u8..80, 0usize..100_000).prop_map(|(k, v)| Op::Insert(k, v)),
        5 => (0u8..80).prop_map(Op::Remove),
        3 => (0u8..80).prop_map(Op::Get),
        2 => (0u8..80, 0u8..80, any::<bool>()).prop_map(|(a, b, r)| Op::Range(a, b, r)),
        2 => (0u8..80, 0u8..80, any::<bool>()).prop_map(|(a, b, r)| Op::RemoveRange(a, b, r)),
        1 => (1usize..6).prop_map(Op::Retain),
        3 => Just(Op::Commit),
        1 => Just(Op::Abort),
        1 => Just(Op::Reopen),
        1 => Just(Op::Compact),
    ]
}

fn open(fs: &Arc<vfs::MemFs>, durability: Durability) -> Db {
    let options = Options {
        page_size_bytes: PAGE,
        durability,
        initial_size_bytes: 0,
        // Small, so non-durable commits both stay in memory and flush.
        write_buffer_bytes: 8 << 10,
    };
    Db::open_with_fs(fs.clone(), "/db", options).unwrap()
}

fn assert_contents(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    let read = db.begin_read().unwrap();
    let got: Vec<(Vec<u8>, Vec<u8>)> = read
        .iter()
        .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(got, want);
    assert_eq!(read.len(), model.len() as u64);
    let back: Vec<Vec<u8>> = read.iter().rev().map(|kv| kv.unwrap().0.to_vec()).collect();
    let want_back: Vec<Vec<u8>> = model.keys().rev().cloned().collect();
    assert_eq!(back, want_back);
}

fn run(ops: Vec<Op>, durability: Durability) {
    let fs = Arc::new(vfs::MemFs::new());
    let mut db = Some(open(&fs, durability));
    let mut committed: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut i = 0;
    while i < ops.len() {
        let d = db.as_ref().unwrap();
        let mut txn = Some(d.begin_write().unwrap());
        let mut model = committed.clone();
        let mut reopen = false;
        let mut compact = false;
        while i < ops.len() {
            let op = ops[i].clone();
            i += 1;
            let t = txn.as_mut().unwrap();
            match op {
                Op::Insert(k, v) => {
                    let (k, v) = (key(k), value(v));
                    let new = t.insert(&k, &v).unwrap();
                    assert_eq!(new, model.insert(k, v).is_none());
                }
                Op::Remove(k) => {
                    let k = key(k);
                    let got = t.remove(&k).unwrap().map(|b| b.to_vec());
                    assert_eq!(got, model.remove(&k));
                }
                Op::Get(k) => {
                    let k = key(k);
                    assert_eq!(
                        t.get(&k).unwrap().map(|b| b.to_vec()),
                        model.get(&k).cloned()
                    );
                    let read = d.begin_read().unwrap();
                    assert_eq!(
                        read.get(&k).unwrap().map(|b| b.to_vec()),
                        committed.get(&k).cloned()
                    );
                }
                Op::Range(a, b, rev) => {
                    let (a, b) = (key(a), key(b));
                    let (a, b) = if a <= b { (a, b) } else { (b, a) };
                    // The write transaction's lazy range, from the end the
                    // op picks, and from both ends at once.
                    let w = t.range(a.as_slice()..b.as_slice());
                    let mut got: Vec<(Vec<u8>, Vec<u8>)> = if rev {
                        w.rev()
                            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
                            .collect::<Result<_, _>>()
                            .unwrap()
                    } else {
                        w.map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
                            .collect::<Result<_, _>>()
                            .unwrap()
                    };
                    if rev {
                        got.reverse();
                    }
                    let want: Vec<(Vec<u8>, Vec<u8>)> = model
                        .range(a.clone()..b.clone())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(got, want);
                    let mut w = t.range(a.as_slice()..b.as_slice());
                    let (mut front, mut back) = (Vec::new(), Vec::new());
                    loop {
                        let (next, into) = if (front.len() + back.len()) % 3 == 0 {
                            (w.next_back(), &mut back)
                        } else {
                            (w.next(), &mut front)
                        };
                        match next {
                            Some(kv) => into.push(kv.unwrap().0.to_vec()),
                            None => break,
                        }
                    }
                    front.extend(back.into_iter().rev());
                    let want_keys: Vec<Vec<u8>> = want.into_iter().map(|(k, _)| k).collect();
                    assert_eq!(front, want_keys);
                    let read = d.begin_read().unwrap();
                    let r = read.range(a.as_slice()..=b.as_slice());
                    let mut got: Vec<(Vec<u8>, Vec<u8>)> = if rev {
                        r.rev()
                            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
                            .collect::<Result<_, _>>()
                            .unwrap()
                    } else {
                        r.map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())))
                            .collect::<Result<_, _>>()
                            .unwrap()
                    };
                    if rev {
                        got.reverse();
                    }
                    let want: Vec<(Vec<u8>, Vec<u8>)> = committed
                        .range(a..=b)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(got, want);
                }
                Op::RemoveRange(a, b, inclusive) => {
                    let (a, b) = (key(a), key(b));
                    let (a, b) = if a <= b { (a, b) } else { (b, a) };
                    let end = if inclusive {
                        std::ops::Bound::Included(b.clone())
                    } else {
                        std::ops::Bound::Excluded(b.clone())
                    };
                    let range = (std::ops::Bound::Included(a.clone()), end);
                    let gone: Vec<Vec<u8>> =
                        model.range(range.clone()).map(|(k, _)| k.clone()).collect();
                    for k in &gone {
                        model.remove(k);
                    }
                    let n = t
                        .remove_range::<Vec<u8>, _>((
                            std::ops::Bound::Included(a),
                            match range.1 {
                                std::ops::Bound::Included(b) => std::ops::Bound::Included(b),
                                std::ops::Bound::Excluded(b) => std::ops::Bound::Excluded(b),
                                std::ops::Bound::Unbounded => std::ops::Bound::Unbounded,
                            },
                        ))
                        .unwrap();
                    assert_eq!(n, gone.len() as u64);
                    assert_eq!(t.len(), model.len() as u64);
                }
                Op::Retain(d) => {
                    let before = model.len();
                    model.retain(|_, v| v.len() % d != 0);
                    let n = t.retain(|_, v| v.len() % d != 0).unwrap();
                    assert_eq!(n, (before - model.len()) as u64);
                    assert_eq!(t.len(), model.len() as u64);
                }
                Op::Commit => {
                    txn.take().unwrap().commit().unwrap();
                    committed = model.clone();
                    break;
                }
                Op::Abort => break,
                Op::Reopen => {
                    reopen = true;
                    break;
                }
                Op::Compact => {
                    compact = true;
                    break;
                }
            }
        }
        drop(txn);
        if compact {
            let d = db.as_ref().unwrap();
            // Compaction also makes deferred commits durable.
            d.compact().unwrap();
            let stats = d.check().unwrap();
            assert_eq!(stats.free_pages, 0);
            assert_contents(d, &committed);
        }
        if reopen {
            let d = db.take().unwrap();
            if durability == Durability::None {
                d.sync().unwrap();
            }
            drop(d);
            let d = open(&fs, durability);
            d.check().unwrap();
            assert_contents(&d, &committed);
            db = Some(d);
        }
    }
    let d = db.unwrap();
    d.check().unwrap();
    assert_contents(&d, &committed);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn matches_btreemap_model(ops in proptest::collection::vec(op(), 1..400)) {
        run(ops, Durability::Immediate);
    }

    #[test]
    fn matches_btreemap_model_without_syncs(ops in proptest::collection::vec(op(), 1..200)) {
        run(ops, Durability::None);
    }
}
