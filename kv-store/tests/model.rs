//! Both adapters against a `BTreeMap` model: random puts, deletes and
//! batches, then random scans (prefix, from, to, reverse, limit) and gets,
//! on an in-memory disk.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kv_store::store::open_engine;
use kv_store::{EngineKind, Flow, Op, ScanSpec};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = Vec<u8>> {
    // A small alphabet with 0x00 and 0xff so prefixes, bounds and the
    // prefix successor meet often.
    proptest::collection::vec(
        prop_oneof![Just(0u8), Just(b'a'), Just(b'b'), Just(0xff)],
        0..4,
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (key(), proptest::collection::vec(any::<u8>(), 0..8)).prop_map(|(k, v)| Op::Put(k, v)),
        1 => key().prop_map(Op::Delete),
    ]
}

fn spec() -> impl Strategy<Value = ScanSpec> {
    (
        proptest::option::of(key()),
        proptest::option::of(key()),
        proptest::option::of(key()),
        any::<bool>(),
        proptest::option::of(0u64..6),
    )
        .prop_map(|(prefix, from, to, reverse, limit)| ScanSpec {
            prefix,
            from,
            to,
            reverse,
            limit,
        })
}

fn model_scan(model: &BTreeMap<Vec<u8>, Vec<u8>>, s: &ScanSpec) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<_> = model
        .iter()
        .filter(|(k, _)| s.prefix.as_ref().is_none_or(|p| k.starts_with(p)))
        .filter(|(k, _)| s.from.as_ref().is_none_or(|f| *k >= f))
        .filter(|(k, _)| s.to.as_ref().is_none_or(|t| *k < t))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if s.reverse {
        out.reverse();
    }
    out.truncate(s.limit.map_or(usize::MAX, |l| l as usize));
    out
}

fn engine_matches_model(kind: EngineKind, batches: Vec<Vec<Op>>, specs: Vec<ScanSpec>) {
    let fs = Arc::new(vfs::MemFs::new());
    let engine = open_engine(fs, Path::new("/db"), kind).unwrap();
    let mut model = BTreeMap::new();
    for batch in &batches {
        if batch.len() == 1 {
            match &batch[0] {
                Op::Put(k, v) => engine.put(k, v).unwrap(),
                Op::Delete(k) => engine.delete(k).unwrap(),
            }
        } else {
            engine.write(batch).unwrap();
        }
        for op in batch {
            match op {
                Op::Put(k, v) => model.insert(k.clone(), v.clone()),
                Op::Delete(k) => model.remove(k),
            };
        }
    }
    for s in &specs {
        let mut got = Vec::new();
        engine
            .scan(s, &mut |k, v| {
                got.push((k.to_vec(), v.to_vec()));
                Ok(Flow::Continue)
            })
            .unwrap();
        assert_eq!(got, model_scan(&model, s), "{kind} {s:?}");
        if let Some(k) = &s.prefix {
            assert_eq!(
                engine.get(k).unwrap().as_deref(),
                model.get(k).map(Vec::as_slice)
            );
        }
    }
    engine.close().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn lsm_adapter_matches_a_btreemap(
        batches in proptest::collection::vec(proptest::collection::vec(op(), 1..4), 0..30),
        specs in proptest::collection::vec(spec(), 1..10),
    ) {
        engine_matches_model(EngineKind::Lsm, batches, specs);
    }

    #[test]
    fn btree_adapter_matches_a_btreemap(
        batches in proptest::collection::vec(proptest::collection::vec(op(), 1..4), 0..30),
        specs in proptest::collection::vec(spec(), 1..10),
    ) {
        engine_matches_model(EngineKind::Btree, batches, specs);
    }
}
