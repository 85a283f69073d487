//! `RemoteStore` against injected faults: what is idempotent is retried,
//! what is not is found out by reading back, or reported.
//!
//! Hangs end at the store's request timeout, a few milliseconds here: no
//! test waits on the wall clock for anything else.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use larder_objstore::{
    Error, FaultObjectStore, ObjectFault, ObjectOp, PutMode, RemoteOptions, RemoteStore, Store,
};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

fn options() -> RemoteOptions {
    RemoteOptions {
        request_timeout: Duration::from_millis(50),
        retries_max: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(4),
        ..RemoteOptions::default()
    }
}

/// A store over a fault wrapper over memory, holding `t` = `0123456789`.
fn setup() -> (RemoteStore, FaultObjectStore, Arc<InMemory>) {
    let memory = Arc::new(InMemory::new());
    let faults = FaultObjectStore::new(memory.clone());
    let store = RemoteStore::with_options(Arc::new(faults.clone()), "", options()).unwrap();
    store
        .put("t", Bytes::from_static(b"0123456789"), PutMode::Overwrite)
        .unwrap();
    (store, faults, memory)
}

#[test]
fn failed_reads_are_retried() {
    let (store, faults, _) = setup();
    faults.fail_nth(ObjectOp::Get, 1, ObjectFault::Error);
    assert_eq!(store.get("t").unwrap().0, "0123456789");
    assert_eq!(faults.op_count(ObjectOp::Get), 2);
    faults.fail_nth(ObjectOp::Head, 1, ObjectFault::Error);
    assert_eq!(store.head("t").unwrap().size, 10);
    faults.fail_nth(ObjectOp::List, 1, ObjectFault::Error);
    assert_eq!(store.list("").unwrap().len(), 1);
    assert_eq!(faults.injected(), 3);
}

#[test]
fn a_short_body_is_caught_and_retried() {
    let (store, faults, _) = setup();
    faults.fail_nth(ObjectOp::Get, 1, ObjectFault::ShortBody);
    assert_eq!(store.get_range("t", 2..8).unwrap(), "234567");
    faults.fail_nth(ObjectOp::Get, 1, ObjectFault::ShortBody);
    assert_eq!(store.get("t").unwrap().0, "0123456789");
    assert_eq!(faults.injected(), 2);
    // Short every time: an error naming what came back, never short bytes.
    faults.fail_every(ObjectOp::Get, ObjectFault::ShortBody);
    let err = store.get_range("t", 2..8).unwrap_err();
    assert!(
        matches!(&err, Error::Remote { op: "get_range", cause, .. } if cause.contains("got 3 bytes")),
        "{err}"
    );
}

#[test]
fn a_hung_request_times_out_and_is_retried() {
    let (store, faults, _) = setup();
    faults.fail_nth(ObjectOp::Head, 1, ObjectFault::Hang);
    assert_eq!(store.head("t").unwrap().size, 10);
    assert_eq!(faults.op_count(ObjectOp::Head), 2);
    faults.fail_every(ObjectOp::Get, ObjectFault::Hang);
    let err = store.get("t").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                op: "get",
                timeout_ms: 50,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        faults.op_count(ObjectOp::Get),
        4,
        "the first try and 3 retries"
    );
}

#[test]
fn slow_requests_within_the_timeout_succeed() {
    let (store, faults, _) = setup();
    faults.fail_every(ObjectOp::Get, ObjectFault::Slow(Duration::from_millis(1)));
    assert_eq!(store.get("t").unwrap().0, "0123456789");
    assert_eq!(faults.op_count(ObjectOp::Get), 1);
}

#[test]
fn overwrites_are_retried_until_the_limit_then_reported() {
    let (store, faults, memory) = setup();
    faults.fail_nth(ObjectOp::Put, 1, ObjectFault::ErrorAfter);
    store
        .put("u", Bytes::from_static(b"u"), PutMode::Overwrite)
        .unwrap();
    assert_eq!(
        faults.op_count(ObjectOp::Put),
        3,
        "setup, the lost answer, the retry"
    );
    faults.fail_every(ObjectOp::Put, ObjectFault::Error);
    let err = store
        .put("v", Bytes::from_static(b"v"), PutMode::Overwrite)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Remote { op: "put", name, .. } if name == "v"),
        "{err}"
    );
    assert_eq!(faults.op_count(ObjectOp::Put), 3 + 4);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(rt.block_on(memory.head(&Path::from("v"))).is_err());
}

#[test]
fn deletes_are_retried() {
    let (store, faults, _) = setup();
    faults.fail_nth(ObjectOp::Delete, 1, ObjectFault::ErrorAfter);
    store.delete("t").unwrap();
    assert_eq!(faults.op_count(ObjectOp::Delete), 2);
    assert!(matches!(store.get("t"), Err(Error::NotFound { .. })));
}

#[test]
fn a_conditional_put_whose_answer_was_lost_is_found_by_reading_back() {
    let (store, faults, _) = setup();
    faults.fail_nth(ObjectOp::Put, 1, ObjectFault::ErrorAfter);
    let meta = store
        .put("m", Bytes::from_static(b"mine"), PutMode::Create)
        .unwrap();
    // Not retried: the read back showed it was ours.
    assert_eq!(faults.op_count(ObjectOp::Put), 2);
    assert_eq!(store.head("m").unwrap().version, meta.version);
    // An update too.
    faults.fail_nth(ObjectOp::Put, 1, ObjectFault::ErrorAfter);
    let version = meta.version.unwrap();
    let meta = store
        .put(
            "m",
            Bytes::from_static(b"mine 2"),
            PutMode::Update { version },
        )
        .unwrap();
    assert_eq!(faults.op_count(ObjectOp::Put), 3);
    assert_eq!(store.head("m").unwrap().version, meta.version);
    assert_eq!(faults.injected(), 2);
}

#[test]
fn a_conditional_put_that_did_not_happen_is_tried_again_still_conditional() {
    let (store, faults, _) = setup();
    faults.fail_nth(ObjectOp::Put, 1, ObjectFault::Error);
    store
        .put("m", Bytes::from_static(b"mine"), PutMode::Create)
        .unwrap();
    assert_eq!(
        faults.op_count(ObjectOp::Put),
        3,
        "setup, the failed try, the retry"
    );
    assert_eq!(store.get("m").unwrap().0, "mine");
    faults.fail_nth(ObjectOp::Put, 1, ObjectFault::Hang);
    let version = store.head("m").unwrap().version.unwrap();
    store
        .put(
            "m",
            Bytes::from_static(b"mine 2"),
            PutMode::Update { version },
        )
        .unwrap();
    assert_eq!(store.get("m").unwrap().0, "mine 2");
    assert_eq!(faults.op_count(ObjectOp::Put), 5);
    assert_eq!(faults.injected(), 2);
}

#[test]
fn a_conditional_put_that_lost_to_another_writer_is_reported_not_retried() {
    let (store, faults, memory) = setup();
    // Another writer's object is there; our create's request fails before
    // the store answers "exists", so only reading back can tell.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(memory.put(&Path::from("m"), PutPayload::from_static(b"theirs")))
        .unwrap();
    faults.fail_nth(ObjectOp::Put, 1, ObjectFault::Error);
    let err = store
        .put("m", Bytes::from_static(b"mine"), PutMode::Create)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Precondition { reason, .. } if reason.contains("another writer")),
        "{err}"
    );
    assert_eq!(faults.op_count(ObjectOp::Put), 2, "never retried blindly");
    assert_eq!(store.get("m").unwrap().0, "theirs");
}

#[test]
fn a_conditional_put_whose_outcome_cannot_be_read_is_outcome_unknown() {
    let (store, faults, _) = setup();
    faults.fail_nth(ObjectOp::Put, 1, ObjectFault::ErrorAfter);
    faults.fail_when(
        |op, path| op == ObjectOp::Get && path.as_ref() == "m",
        ObjectFault::Hang,
    );
    let err = store
        .put("m", Bytes::from_static(b"mine"), PutMode::Create)
        .unwrap_err();
    assert!(
        matches!(&err, Error::OutcomeUnknown { name, .. } if name == "m"),
        "{err}"
    );
}

#[test]
fn multipart_uploads_are_retried_whole() {
    let memory = Arc::new(InMemory::new());
    let faults = FaultObjectStore::new(memory);
    let options = RemoteOptions {
        multipart_threshold_bytes: 1000,
        part_bytes: 400,
        ..options()
    };
    let store = RemoteStore::with_options(Arc::new(faults.clone()), "p", options).unwrap();
    faults.fail_nth(ObjectOp::PutMultipart, 1, ObjectFault::Error);
    let data = Bytes::from(vec![7u8; 2500]);
    store.put("big", data.clone(), PutMode::Overwrite).unwrap();
    assert_eq!(faults.op_count(ObjectOp::PutMultipart), 2);
    assert_eq!(faults.op_count(ObjectOp::Put), 0);
    assert_eq!(store.get("big").unwrap().0, data);
}

#[test]
fn a_store_can_be_used_and_dropped_inside_another_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = RemoteStore::new(Arc::new(InMemory::new()), "").unwrap();
        store
            .put("x", Bytes::from_static(b"x"), PutMode::Overwrite)
            .unwrap();
        assert_eq!(store.get("x").unwrap().0, "x");
        let task = tokio::spawn(async move {
            let got = store.get("x").map(|(b, _)| b);
            drop(store);
            got
        });
        assert_eq!(task.await.unwrap().unwrap(), "x");
    });
}

#[test]
fn a_throttled_store_adds_latency_and_stays_correct() {
    use object_store::throttle::{ThrottleConfig, ThrottledStore};
    let config = ThrottleConfig {
        wait_get_per_call: Duration::from_millis(2),
        wait_put_per_call: Duration::from_millis(2),
        ..ThrottleConfig::default()
    };
    let throttled: Arc<dyn ObjectStore> = Arc::new(ThrottledStore::new(InMemory::new(), config));
    let store = RemoteStore::new(throttled, "slow").unwrap();
    store
        .put("a", Bytes::from_static(b"abc"), PutMode::Overwrite)
        .unwrap();
    assert_eq!(store.get_range("a", 1..3).unwrap(), "bc");
}
