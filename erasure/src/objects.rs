//! [`ObjectBlobStore`]: the blob store over `k + m` object stores (buckets,
//! endpoints) instead of directories, with the same shard format.
//!
//! # Layout
//!
//! Store `i` holds shard `i` of every blob: the object `MANIFEST` (the
//! directory manifest's 36 bytes) and `blobs/<id>.shard` (the shard file's
//! bytes, exactly as `FORMAT.md` draws them). Object stores have no rename,
//! so there are no `.pending` files: each shard is uploaded whole and is
//! visible whole or not at all, and `put` returns after all `k + m` are.
//!
//! # Visibility and crash safety
//!
//! A blob is listed when at least `k` stores hold a shard of it. A `put`
//! cut short leaves fewer shards of an id no caller was given (the id is
//! never reused: fresh ids start past the largest id with any shard); `scrub` repairs what
//! has `k` good shards and reports the rest as lost, and [`ObjectBlobStore::delete`]
//! removes it. A `delete` removes every shard; cut short, it leaves a blob
//! that is listed while `k` shards remain.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use objstore::{PutMode, Store};
use xxhash_rust::xxh3::Xxh3;

use crate::codec::{check_layout, join_data};
use crate::format::{
    CHUNK_CRC_LEN, CRC_BLOCK_BYTES, CRC_BLOCK_LOG2, Geometry, HEADER_LEN, STRIPE_SIZE_MAX,
    ShardHeader, blocks_match, region_len,
};
use crate::manifest::{MANIFEST_LEN, MANIFEST_NAME, Manifest};
use crate::store::{layout_manifest, new_store_id};
use crate::writer::Sink;
use crate::{
    BlobId, BlobStat, BlobWriter, Codec, Error, Options, Result, ScrubReport, ShardDamage,
};

/// The header bytes every shard of a blob shares: its length and checksum.
const BLOB_LEN_RANGE: std::ops::Range<usize> =
    crate::format::BLOB_LEN_OFFSET..crate::format::HEADER_CRC_OFFSET;

/// Where shard objects live in each store.
const BLOB_PREFIX: &str = "blobs/";
const SHARD_SUFFIX: &str = ".shard";

/// An erasure-coded blob store over `k + m` [`objstore::Store`]s, one per
/// shard index: losing any `m` of them (a bucket deleted, an endpoint down),
/// or rotten shards in them, loses no blob.
///
/// The shard objects have the shard file format of [`BlobStore`](crate::BlobStore)
/// (`FORMAT.md`), so the two read each other's shards.
///
/// # Concurrency
///
/// `Send + Sync`; any number of threads may call any method at once. A
/// call talks to the `k + m` stores from `k + m` threads at once. `delete`
/// and `repair` of one blob racing each other may leave a repaired shard of
/// a deleted blob (listed only if `k` remain).
pub struct ObjectBlobStore {
    stores: Vec<Arc<dyn Store>>,
    options: Options,
    codec: Codec,
    store_id: u64,
    next_id: AtomicU64,
}

impl std::fmt::Debug for ObjectBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectBlobStore")
            .field("stores", &self.locations())
            .field("options", &self.options)
            .field("store_id", &self.store_id)
            .finish()
    }
}

fn shard_name(id: BlobId) -> String {
    format!("{BLOB_PREFIX}{id}{SHARD_SUFFIX}")
}

fn parse_shard_name(name: &str) -> Option<BlobId> {
    let hex = name.strip_prefix(BLOB_PREFIX)?.strip_suffix(SHARD_SUFFIX)?;
    if hex.len() != 16 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok().map(BlobId)
}

/// Runs `f` on every store at once, one thread each.
fn each<T: Send>(stores: &[Arc<dyn Store>], f: impl Fn(usize, &dyn Store) -> T + Sync) -> Vec<T> {
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| scope.spawn(move || f(i, store.as_ref())))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// What [`ObjectBlobStore::shard_objects`] found of one id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardsFound {
    /// Stores holding a shard object of it (`k + m` when whole).
    pub stores: usize,
    /// Their bytes, summed.
    pub bytes: u64,
}

/// A shard object as read: its header and bytes, if sound and where it
/// belongs.
struct ReadShard {
    header: ShardHeader,
    bytes: Bytes,
}

impl ObjectBlobStore {
    /// Opens (creating if needed) the store whose shard `i` lives in
    /// `stores[i]`, and checks each reachable store's manifest against
    /// `options`. A store with no manifest (new, or emptied) gets one; its
    /// missing shards are rebuilt by [`ObjectBlobStore::scrub`]. Up to `m`
    /// stores may be unreachable.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLayout`] for bad options or `stores.len() != k + m`;
    /// [`Error::ManifestMismatch`] (its `dir` is the store's location) if a
    /// store belongs to another blob store, layout or shard index;
    /// [`Error::Object`] if more than `m` stores cannot be reached.
    pub fn open(stores: Vec<Arc<dyn Store>>, options: Options) -> Result<ObjectBlobStore> {
        ObjectBlobStore::open_inner(stores, options, true)
    }

    /// Opens the store for reading only: as [`ObjectBlobStore::open`], but
    /// writes no object (a store without a manifest keeps none, and holds
    /// no blobs until a writer opens it). Writing through it is the
    /// caller's mistake: an engine opened read-only refuses writes before
    /// they reach the store.
    ///
    /// # Errors
    ///
    /// As [`ObjectBlobStore::open`].
    pub fn open_read_only(
        stores: Vec<Arc<dyn Store>>,
        options: Options,
    ) -> Result<ObjectBlobStore> {
        ObjectBlobStore::open_inner(stores, options, false)
    }

    fn open_inner(
        stores: Vec<Arc<dyn Store>>,
        options: Options,
        write: bool,
    ) -> Result<ObjectBlobStore> {
        check_layout(options.data_shards, options.parity_shards)?;
        let total = options.data_shards + options.parity_shards;
        if stores.len() != total {
            return Err(Error::InvalidLayout {
                reason: format!("{} stores for {total} shards", stores.len()),
            });
        }
        if options.stripe_size_bytes == 0 || options.stripe_size_bytes > STRIPE_SIZE_MAX {
            return Err(Error::InvalidLayout {
                reason: format!(
                    "stripe size {} outside 1..={STRIPE_SIZE_MAX}",
                    options.stripe_size_bytes
                ),
            });
        }
        let locations: Vec<PathBuf> = stores.iter().map(|s| PathBuf::from(s.location())).collect();
        let found = each(&stores, |i, store| match store.get(MANIFEST_NAME) {
            Ok((bytes, _)) => Manifest::from_bytes(&bytes, &locations[i]).map(Some),
            Err(objstore::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::Object(e)),
        });
        let mut manifests = Vec::with_capacity(total);
        let mut down = Vec::new();
        for result in found {
            match result {
                Ok(m) => manifests.push(Some(m)),
                Err(Error::Object(e)) => {
                    down.push(e);
                    manifests.push(None);
                }
                Err(e) => return Err(e),
            }
        }
        if down.len() > options.parity_shards {
            return Err(Error::Object(down.swap_remove(0)));
        }
        let store_id = manifests
            .iter()
            .flatten()
            .flatten()
            .map(|m| m.store_id)
            .next()
            .unwrap_or_else(|| new_store_id(&locations));
        for (i, m) in manifests.iter().enumerate() {
            if let Some(Some(m)) = m {
                m.check(&layout_manifest(&options, i, store_id), &locations[i])?;
            }
        }
        for (i, m) in manifests.iter().enumerate() {
            if let (true, Some(None)) = (write, m) {
                let bytes = layout_manifest(&options, i, store_id).to_bytes();
                debug_assert_eq!(bytes.len(), MANIFEST_LEN);
                // Create: two openers racing on an empty store agree, or
                // the loser's check above fails on its next open.
                match stores[i].put(
                    MANIFEST_NAME,
                    Bytes::copy_from_slice(&bytes),
                    PutMode::Create,
                ) {
                    Ok(_) | Err(objstore::Error::Precondition { .. }) => {}
                    Err(e) => return Err(Error::Object(e)),
                }
            }
        }
        let store = ObjectBlobStore {
            codec: Codec::new(options.data_shards, options.parity_shards)?,
            stores,
            options,
            store_id,
            next_id: AtomicU64::new(0),
        };
        let max_id = store
            .shard_objects()?
            .keys()
            .next_back()
            .map_or(0, |id| id.0 + 1);
        store.next_id.store(max_id, Ordering::Relaxed);
        Ok(store)
    }

    /// Where each shard index's store is, for people.
    pub fn locations(&self) -> Vec<String> {
        self.stores.iter().map(|s| s.location()).collect()
    }

    /// The layout.
    pub fn options(&self) -> Options {
        self.options
    }

    /// Every id any reachable store holds a shard object of, with how many
    /// stores hold one and their bytes: blobs, and the leftovers of uploads
    /// or deletes cut short (fewer than `k` shards), which
    /// [`ObjectBlobStore::list`] leaves out.
    ///
    /// # Errors
    ///
    /// [`Error::Object`] if more than `m` stores cannot be listed.
    pub fn shard_objects(&self) -> Result<BTreeMap<BlobId, ShardsFound>> {
        let listed = each(&self.stores, |_, store| store.list(BLOB_PREFIX));
        let mut found: BTreeMap<BlobId, ShardsFound> = BTreeMap::new();
        let mut down = Vec::new();
        for listing in listed {
            match listing {
                Ok(metas) => {
                    for meta in metas {
                        if let Some(id) = parse_shard_name(&meta.name) {
                            let f = found.entry(id).or_default();
                            f.stores += 1;
                            f.bytes += meta.size;
                        }
                    }
                }
                Err(e) => down.push(e),
            }
        }
        if down.len() > self.options.parity_shards {
            return Err(Error::Object(down.swap_remove(0)));
        }
        Ok(found)
    }

    /// The name of blob `id`'s shard object in every store.
    pub fn object_name(id: BlobId) -> String {
        shard_name(id)
    }

    /// The blobs at least `k` stores hold a shard of, by id.
    ///
    /// # Errors
    ///
    /// [`Error::Object`] if more than `m` stores cannot be listed.
    pub fn list(&self) -> Result<Vec<BlobId>> {
        let k = self.options.data_shards;
        Ok(self
            .shard_objects()?
            .into_iter()
            .filter(|(_, f)| f.stores >= k)
            .map(|(id, _)| id)
            .collect())
    }

    /// The shard objects of blob `id` (`k + m` of them, headers included),
    /// coded in memory by the same writer `put` uses.
    fn encode(&self, id: BlobId, blob: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut w = self.memory_writer(id, false);
        w.write_all_bytes(blob)?;
        w.into_shards()
    }

    /// A writer coding into `k + m` shard objects in memory, uploading them
    /// at `finish` if `upload`.
    fn memory_writer(&self, id: BlobId, upload: bool) -> BlobWriter<'_> {
        let total = self.stores.len();
        BlobWriter::new(
            Sink::Memory {
                store: upload.then_some(self),
                shards: vec![vec![0; HEADER_LEN]; total],
            },
            &self.codec,
            id,
            self.options.data_shards,
            self.options.stripe_size_bytes,
        )
    }

    /// Starts a blob written piece by piece ([`BlobWriter`]), with a fresh
    /// id. The shards are coded as stripes fill and kept in memory (about
    /// the blob's size times `(k + m) / k`); [`BlobWriter::finish`] uploads
    /// each whole, to all `k + m` stores at once, and returns once every
    /// one is stored. Dropping the writer unfinished uploads nothing.
    pub fn writer(&self) -> BlobWriter<'_> {
        self.memory_writer(BlobId(self.next_id.fetch_add(1, Ordering::Relaxed)), true)
    }

    /// As [`ObjectBlobStore::writer`], with an id the caller chose (an
    /// engine that records the ids it hands out in its own manifest): later
    /// fresh ids are past it. Shard objects of this id left by an upload
    /// cut short are replaced whole at `finish`; the caller must not reuse
    /// the id of a blob it still needs.
    pub fn writer_with_id(&self, id: BlobId) -> BlobWriter<'_> {
        self.next_id
            .fetch_max(id.0.saturating_add(1), Ordering::Relaxed);
        self.memory_writer(id, true)
    }

    /// Uploads the `k + m` shard objects of `id`, all at once.
    ///
    /// # Errors
    ///
    /// [`Error::Object`] if any store refuses its shard; the shards already
    /// uploaded are deleted (best effort; fewer than `k` left are never
    /// listed, and an engine deletes the leftovers of ids it handed out).
    pub(crate) fn upload(&self, id: BlobId, shards: Vec<Vec<u8>>) -> Result<()> {
        let name = shard_name(id);
        let shards: Vec<Bytes> = shards.into_iter().map(Bytes::from).collect();
        let results = each(&self.stores, |i, store| {
            store.put(&name, shards[i].clone(), PutMode::Overwrite)
        });
        let failed = results.into_iter().find_map(std::result::Result::err);
        if let Some(e) = failed {
            each(&self.stores, |_, store| {
                let _ = store.delete(&name);
            });
            return Err(Error::Object(e));
        }
        Ok(())
    }

    fn header(&self, index: usize, id: BlobId, blob_len: u64, checksum: u64) -> ShardHeader {
        let m = layout_manifest(&self.options, index, self.store_id);
        ShardHeader {
            shard_index: m.shard_index,
            data_shards: m.data_shards,
            parity_shards: m.parity_shards,
            crc_block_log2: CRC_BLOCK_LOG2,
            stripe_size: m.stripe_size,
            blob_id: id,
            blob_len,
            blob_checksum: checksum,
        }
    }

    /// Stores `blob` and returns its new id. Every shard is uploaded (to
    /// all `k + m` stores at once) before this returns; the blob is then as
    /// durable as the stores make an object.
    ///
    /// # Errors
    ///
    /// [`Error::Object`] if any store refuses its shard; the shards already
    /// uploaded are deleted (best effort; fewer than `k` left are never
    /// listed).
    pub fn put(&self, blob: &[u8]) -> Result<BlobId> {
        let mut w = self.writer();
        w.write_all_bytes(blob)?;
        w.finish()
    }

    /// Reads every shard of `id`: `None` where the store is unreachable, the
    /// shard missing, or its header bad or not this store's. Returns them
    /// with the length and checksum most sound headers agree on.
    fn read_shards(&self, id: BlobId) -> Result<(Vec<Option<ReadShard>>, Geometry, u64)> {
        let (read, _) = self.read_shards_why(id)?;
        Ok(read)
    }

    /// [`ObjectBlobStore::read_shards`], with why each shard left out is.
    #[allow(clippy::type_complexity)]
    fn read_shards_why(
        &self,
        id: BlobId,
    ) -> Result<((Vec<Option<ReadShard>>, Geometry, u64), Vec<Option<String>>)> {
        let name = shard_name(id);
        let read = each(&self.stores, |i, store| {
            let (bytes, _) = store.get(&name).map_err(|e| match e {
                objstore::Error::NotFound { .. } => "missing".to_owned(),
                e => format!("unreadable: {e}"),
            })?;
            let header_bytes: &[u8; HEADER_LEN] = bytes
                .get(..HEADER_LEN)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("{} bytes, shorter than a header", bytes.len()))?;
            let header = ShardHeader::from_bytes(header_bytes, &PathBuf::from(&name))
                .map_err(|e| format!("bad header: {e}"))?;
            let expected = self.header(i, id, header.blob_len, header.blob_checksum);
            if header != expected {
                return Err("header of another shard, blob or layout".to_owned());
            }
            Ok(ReadShard { header, bytes })
        });
        let mut why: Vec<Option<String>> = read.iter().map(|r| r.as_ref().err().cloned()).collect();
        let read: Vec<Option<ReadShard>> = read.into_iter().map(std::result::Result::ok).collect();
        let mut votes: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        for shard in read.iter().flatten() {
            *votes
                .entry((shard.header.blob_len, shard.header.blob_checksum))
                .or_insert(0) += 1;
        }
        let Some((&(blob_len, checksum), _)) = votes.iter().max_by_key(|&(_, n)| *n) else {
            return Err(Error::NotFound { blob: id });
        };
        let shards = read
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                let s = s.filter(|s| {
                    s.header.blob_len == blob_len && s.header.blob_checksum == checksum
                });
                if s.is_none() && why[i].is_none() {
                    why[i] = Some("header disagrees with the other shards".to_owned());
                }
                s
            })
            .collect();
        let geometry = Geometry {
            data_shards: self.options.data_shards as u64,
            stripe_size: self.options.stripe_size_bytes,
            blob_len,
        };
        Ok(((shards, geometry, checksum), why))
    }

    /// Shard `shard`'s bytes of stripe `s`, if present and every block CRC
    /// holds.
    fn chunk(shard: &ReadShard, geometry: &Geometry, s: u64) -> Option<Vec<u8>> {
        let chunk_len = usize::try_from(geometry.chunk_len(s)).ok()?;
        let start = usize::try_from(geometry.chunk_offset(s)).ok()?;
        let end = start + usize::try_from(region_len(chunk_len as u64)).ok()?;
        let region = shard.bytes.get(start..end)?;
        let (data, crcs) = region.split_at(chunk_len);
        blocks_match(data, crcs).then(|| data.to_vec())
    }

    /// Decodes the blob from what was read, and says which shard indexes
    /// had a missing or rotten stripe.
    fn decode(
        &self,
        id: BlobId,
        shards: &[Option<ReadShard>],
        geometry: &Geometry,
        checksum: u64,
    ) -> Result<(Vec<u8>, Vec<bool>)> {
        let k = self.options.data_shards;
        let total = self.stores.len();
        let mut healthy: Vec<bool> = shards.iter().map(Option::is_some).collect();
        let mut blob = Vec::with_capacity(usize::try_from(geometry.blob_len).unwrap_or(0));
        let mut hasher = Xxh3::new();
        for s in 0..geometry.stripes() {
            let mut chunks: Vec<Option<Vec<u8>>> = shards
                .iter()
                .map(|shard| shard.as_ref().and_then(|sh| Self::chunk(sh, geometry, s)))
                .collect();
            for (i, c) in chunks.iter().enumerate() {
                if c.is_none() {
                    healthy[i] = false;
                }
            }
            let good = chunks.iter().filter(|c| c.is_some()).count();
            if good < k {
                return Err(Error::Unrecoverable {
                    blob: id,
                    stripe: s,
                    bad_shards: (0..total)
                        .filter(|&i| chunks[i].is_none())
                        .map(|i| i as u16)
                        .collect(),
                    good,
                    needed: k,
                });
            }
            let data_len = geometry.stripe_data_len(s);
            if chunks[..k].iter().any(Option::is_none) {
                self.codec.reconstruct_chunks(&mut chunks, data_len, true)?;
            }
            let data = join_data(&chunks, k, data_len)?;
            hasher.update(&data);
            blob.extend_from_slice(&data);
        }
        let found = hasher.digest();
        if found != checksum {
            return Err(Error::BlobChecksum {
                blob: id,
                expected: checksum,
                found,
            });
        }
        Ok((blob, healthy))
    }

    /// The whole blob, checked against the checksum recorded at `put`.
    /// Reads the `k` data shards at once and joins them (the code is
    /// systematic: nothing to decode); if one is missing, unreachable or
    /// rotten, or the checksum fails, reads all `k + m` and decodes from
    /// any `k` good ones per stripe (one more round trip, in exchange for
    /// reading `m / k` less while healthy).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if no store holds a sound shard of it;
    /// [`Error::Unrecoverable`] naming the stripe and bad shards if a stripe
    /// has fewer than `k` good shards; [`Error::BlobChecksum`].
    pub fn get(&self, id: BlobId) -> Result<Bytes> {
        if let Some(blob) = self.get_from_data_shards(id) {
            return Ok(blob);
        }
        let (shards, geometry, checksum) = self.read_shards(id)?;
        let (blob, _) = self.decode(id, &shards, &geometry, checksum)?;
        Ok(Bytes::from(blob))
    }

    /// The blob from its `k` data shards alone, if all are sound, agree,
    /// and give back the recorded checksum.
    fn get_from_data_shards(&self, id: BlobId) -> Option<Bytes> {
        let k = self.options.data_shards;
        let name = shard_name(id);
        let read = each(&self.stores[..k], |i, store| {
            let (bytes, _) = store.get(&name).ok()?;
            let header_bytes: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
            let header = ShardHeader::from_bytes(header_bytes, &PathBuf::from(&name)).ok()?;
            let expected = self.header(i, id, header.blob_len, header.blob_checksum);
            (header == expected).then_some(bytes)
        });
        let shards: Vec<Bytes> = read.into_iter().collect::<Option<_>>()?;
        let first: &[u8; HEADER_LEN] = shards.first()?.get(..HEADER_LEN)?.try_into().ok()?;
        let header = ShardHeader::from_bytes(first, &PathBuf::from(&name)).ok()?;
        let agree = shards
            .iter()
            .all(|s| s.get(BLOB_LEN_RANGE) == first.get(BLOB_LEN_RANGE));
        if !agree {
            return None;
        }
        let geometry = Geometry {
            data_shards: k as u64,
            stripe_size: self.options.stripe_size_bytes,
            blob_len: header.blob_len,
        };
        let mut blob = Vec::with_capacity(usize::try_from(geometry.blob_len).ok()?);
        let mut hasher = Xxh3::new();
        for s in 0..geometry.stripes() {
            let chunk_len = usize::try_from(geometry.chunk_len(s)).ok()?;
            let start = usize::try_from(geometry.chunk_offset(s)).ok()?;
            let end = start + usize::try_from(region_len(chunk_len as u64)).ok()?;
            let mut left = usize::try_from(geometry.stripe_data_len(s)).ok()?;
            for shard in &shards {
                let (data, crcs) = shard.get(start..end)?.split_at(chunk_len);
                if !blocks_match(data, crcs) {
                    return None;
                }
                let take = left.min(chunk_len);
                hasher.update(&data[..take]);
                blob.extend_from_slice(&data[..take]);
                left -= take;
            }
        }
        (hasher.digest() == header.blob_checksum).then(|| Bytes::from(blob))
    }

    /// `len` bytes of the blob from `offset`. While the data shards holding
    /// the range are sound, it reads only their headers and the 4 KiB
    /// blocks (and CRCs) the range covers, with ranged gets: the code is
    /// systematic, nothing is decoded. A block that is missing, unreachable
    /// or fails its CRC is rebuilt from the same blocks of any `k` other
    /// shards (ranged gets again). Only if that fails too does it read and
    /// decode the whole blob (as [`ObjectBlobStore::get`], whole-blob
    /// checksum included), which then says what is lost. A ranged read
    /// that needs no whole-blob decode does not check the whole-blob
    /// checksum.
    ///
    /// # Errors
    ///
    /// As [`ObjectBlobStore::get`], and [`Error::RangeOutOfBounds`].
    pub fn get_range(&self, id: BlobId, offset: u64, len: u64) -> Result<Bytes> {
        if let Some(bytes) = self.get_range_direct(id, offset, len)? {
            return Ok(bytes);
        }
        let blob = self.get(id)?;
        let blob_len = blob.len() as u64;
        match offset.checked_add(len) {
            Some(end) if end <= blob_len => {
                // Both ends are at most the blob's in-memory length.
                Ok(blob.slice(offset as usize..end as usize))
            }
            _ => Err(Error::RangeOutOfBounds {
                blob: id,
                offset,
                len,
                blob_len,
            }),
        }
    }

    /// The sound header of shard `index` of `id`, read with a ranged get.
    fn header_of(&self, index: usize, id: BlobId) -> Option<ShardHeader> {
        let name = shard_name(id);
        let bytes = self.stores[index]
            .get_range(&name, 0..HEADER_LEN as u64)
            .ok()?;
        let header_bytes: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        let header = ShardHeader::from_bytes(header_bytes, &PathBuf::from(&name)).ok()?;
        let expected = self.header(index, id, header.blob_len, header.blob_checksum);
        (header == expected).then_some(header)
    }

    /// [`ObjectBlobStore::get_range`] from the data shards alone: `None`
    /// when a header, block or CRC it needs is missing or bad.
    fn get_range_direct(&self, id: BlobId, offset: u64, len: u64) -> Result<Option<Bytes>> {
        let k = self.options.data_shards;
        let Some(first) = (0..self.stores.len()).find_map(|i| self.header_of(i, id)) else {
            // No shard could be read directly: let `get` say why.
            return Ok(None);
        };
        let blob_len = first.blob_len;
        let end = match offset.checked_add(len) {
            Some(end) if end <= blob_len => end,
            _ => {
                return Err(Error::RangeOutOfBounds {
                    blob: id,
                    offset,
                    len,
                    blob_len,
                });
            }
        };
        let geometry = Geometry {
            data_shards: k as u64,
            stripe_size: self.options.stripe_size_bytes,
            blob_len,
        };
        let total = self.stores.len();
        let expect = (blob_len, first.blob_checksum);
        let mut checked: Vec<bool> = vec![false; total];
        let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        let mut at = offset;
        while at < end {
            let s = at / geometry.stripe_size;
            let chunk_len = geometry.chunk_len(s);
            let in_stripe = at - s * geometry.stripe_size;
            let j = in_stripe / chunk_len;
            let lo = in_stripe - j * chunk_len;
            // Past the stripe's data, the last chunk holds padding.
            let chunk_data_len = chunk_len.min(geometry.stripe_data_len(s) - j * chunk_len);
            let hi = (lo + (end - at)).min(chunk_data_len);
            let j_index = usize::try_from(j).unwrap_or(usize::MAX);
            if j_index >= k {
                return Ok(None);
            }
            let base = geometry.chunk_offset(s);
            let blocks = (lo / CRC_BLOCK_BYTES, (hi - 1) / CRC_BLOCK_BYTES);
            let start = blocks.0 * CRC_BLOCK_BYTES;
            let data = match self.read_blocks(
                j_index,
                id,
                base,
                chunk_len,
                blocks,
                expect,
                &mut checked,
            ) {
                Some(data) => data,
                None => {
                    // Rebuild those blocks from the same blocks of any k
                    // other shards: Reed-Solomon works byte position by
                    // byte position, so the rest of the stripe is not needed.
                    let mut pieces: Vec<Option<Vec<u8>>> = vec![None; total];
                    let mut good = 0;
                    for i in (0..total).filter(|&i| i != j_index) {
                        if good == k {
                            break;
                        }
                        pieces[i] = self
                            .read_blocks(i, id, base, chunk_len, blocks, expect, &mut checked)
                            .map(|b| b.to_vec());
                        good += usize::from(pieces[i].is_some());
                    }
                    if good < k
                        || self
                            .codec
                            .reconstruct_chunks(&mut pieces, geometry.stripe_data_len(s), true)
                            .is_err()
                    {
                        return Ok(None);
                    }
                    match pieces[j_index].take() {
                        Some(p) => Bytes::from(p),
                        None => return Ok(None),
                    }
                }
            };
            // `lo - start` and `hi - start` are within the blocks read.
            let Some(bytes) = data.get((lo - start) as usize..(hi - start) as usize) else {
                return Ok(None);
            };
            out.extend_from_slice(bytes);
            at += hi - lo;
        }
        Ok(Some(Bytes::from(out)))
    }

    /// Blocks `blocks.0..=blocks.1` of shard `index`'s part of the stripe
    /// whose regions start at `base` (`chunk_len` bytes each), read with
    /// two ranged gets and checked against their CRCs; the shard's header
    /// is checked against `expect` (length, checksum) once per call of
    /// `get_range` (`checked`). `None` if anything is missing or bad.
    #[allow(clippy::too_many_arguments)]
    fn read_blocks(
        &self,
        index: usize,
        id: BlobId,
        base: u64,
        chunk_len: u64,
        blocks: (u64, u64),
        expect: (u64, u64),
        checked: &mut [bool],
    ) -> Option<Bytes> {
        if !checked[index] {
            let h = self.header_of(index, id)?;
            if (h.blob_len, h.blob_checksum) != expect {
                return None;
            }
            checked[index] = true;
        }
        let (first_block, last_block) = blocks;
        let start = first_block * CRC_BLOCK_BYTES;
        let stop = ((last_block + 1) * CRC_BLOCK_BYTES).min(chunk_len);
        let name = shard_name(id);
        let store = &self.stores[index];
        let data = store.get_range(&name, base + start..base + stop).ok()?;
        let crc_at = base + chunk_len + first_block * CHUNK_CRC_LEN;
        let crc_end = crc_at + (last_block - first_block + 1) * CHUNK_CRC_LEN;
        let crcs = store.get_range(&name, crc_at..crc_end).ok()?;
        blocks_match(&data, &crcs).then_some(data)
    }

    /// Deletes every shard of the blob.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if it is not listed; [`Error::Object`] if a store
    /// failed to delete its shard (the call can be repeated).
    pub fn delete(&self, id: BlobId) -> Result<()> {
        let name = shard_name(id);
        let present = each(&self.stores, |_, store| store.head(&name).is_ok());
        if present.iter().all(|p| !p) {
            return Err(Error::NotFound { blob: id });
        }
        for result in each(&self.stores, |_, store| store.delete(&name)) {
            result?;
        }
        Ok(())
    }

    /// Reads every shard of the blob and says which are healthy.
    ///
    /// # Errors
    ///
    /// As [`ObjectBlobStore::get`].
    pub fn stat(&self, id: BlobId) -> Result<BlobStat> {
        let ((shards, geometry, checksum), why) = self.read_shards_why(id)?;
        let (_, healthy) = self.decode(id, &shards, &geometry, checksum)?;
        let name = shard_name(id);
        let mut damage = Vec::new();
        for (i, ok) in healthy.iter().enumerate() {
            if *ok {
                continue;
            }
            let (offset, what) = match (&why[i], &shards[i]) {
                (Some(why), _) => (None, why.clone()),
                (None, Some(shard)) => {
                    let s = (0..geometry.stripes())
                        .find(|&s| Self::chunk(shard, &geometry, s).is_none())
                        .unwrap_or(0);
                    (
                        Some(geometry.chunk_offset(s)),
                        format!("stripe {s} short or failing its CRC"),
                    )
                }
                (None, None) => (None, "missing".to_owned()),
            };
            damage.push(ShardDamage {
                shard: i,
                location: self.stores[i].location(),
                object: name.clone(),
                offset,
                what,
            });
        }
        Ok(BlobStat {
            id,
            len: geometry.blob_len,
            layout: self.options,
            stripes: geometry.stripes(),
            healthy,
            damage,
        })
    }

    /// Rewrites every missing or rotten shard of the blob from the others,
    /// after checking the rebuilt blob's checksum; returns how many.
    ///
    /// # Errors
    ///
    /// As [`ObjectBlobStore::get`]; [`Error::Object`] if a store refuses
    /// the rewritten shard.
    pub fn repair(&self, id: BlobId) -> Result<usize> {
        let (shards, geometry, checksum) = self.read_shards(id)?;
        let (blob, healthy) = self.decode(id, &shards, &geometry, checksum)?;
        if healthy.iter().all(|&h| h) {
            return Ok(0);
        }
        let rebuilt = self.encode(id, &blob)?;
        let name = shard_name(id);
        let mut repaired = 0;
        for (i, ok) in healthy.iter().enumerate() {
            if !ok {
                self.stores[i].put(&name, Bytes::from(rebuilt[i].clone()), PutMode::Overwrite)?;
                repaired += 1;
            }
        }
        Ok(repaired)
    }

    /// Checks every shard of every listed blob and repairs what it can.
    ///
    /// # Errors
    ///
    /// [`Error::Object`] if listing fails or a store refuses a rewritten
    /// shard; a blob that cannot be rebuilt is reported in
    /// [`ScrubReport::blobs_lost`], not an error.
    pub fn scrub(&self) -> Result<ScrubReport> {
        let mut report = ScrubReport::default();
        for id in self.list()? {
            report.blobs_checked += 1;
            match self.repair(id) {
                Ok(n) => report.shards_repaired += n as u64,
                Err(Error::Unrecoverable { .. } | Error::BlobChecksum { .. }) => {
                    report.blobs_lost.push(id);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}
