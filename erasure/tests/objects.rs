//! `ObjectBlobStore`: the blob store's key cases over `k + m` object stores
//! (in memory, and buckets of a real S3 server), losing `m` of them.

mod common;

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use common::{blob, options};
use larder_erasure::{BlobId, Error, ObjectBlobStore};
use objstore::{MemStore, ObjectMeta, PutMode, Store};

fn mem_stores(n: usize) -> Vec<Arc<dyn Store>> {
    (0..n)
        .map(|_| Arc::new(MemStore::new()) as Arc<dyn Store>)
        .collect()
}

fn shard_name(id: BlobId) -> String {
    format!("blobs/{id}.shard")
}

/// A store that is down: every request fails.
#[derive(Debug)]
struct Down;

fn down<T>(name: &str) -> objstore::Result<T> {
    Err(objstore::Error::Remote {
        op: "any",
        name: name.to_owned(),
        cause: "connection refused".to_owned(),
    })
}

impl Store for Down {
    fn put(&self, name: &str, _: Bytes, _: PutMode) -> objstore::Result<ObjectMeta> {
        down(name)
    }
    fn get(&self, name: &str) -> objstore::Result<(Bytes, ObjectMeta)> {
        down(name)
    }
    fn get_range(&self, name: &str, _: Range<u64>) -> objstore::Result<Bytes> {
        down(name)
    }
    fn head(&self, name: &str) -> objstore::Result<ObjectMeta> {
        down(name)
    }
    fn list(&self, prefix: &str) -> objstore::Result<Vec<ObjectMeta>> {
        down(prefix)
    }
    fn delete(&self, name: &str) -> objstore::Result<()> {
        down(name)
    }
    fn location(&self) -> String {
        "down".to_owned()
    }
}

#[test]
fn put_get_list_delete_round_trip_over_mem_stores() {
    let stores = mem_stores(5);
    let store = ObjectBlobStore::open(stores.clone(), options(3, 2, 100)).unwrap();
    let a = store.put(&blob(1000, 1)).unwrap();
    let b = store.put(b"").unwrap();
    let c = store.put(&blob(333, 3)).unwrap();
    assert_eq!(store.list().unwrap(), vec![a, b, c]);
    assert_eq!(store.get(a).unwrap(), blob(1000, 1));
    assert!(store.get(b).unwrap().is_empty());
    assert_eq!(store.get(c).unwrap(), blob(333, 3));
    assert_eq!(
        store.get_range(a, 150, 300).unwrap(),
        blob(1000, 1)[150..450]
    );
    assert!(matches!(
        store.get_range(a, 900, 101),
        Err(Error::RangeOutOfBounds { .. })
    ));
    let stat = store.stat(a).unwrap();
    assert_eq!((stat.len, stat.stripes), (1000, 10));
    assert!(stat.healthy.iter().all(|&h| h));
    store.delete(a).unwrap();
    assert!(matches!(store.get(a), Err(Error::NotFound { blob }) if blob == a));
    assert!(matches!(store.delete(a), Err(Error::NotFound { .. })));
    drop(store);
    let store = ObjectBlobStore::open(stores.clone(), options(3, 2, 100)).unwrap();
    assert_eq!(store.list().unwrap(), vec![b, c]);
    // Ids are not reused after a reopen.
    assert!(store.put(b"x").unwrap() > c);
    // Each store holds its manifest and one shard per blob.
    for s in &stores {
        let names: Vec<String> = s.list("").unwrap().into_iter().map(|m| m.name).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        assert_eq!(names[0], "MANIFEST");
    }
}

#[test]
fn open_refuses_other_layouts_and_swapped_stores() {
    let stores = mem_stores(3);
    drop(ObjectBlobStore::open(stores.clone(), options(2, 1, 64)).unwrap());
    let err = ObjectBlobStore::open(stores.clone(), options(2, 1, 128)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ManifestMismatch {
                field: "stripe_size",
                expected: 128,
                found: 64,
                ..
            }
        ),
        "{err}"
    );
    let swapped = vec![stores[1].clone(), stores[0].clone(), stores[2].clone()];
    let err = ObjectBlobStore::open(swapped, options(2, 1, 64)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ManifestMismatch {
                field: "shard_index",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn losing_m_stores_loses_nothing_and_scrub_refills_them() {
    let mut stores = mem_stores(6);
    let layout = options(4, 2, 64);
    let store = ObjectBlobStore::open(stores.clone(), layout).unwrap();
    let ids: Vec<BlobId> = (0..5)
        .map(|i| store.put(&blob(100 + 97 * i, i as u64)).unwrap())
        .collect();
    drop(store);
    // Two buckets are gone and replaced by empty ones.
    stores[0] = Arc::new(MemStore::new());
    stores[4] = Arc::new(MemStore::new());
    let store = ObjectBlobStore::open(stores.clone(), layout).unwrap();
    assert_eq!(store.list().unwrap(), ids);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(store.get(*id).unwrap(), blob(100 + 97 * i, i as u64));
        let healthy = store.stat(*id).unwrap().healthy;
        assert_eq!(healthy, [false, true, true, true, false, true]);
    }
    let report = store.scrub().unwrap();
    assert_eq!(report.blobs_checked, 5);
    assert_eq!(report.shards_repaired, 10);
    assert!(report.blobs_lost.is_empty());
    // Now any other two may go.
    stores[1] = Arc::new(MemStore::new());
    stores[2] = Arc::new(MemStore::new());
    let store = ObjectBlobStore::open(stores, layout).unwrap();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(store.get(*id).unwrap(), blob(100 + 97 * i, i as u64));
    }
}

#[test]
fn m_unreachable_stores_are_survived_more_are_reported() {
    let mut stores = mem_stores(5);
    let layout = options(3, 2, 50);
    let store = ObjectBlobStore::open(stores.clone(), layout).unwrap();
    let id = store.put(&blob(500, 7)).unwrap();
    drop(store);
    stores[1] = Arc::new(Down);
    stores[3] = Arc::new(Down);
    let store = ObjectBlobStore::open(stores.clone(), layout).unwrap();
    assert_eq!(store.list().unwrap(), [id]);
    assert_eq!(store.get(id).unwrap(), blob(500, 7));
    // A put needs every store.
    assert!(matches!(store.put(b"new"), Err(Error::Object(_))));
    assert_eq!(store.list().unwrap(), [id]);
    stores[0] = Arc::new(Down);
    let err = ObjectBlobStore::open(stores, layout).unwrap_err();
    assert!(
        matches!(err, Error::Object(objstore::Error::Remote { .. })),
        "{err}"
    );
}

#[test]
fn rotten_shards_are_erasures_and_scrub_rewrites_them() {
    let stores = mem_stores(5);
    let store = ObjectBlobStore::open(stores.clone(), options(3, 2, 100)).unwrap();
    let id = store.put(&blob(1000, 9)).unwrap();
    let name = shard_name(id);
    // Rot in the data of shard 0 (stripe 2) and in the header of shard 3.
    for (index, offset) in [(0usize, 52 + 2 * (34 + 4) + 5), (3, 20)] {
        let (bytes, _) = stores[index].get(&name).unwrap();
        let mut bytes = bytes.to_vec();
        bytes[offset] ^= 0x40;
        stores[index]
            .put(&name, Bytes::from(bytes), PutMode::Overwrite)
            .unwrap();
    }
    assert_eq!(store.get(id).unwrap(), blob(1000, 9));
    assert_eq!(
        store.stat(id).unwrap().healthy,
        [false, true, true, false, true]
    );
    assert_eq!(store.scrub().unwrap().shards_repaired, 2);
    assert!(store.stat(id).unwrap().healthy.iter().all(|&h| h));
}

#[test]
fn too_few_good_shards_names_blob_stripe_and_bad_shards() {
    let stores = mem_stores(3);
    let store = ObjectBlobStore::open(stores.clone(), options(2, 1, 10)).unwrap();
    let id = store.put(&blob(35, 1)).unwrap();
    stores[0].delete(&shard_name(id)).unwrap();
    stores[2].delete(&shard_name(id)).unwrap();
    let err = store.get(id).unwrap_err();
    assert!(
        matches!(&err, Error::Unrecoverable { blob, stripe: 0, bad_shards, good: 1, needed: 2 }
            if *blob == id && bad_shards == &[0, 2]),
        "{err}"
    );
    // One shard left of k = 2: no longer listed, and scrub does not see it.
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn blobs_survive_losing_m_buckets_of_a_real_s3_server() {
    use objstore::RemoteStore;
    use objstore::testing::S3Server;
    let server = S3Server::start().unwrap();
    let names = ["shard-a", "shard-b", "shard-c", "shard-d", "shard-e"];
    let buckets = || -> Vec<Arc<dyn Store>> {
        names
            .iter()
            .map(|b| {
                Arc::new(RemoteStore::new(server.bucket(b).unwrap(), "blobs-test").unwrap())
                    as Arc<dyn Store>
            })
            .collect()
    };
    let layout = options(3, 2, 4096);
    let store = ObjectBlobStore::open(buckets(), layout).unwrap();
    let ids: Vec<BlobId> = (0..3)
        .map(|i| store.put(&blob(10_000 + 777 * i, i as u64)).unwrap())
        .collect();
    drop(store);
    // Two buckets are destroyed behind the server's back, then made anew.
    for lost in [names[1], names[4]] {
        std::fs::remove_dir_all(server.dir().join(lost)).unwrap();
    }
    let store = ObjectBlobStore::open(buckets(), layout).unwrap();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(store.get(*id).unwrap(), blob(10_000 + 777 * i, i as u64));
    }
    let report = store.scrub().unwrap();
    assert_eq!((report.blobs_checked, report.shards_repaired), (3, 6));
    for id in &ids {
        assert!(store.stat(*id).unwrap().healthy.iter().all(|&h| h));
    }
}

/// A `MemStore` that counts whole-object gets.
#[derive(Debug, Default)]
struct CountingGets {
    inner: MemStore,
    gets: std::sync::atomic::AtomicUsize,
}

impl Store for CountingGets {
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> objstore::Result<ObjectMeta> {
        self.inner.put(name, data, mode)
    }
    fn get(&self, name: &str) -> objstore::Result<(Bytes, ObjectMeta)> {
        self.gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get(name)
    }
    fn get_range(&self, name: &str, range: Range<u64>) -> objstore::Result<Bytes> {
        self.inner.get_range(name, range)
    }
    fn head(&self, name: &str) -> objstore::Result<ObjectMeta> {
        self.inner.head(name)
    }
    fn list(&self, prefix: &str) -> objstore::Result<Vec<ObjectMeta>> {
        self.inner.list(prefix)
    }
    fn delete(&self, name: &str) -> objstore::Result<()> {
        self.inner.delete(name)
    }
    fn location(&self) -> String {
        self.inner.location()
    }
}

#[test]
fn ranged_reads_read_only_blocks_healthy_or_degraded_and_decode_beyond_m() {
    let counters: Vec<Arc<CountingGets>> = (0..5).map(|_| Arc::default()).collect();
    let stores: Vec<Arc<dyn Store>> = counters.iter().map(|c| c.clone() as _).collect();
    // 10_000-byte stripes over k = 3: chunks of 3334 bytes, the last one
    // padded, and blocks of 4 KiB spanning chunk ends.
    let store = ObjectBlobStore::open(stores.clone(), options(3, 2, 10_000)).unwrap();
    let data = blob(45_000, 4);
    let id = store.put(&data).unwrap();
    let gets = || -> usize {
        counters
            .iter()
            .map(|c| c.gets.load(std::sync::atomic::Ordering::SeqCst))
            .sum()
    };
    let before = gets();
    let ranges: [(u64, u64); 7] = [
        (0, 1),
        (3333, 2),
        (9_990, 30),
        (6_000, 9_000),
        (44_990, 10),
        (0, 45_000),
        (12_345, 0),
    ];
    for (offset, len) in ranges {
        let got = store.get_range(id, offset, len).unwrap();
        assert_eq!(
            got,
            data[offset as usize..(offset + len) as usize],
            "{offset}+{len}"
        );
    }
    assert_eq!(gets(), before, "a healthy ranged read gets no whole shard");
    assert!(matches!(
        store.get_range(id, 44_990, 11),
        Err(Error::RangeOutOfBounds {
            blob_len: 45_000,
            ..
        })
    ));
    // Data shard 1 lost: the blocks it held are rebuilt from the same
    // blocks of k other shards, still with ranged gets only.
    stores[1].delete(&shard_name(id)).unwrap();
    for (offset, len) in ranges {
        let got = store.get_range(id, offset, len).unwrap();
        assert_eq!(
            got,
            data[offset as usize..(offset + len) as usize],
            "{offset}+{len}"
        );
    }
    assert_eq!(gets(), before, "a degraded ranged read rebuilds blocks");
    // Rot in data shard 0 as well: the same, from the parity shards.
    let (mut rotten, _) = stores[0].get(&shard_name(id)).unwrap();
    let mut bytes = rotten.to_vec();
    for b in bytes.iter_mut().skip(60).step_by(1000) {
        *b ^= 0x5a;
    }
    rotten = Bytes::from(bytes);
    stores[0]
        .put(&shard_name(id), rotten, PutMode::Overwrite)
        .unwrap();
    let before = gets();
    for (offset, len) in ranges {
        let got = store.get_range(id, offset, len).unwrap();
        assert_eq!(
            got,
            data[offset as usize..(offset + len) as usize],
            "{offset}+{len}"
        );
    }
    assert_eq!(
        gets(),
        before,
        "two bad shards of five are still rebuilt by block"
    );
    // A third bad shard: beyond m, the whole-blob decode says so.
    stores[2].delete(&shard_name(id)).unwrap();
    assert!(matches!(
        store.get_range(id, 0, 10),
        Err(Error::Unrecoverable { .. })
    ));
}

#[test]
fn streaming_writer_uploads_the_shard_files_a_directory_store_writes() {
    let stores = mem_stores(5);
    let objects = ObjectBlobStore::open(stores.clone(), options(3, 2, 100)).unwrap();
    let fs = Arc::new(vfs::MemFs::new());
    let dirs: Vec<String> = (0..5).map(|i| format!("/d{i}")).collect();
    let files =
        larder_erasure::BlobStore::open_with_fs(fs.clone(), &dirs, options(3, 2, 100)).unwrap();
    let data = blob(1234, 9);
    let id = BlobId(42);
    let mut w = objects.writer_with_id(id);
    let mut d = files.writer_with_id(id).unwrap();
    for piece in data.chunks(77) {
        w.write_all_bytes(piece).unwrap();
        d.write_all_bytes(piece).unwrap();
    }
    assert_eq!((w.id(), w.len()), (id, 1234));
    // Nothing is visible before `finish`, which uploads every shard whole.
    assert!(stores.iter().all(|s| s.head(&shard_name(id)).is_err()));
    assert_eq!(w.finish().unwrap(), id);
    d.finish().unwrap();
    assert_eq!(objects.get(id).unwrap(), data);
    for (i, s) in stores.iter().enumerate() {
        let (object, _) = s.get(&shard_name(id)).unwrap();
        let path = files.dirs()[i].join(format!("{id}.shard"));
        let file = vfs::Fs::open(&*fs, &path, vfs::OpenMode::Read).unwrap();
        let mut bytes = vec![0; file.len().unwrap() as usize];
        file.read_exact_at(&mut bytes, 0).unwrap();
        assert_eq!(&object[..], &bytes[..], "shard {i}");
    }
    // Fresh ids follow the chosen one; a dropped writer uploads nothing.
    let w = objects.writer();
    assert!(w.id() > id);
    let dropped = w.id();
    drop(w);
    assert!(stores.iter().all(|s| s.head(&shard_name(dropped)).is_err()));
}

#[test]
fn read_only_open_writes_nothing_and_shard_objects_count_leftovers() {
    let stores = mem_stores(3);
    let ro = ObjectBlobStore::open_read_only(stores.clone(), options(2, 1, 100)).unwrap();
    assert!(ro.list().unwrap().is_empty());
    assert!(stores.iter().all(|s| s.list("").unwrap().is_empty()));
    let store = ObjectBlobStore::open(stores.clone(), options(2, 1, 100)).unwrap();
    let id = store.put(&blob(500, 2)).unwrap();
    // An upload cut short: one shard of another id.
    let (shard, _) = stores[0].get(&shard_name(id)).unwrap();
    stores[0]
        .put(&shard_name(BlobId(99)), shard, PutMode::Overwrite)
        .unwrap();
    let found = store.shard_objects().unwrap();
    assert_eq!(found[&id].stores, 3);
    assert_eq!(found[&BlobId(99)].stores, 1);
    assert_eq!(store.list().unwrap(), vec![id]);
    let ro = ObjectBlobStore::open_read_only(stores, options(2, 1, 100)).unwrap();
    assert_eq!(ro.get(id).unwrap(), blob(500, 2));
}
