//! The conformance suite every `Store` must pass, whatever is under it.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use larder_objstore::{Error, PutMode, Store};

/// What a store under test can do.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caps {
    /// `PutMode::Update` works (object_store's local file store has none).
    pub(crate) update: bool,
    /// Of racing `PutMode::Create`s exactly one wins (s3s-fs checks, then
    /// writes, without a lock).
    pub(crate) atomic_create: bool,
}

impl Caps {
    pub(crate) const ALL: Caps = Caps {
        update: true,
        atomic_create: true,
    };
}

/// Runs every check against `store`, under names starting with `prefix`
/// (so one bucket can hold several runs). `large_bytes` is the size of the
/// object that must cross a multipart threshold.
pub(crate) fn conformance(store: &dyn Store, prefix: &str, large_bytes: usize, caps: Caps) {
    let name = |n: &str| format!("{prefix}{n}");
    put_get_head_range(store, &name("t/000001.sst"));
    listing(store, &name("list/"));
    delete_is_idempotent(store, &name("del/x"));
    create_is_conditional(store, &name("CURRENT"));
    if caps.update {
        conditional_puts(store, &name("MANIFEST"));
    }
    large_object(store, &name("big/blob"), large_bytes);
    if caps.atomic_create {
        concurrent_creators_one_wins(store, &name("race/MANIFEST"));
    }
}

fn create_is_conditional(store: &dyn Store, name: &str) {
    store
        .put(name, Bytes::from_static(b"first"), PutMode::Create)
        .unwrap();
    let lost = store.put(name, Bytes::from_static(b"second"), PutMode::Create);
    assert!(matches!(lost, Err(Error::Precondition { .. })), "{lost:?}");
    assert_eq!(store.get(name).unwrap().0, "first");
}

fn put_get_head_range(store: &dyn Store, name: &str) {
    let data = Bytes::from_static(b"0123456789abcdef");
    let meta = store.put(name, data.clone(), PutMode::Overwrite).unwrap();
    assert_eq!(meta.name, name);
    assert_eq!(meta.size, 16);
    let (got, got_meta) = store.get(name).unwrap();
    assert_eq!(got, data);
    assert_eq!(got_meta.size, 16);
    let head = store.head(name).unwrap();
    assert_eq!(head.size, 16);
    assert_eq!(head.version, got_meta.version);
    assert_eq!(store.get_range(name, 2..5).unwrap(), "234");
    assert_eq!(store.get_range(name, 0..16).unwrap(), data);
    assert_eq!(store.get_range(name, 10..16).unwrap(), "abcdef");
    let past = store.get_range(name, 10..17);
    assert!(
        matches!(past, Err(Error::OutOfRange { size: 16, .. })),
        "{past:?}"
    );
    let missing = format!("{name}.missing");
    let err = store.get(&missing);
    assert!(matches!(err, Err(Error::NotFound { .. })), "{err:?}");
    let err = store.head(&missing);
    assert!(matches!(err, Err(Error::NotFound { .. })), "{err:?}");
    let err = store.get_range(&missing, 0..1);
    assert!(matches!(err, Err(Error::NotFound { .. })), "{err:?}");
    let err = store.put("a/../b", Bytes::new(), PutMode::Overwrite);
    assert!(matches!(err, Err(Error::BadName { .. })), "{err:?}");
    // An overwrite makes a new version.
    let again = store
        .put(name, Bytes::from_static(b"other"), PutMode::Overwrite)
        .unwrap();
    assert_ne!(again.version, head.version);
    assert_eq!(store.get(name).unwrap().0, "other");
}

fn listing(store: &dyn Store, dir: &str) {
    for n in ["b/2", "a/1", "b/1", "c", "bb"] {
        store
            .put(
                &format!("{dir}{n}"),
                Bytes::from(n.to_owned()),
                PutMode::Overwrite,
            )
            .unwrap();
    }
    let names = |prefix: &str| -> Vec<String> {
        store
            .list(&format!("{dir}{prefix}"))
            .unwrap()
            .into_iter()
            .map(|m| m.name.strip_prefix(dir).unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(""), ["a/1", "b/1", "b/2", "bb", "c"]);
    assert_eq!(names("b/"), ["b/1", "b/2"]);
    assert_eq!(names("b"), ["b/1", "b/2", "bb"]);
    assert!(names("z").is_empty());
    let metas = store.list(&format!("{dir}b/")).unwrap();
    assert_eq!(metas[0].size, 3);
}

fn delete_is_idempotent(store: &dyn Store, name: &str) {
    store
        .put(name, Bytes::from_static(b"x"), PutMode::Overwrite)
        .unwrap();
    store.delete(name).unwrap();
    let err = store.get(name);
    assert!(matches!(err, Err(Error::NotFound { .. })), "{err:?}");
    store.delete(name).unwrap();
}

fn conditional_puts(store: &dyn Store, name: &str) {
    let first = store
        .put(name, Bytes::from_static(b"v1"), PutMode::Create)
        .unwrap();
    let lost = store.put(name, Bytes::from_static(b"v1'"), PutMode::Create);
    assert!(matches!(lost, Err(Error::Precondition { .. })), "{lost:?}");
    assert_eq!(store.get(name).unwrap().0, "v1");
    let v1 = first.version.expect("conditional stores version objects");
    let second = store
        .put(
            name,
            Bytes::from_static(b"v2"),
            PutMode::Update {
                version: v1.clone(),
            },
        )
        .unwrap();
    let stale = store.put(
        name,
        Bytes::from_static(b"v3"),
        PutMode::Update { version: v1 },
    );
    assert!(
        matches!(stale, Err(Error::Precondition { .. })),
        "{stale:?}"
    );
    assert_eq!(store.get(name).unwrap().0, "v2");
    assert_eq!(store.head(name).unwrap().version, second.version);
    let missing = store.put(
        &format!("{name}.missing"),
        Bytes::from_static(b"v"),
        PutMode::Update {
            version: second.version.unwrap(),
        },
    );
    assert!(
        matches!(missing, Err(Error::Precondition { .. })),
        "{missing:?}"
    );
}

fn large_object(store: &dyn Store, name: &str, len: usize) {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let data = Bytes::from(data);
    let meta = store.put(name, data.clone(), PutMode::Overwrite).unwrap();
    assert_eq!(meta.size, len as u64);
    assert_eq!(store.get(name).unwrap().0, data);
    let mid = len as u64 / 2;
    assert_eq!(
        store.get_range(name, mid - 10..mid + 10).unwrap(),
        data.slice(mid as usize - 10..mid as usize + 10)
    );
    assert_eq!(store.head(name).unwrap().size, len as u64);
}

fn concurrent_creators_one_wins(store: &dyn Store, name: &str) {
    const WRITERS: usize = 8;
    let won = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for i in 0..WRITERS {
            let won = &won;
            scope.spawn(move || {
                match store.put(name, Bytes::from(format!("writer {i}")), PutMode::Create) {
                    Ok(_) => {
                        won.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(Error::Precondition { .. }) => {}
                    Err(e) => panic!("creator {i}: {e}"),
                }
            });
        }
    });
    assert_eq!(won.load(Ordering::SeqCst), 1, "exactly one creator wins");
}
