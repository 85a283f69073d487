//! A range read over an empty memtable (as after a flush) reads the tables
//! alone, and a write made after the iterator was created stays unseen by
//! it while a new iterator sees it.

use larder_lsm::{Db, Options};

#[test]
fn an_iterator_made_over_an_empty_memtable_misses_later_writes_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    for i in 0..100u32 {
        db.put(format!("k{i:03}").into_bytes(), b"old".to_vec())
            .expect("put");
    }
    db.flush().expect("flush");
    let mut it = db.range::<&[u8], _>(b"k010".as_slice()..);
    let first = it.next().expect("an entry").expect("ok");
    assert_eq!(first.0.as_ref(), b"k010");
    // Written after the iterator: newer than what it reads.
    db.put(b"k011".to_vec(), b"new".to_vec()).expect("put");
    db.put(b"k0105".to_vec(), b"new".to_vec()).expect("put");
    let rest: Vec<_> = it.map(|e| e.expect("ok")).collect();
    assert_eq!(rest.len(), 89);
    assert_eq!(rest[0].0.as_ref(), b"k011");
    assert_eq!(rest[0].1.as_ref(), b"old");
    let fresh: Vec<_> = db
        .range::<&[u8], _>(b"k010".as_slice()..b"k012".as_slice())
        .map(|e| e.expect("ok"))
        .collect();
    let keys: Vec<&[u8]> = fresh.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(keys, [&b"k010"[..], b"k0105", b"k011"]);
    assert_eq!(fresh[2].1.as_ref(), b"new");
    db.close().expect("close");
}
