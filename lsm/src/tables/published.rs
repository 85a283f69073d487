//! The manifest published on the table store, for readers elsewhere
//! ([`Reader`](crate::Reader)) and for writer fencing.
//!
//! With [`Options::publish_manifest`](crate::Options::publish_manifest) a
//! writer uploads, after every durable manifest edit, the state readers
//! need (the tables of each level with their sizes, the last sequence
//! number, and the blob files those tables point into with each table's
//! references) as a new object `manifest/NNNNNNNNNNNNNNNNNNNN` (20 decimal
//! digits), created with `PutMode::Create` (`If-None-Match: *`). Numbers
//! only grow, so two writers can never both publish the same one: a
//! writer opening claims the next number with an epoch one above the
//! last, and a writer whose next publication finds its number taken has
//! been fenced ([`Error::Fenced`]) and stops; every durable point checks
//! for that number ([`check_fence`]). The newest published manifest is
//! authoritative: a writer without local state takes over from it, and a
//! directory another writer superseded is refused. Layout and protocol in
//! `FORMAT.md`, "Published manifest".

use std::collections::{HashSet, VecDeque};
use std::path::Path;

use bytes::Bytes;

use erasure::BlobId;

use crate::blob::{BlobFiles, BlobMeta, BlobUse};
use crate::key::SEQNO_MAX;
use crate::manifest::{FILE_NUMBER_MAX, FileNumber};
use crate::tables::RemoteIo;
use crate::version::{NUM_LEVELS, Version};
use crate::{Error, Result};

/// The prefix of every published manifest's name.
pub(crate) const PREFIX: &str = "manifest/";
/// Published manifests kept behind the newest (older ones are deleted):
/// a reader that opened one of them still finds it, and the tables it
/// names, which the writer keeps as long as one of these names them.
const KEEP: u64 = 4;

/// Magic of a published manifest ("lsm-pub\0").
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"lsm-pub\0");
/// Its format version: 2 adds the blob section (version 1, without it,
/// still reads, as naming no blob file).
pub(crate) const VERSION: u32 = 2;
/// The oldest format version read.
const VERSION_MIN: u32 = 1;
const VERSION_OFFSET: usize = 8;
const EPOCH_OFFSET: usize = VERSION_OFFSET + 4;
const LAST_SEQ_OFFSET: usize = EPOCH_OFFSET + 8;
const COUNT_OFFSET: usize = LAST_SEQ_OFFSET + 8;
/// Bytes before the table entries.
const HEADER_BYTES: usize = COUNT_OFFSET + 4;
const _: () = assert!(HEADER_BYTES == 32);
/// Bytes of one table entry: level (1), number (8), size (8).
const ENTRY_BYTES: usize = 17;
/// Bytes of one blob file entry: id (8), values (8), bytes (8).
const BLOB_BYTES: usize = 24;
/// Bytes of one table's references into one blob file: table (8), blob
/// (8), values (8), bytes (8).
const USE_BYTES: usize = 32;
/// Bytes of the CRC at the end.
const CRC_BYTES: usize = 4;
/// The largest epoch and manifest number read back: far beyond any real
/// count, so the next one never overflows.
pub(crate) const NUMBER_MAX: u64 = (1 << 62) - 1;

/// The name of published manifest `n`.
pub(crate) fn name(n: u64) -> String {
    format!("{PREFIX}{n:020}")
}

/// What a published manifest holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Published {
    /// The epoch of the writer that published it.
    pub(crate) epoch: u64,
    pub(crate) last_seq: u64,
    /// `(level, table, size in bytes)`.
    pub(crate) tables: Vec<(u8, FileNumber, u64)>,
    /// The blob files the tables reference, as the manifest records them,
    /// by id.
    pub(crate) blob_files: Vec<BlobMeta>,
    /// Each table's references into each blob file, by table then blob.
    pub(crate) table_blobs: Vec<(FileNumber, BlobUse)>,
}

impl Published {
    /// The state of `v` as of `last_seq`, published by `epoch`: its
    /// tables, and of `blobs` the references of those tables and the blob
    /// files they point into (blob files only obsolete tables reference
    /// are left out).
    pub(crate) fn of(v: &Version, blobs: &BlobFiles, last_seq: u64, epoch: u64) -> Published {
        let mut tables = Vec::new();
        let mut table_blobs = Vec::new();
        for (level, ts) in v.levels.iter().enumerate() {
            for t in ts {
                // A level is below NUM_LEVELS (7): it fits a byte.
                tables.push((level as u8, t.number, t.size_bytes()));
                for u in blobs.tables.get(&t.number).into_iter().flatten() {
                    table_blobs.push((t.number, *u));
                }
            }
        }
        table_blobs.sort_unstable_by_key(|(n, u)| (*n, u.blob));
        let used: HashSet<BlobId> = table_blobs.iter().map(|(_, u)| u.blob).collect();
        let blob_files = blobs
            .files
            .values()
            .filter(|m| used.contains(&m.blob))
            .copied()
            .collect();
        Published {
            epoch,
            last_seq,
            tables,
            blob_files,
            table_blobs,
        }
    }

    /// Whether `self` and `other` publish the same tables as of the same
    /// sequence number by the same epoch (the blob section follows from
    /// the tables; a version 1 manifest has none).
    pub(crate) fn same_state(&self, other: &Published) -> bool {
        (self.epoch, self.last_seq, &self.tables) == (other.epoch, other.last_seq, &other.tables)
    }

    /// The blob accounting the manifest publishes: the blob files and the
    /// references of its tables, as a writer taking over records them.
    pub(crate) fn blob_accounting(&self) -> BlobFiles {
        let mut b = BlobFiles::default();
        for m in &self.blob_files {
            b.files.insert(m.blob, *m);
        }
        for (n, u) in &self.table_blobs {
            b.tables.entry(*n).or_default().push(*u);
        }
        b
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_BYTES + self.tables.len() * ENTRY_BYTES + CRC_BYTES);
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&self.epoch.to_le_bytes());
        b.extend_from_slice(&self.last_seq.to_le_bytes());
        let count = u32::try_from(self.tables.len()).unwrap_or(u32::MAX);
        b.extend_from_slice(&count.to_le_bytes());
        for &(level, n, size) in &self.tables {
            b.push(level);
            b.extend_from_slice(&n.0.to_le_bytes());
            b.extend_from_slice(&size.to_le_bytes());
        }
        let count = u32::try_from(self.blob_files.len()).unwrap_or(u32::MAX);
        b.extend_from_slice(&count.to_le_bytes());
        for m in &self.blob_files {
            b.extend_from_slice(&m.blob.0.to_le_bytes());
            b.extend_from_slice(&m.values.to_le_bytes());
            b.extend_from_slice(&m.bytes.to_le_bytes());
        }
        let count = u32::try_from(self.table_blobs.len()).unwrap_or(u32::MAX);
        b.extend_from_slice(&count.to_le_bytes());
        for (n, u) in &self.table_blobs {
            b.extend_from_slice(&n.0.to_le_bytes());
            b.extend_from_slice(&u.blob.0.to_le_bytes());
            b.extend_from_slice(&u.values.to_le_bytes());
            b.extend_from_slice(&u.bytes.to_le_bytes());
        }
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes the published manifest `b` (object `path`), checking its
    /// CRC and range-checking every number.
    pub(crate) fn decode(b: &[u8], path: &Path) -> Result<Published> {
        let bad = |offset: usize, what, expected: u64, found: u64| {
            Error::corruption(path, offset as u64, what, expected, found)
        };
        let min = HEADER_BYTES + CRC_BYTES;
        if b.len() < min {
            return Err(bad(
                0,
                "published manifest too short",
                min as u64,
                b.len() as u64,
            ));
        }
        let u64_at = |p: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[p..p + 8]);
            u64::from_le_bytes(x)
        };
        let u32_at = |p: usize| {
            let mut x = [0u8; 4];
            x.copy_from_slice(&b[p..p + 4]);
            u32::from_le_bytes(x)
        };
        let crc_at = b.len() - CRC_BYTES;
        let (stored, found) = (u32_at(crc_at), crc32fast::hash(&b[..crc_at]));
        if stored != found {
            return Err(bad(
                crc_at,
                "published manifest checksum",
                u64::from(stored),
                u64::from(found),
            ));
        }
        if u64_at(0) != MAGIC {
            return Err(bad(0, "published manifest magic", MAGIC, u64_at(0)));
        }
        let version = u32_at(VERSION_OFFSET);
        if !(VERSION_MIN..=VERSION).contains(&version) {
            return Err(bad(
                VERSION_OFFSET,
                "published manifest version",
                u64::from(VERSION),
                u64::from(version),
            ));
        }
        let last_seq = u64_at(LAST_SEQ_OFFSET);
        if last_seq > SEQNO_MAX {
            return Err(bad(
                LAST_SEQ_OFFSET,
                "published manifest sequence number out of range",
                SEQNO_MAX,
                last_seq,
            ));
        }
        let epoch = u64_at(EPOCH_OFFSET);
        if epoch > NUMBER_MAX {
            return Err(bad(
                EPOCH_OFFSET,
                "published manifest epoch out of range",
                NUMBER_MAX,
                epoch,
            ));
        }
        let count = u32_at(COUNT_OFFSET) as usize;
        let body = crc_at - HEADER_BYTES;
        let fits = count
            .checked_mul(ENTRY_BYTES)
            .is_some_and(|t| if version == 1 { t == body } else { t <= body });
        if !fits {
            return Err(bad(
                COUNT_OFFSET,
                "published manifest table count (expected: the entries' bytes / 17)",
                (body / ENTRY_BYTES) as u64,
                count as u64,
            ));
        }
        let mut tables = Vec::with_capacity(count);
        for i in 0..count {
            let at = HEADER_BYTES + i * ENTRY_BYTES;
            let level = b[at];
            if usize::from(level) >= NUM_LEVELS {
                return Err(bad(
                    at,
                    "published manifest level out of range",
                    NUM_LEVELS as u64 - 1,
                    u64::from(level),
                ));
            }
            let n = u64_at(at + 1);
            if n > FILE_NUMBER_MAX {
                return Err(bad(
                    at,
                    "published manifest file number out of range",
                    FILE_NUMBER_MAX,
                    n,
                ));
            }
            tables.push((level, FileNumber(n), u64_at(at + 9)));
        }
        let (blob_files, table_blobs) = if version == 1 {
            (Vec::new(), Vec::new())
        } else {
            decode_blobs(b, HEADER_BYTES + count * ENTRY_BYTES, crc_at, &bad)?
        };
        Ok(Published {
            epoch,
            last_seq,
            tables,
            blob_files,
            table_blobs,
        })
    }
}

/// A blob id read back: at most the largest file number (blob ids are
/// file numbers).
fn blob_id_at(
    b: &[u8],
    at: usize,
    bad: &impl Fn(usize, &'static str, u64, u64) -> Error,
) -> Result<BlobId> {
    let id = u64_at(b, at);
    if id > FILE_NUMBER_MAX {
        return Err(bad(
            at,
            "published manifest blob id out of range",
            FILE_NUMBER_MAX,
            id,
        ));
    }
    Ok(BlobId(id))
}

fn u64_at(b: &[u8], p: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[p..p + 8]);
    u64::from_le_bytes(x)
}

/// A published manifest's blob section: its blob files, and each table's
/// references into them.
type BlobSection = (Vec<BlobMeta>, Vec<(FileNumber, BlobUse)>);

/// The blob section of a version 2 manifest `b`, from `at` to the CRC at
/// `end`: the blob files, then the tables' references, each count
/// checked against the bytes there are.
fn decode_blobs(
    b: &[u8],
    mut at: usize,
    end: usize,
    bad: &impl Fn(usize, &'static str, u64, u64) -> Error,
) -> Result<BlobSection> {
    let count_at = |at: usize, what, entry: usize| -> Result<usize> {
        if end - at < 4 {
            return Err(bad(at, what, 4, (end - at) as u64));
        }
        let mut x = [0u8; 4];
        x.copy_from_slice(&b[at..at + 4]);
        let n = u32::from_le_bytes(x) as usize;
        let room = (end - at - 4) / entry;
        if n > room {
            return Err(bad(at, what, room as u64, n as u64));
        }
        Ok(n)
    };
    let n = count_at(at, "published manifest blob file count", BLOB_BYTES)?;
    at += 4;
    let mut files = Vec::with_capacity(n);
    for _ in 0..n {
        files.push(BlobMeta {
            blob: blob_id_at(b, at, bad)?,
            values: u64_at(b, at + 8),
            bytes: u64_at(b, at + 16),
        });
        at += BLOB_BYTES;
    }
    let n = count_at(at, "published manifest blob reference count", USE_BYTES)?;
    at += 4;
    let mut uses = Vec::with_capacity(n);
    for _ in 0..n {
        let table = u64_at(b, at);
        if table > FILE_NUMBER_MAX {
            return Err(bad(
                at,
                "published manifest file number out of range",
                FILE_NUMBER_MAX,
                table,
            ));
        }
        let blob = blob_id_at(b, at + 8, bad)?;
        if !files.iter().any(|m: &BlobMeta| m.blob == blob) {
            return Err(bad(
                at + 8,
                "published manifest reference to a blob file it does not name",
                0,
                blob.0,
            ));
        }
        uses.push((
            FileNumber(table),
            BlobUse {
                blob,
                values: u64_at(b, at + 16),
                bytes: u64_at(b, at + 24),
            },
        ));
        at += USE_BYTES;
    }
    if at != end {
        return Err(bad(
            at,
            "published manifest length (expected: ends after the blob references)",
            end as u64,
            at as u64,
        ));
    }
    Ok((files, uses))
}

/// The newest published manifest in the store: its number and contents.
///
/// # Errors
///
/// A failed request; [`Error::Corruption`] naming the object if it fails
/// its checks.
pub(crate) fn latest(io: &RemoteIo) -> Result<Option<(u64, Published)>> {
    let newest = io
        .list(PREFIX)?
        .iter()
        .filter_map(|m| m.name.strip_prefix(PREFIX)?.parse::<u64>().ok())
        .filter(|&n| n <= NUMBER_MAX)
        .max();
    let Some(n) = newest else {
        return Ok(None);
    };
    let bytes = io.get(&name(n))?;
    Ok(Some((n, Published::decode(&bytes, &io.path_of(&name(n)))?)))
}

/// A writer's claim on the published manifest: the next number it may
/// create, and its epoch.
#[derive(Debug)]
pub(crate) struct Publisher {
    next: u64,
    epoch: u64,
    /// The tables of the newest `KEEP + 1` publications, newest last.
    recent: VecDeque<HashSet<FileNumber>>,
    /// Whether the claim won: from then on a manifest with this epoch is
    /// this writer's own.
    claimed: bool,
}

/// What [`Publisher::claim`] came to.
#[derive(Debug)]
pub(crate) enum Claim {
    /// The store is this writer's.
    Won(Publisher),
    /// Another writer created the number first: the store moved on after
    /// the open read it (the fenced-out writer's own flush or compaction
    /// published, or another writer opened). The open recovers again from
    /// the newer manifest and claims the number after it.
    Lost {
        /// The manifest number taken.
        number: u64,
    },
}

impl Publisher {
    /// Claims the store for a writer whose state is `v` as of `last_seq`:
    /// publishes it under the number after `latest` (the newest published
    /// manifest, as the open found it), with an epoch above that
    /// manifest's and above `local_epoch` (the last this writer recorded).
    ///
    /// # Errors
    ///
    /// A failed request. A number another writer created first is no
    /// error: [`Claim::Lost`].
    pub(crate) fn claim(
        io: &RemoteIo,
        latest: Option<&(u64, Published)>,
        local_epoch: u64,
        v: &Version,
        blobs: &BlobFiles,
        last_seq: u64,
    ) -> Result<Claim> {
        let (next, epoch) = match latest {
            Some((n, p)) => (n + 1, p.epoch.max(local_epoch) + 1),
            None => (1, local_epoch + 1),
        };
        let mut p = Publisher {
            next,
            epoch,
            recent: VecDeque::new(),
            claimed: false,
        };
        io.set_epoch(epoch);
        match p.publish(io, v, blobs, last_seq) {
            Ok(()) => Ok(Claim::Won(p)),
            Err(Error::Fenced { .. }) => Ok(Claim::Lost { number: next }),
            Err(e) => Err(e),
        }
    }

    /// This writer's epoch.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Publishes `v` as of `last_seq` under the next number, and deletes
    /// the published manifests more than [`KEEP`] behind it (best effort).
    /// A number taken by this writer's own earlier publication (its create
    /// landed, its answer was lost and reading it back failed) is moved
    /// past, not taken for a fence.
    ///
    /// # Errors
    ///
    /// [`Error::Fenced`] if the number is taken: another writer claimed
    /// the store; a failed request.
    pub(crate) fn publish(
        &mut self,
        io: &RemoteIo,
        v: &Version,
        blobs: &BlobFiles,
        last_seq: u64,
    ) -> Result<()> {
        let published = Published::of(v, blobs, last_seq, self.epoch);
        let body = Bytes::from(published.encode());
        // Bounded: each round moves past one manifest this writer itself
        // published with its answer lost (one per failed publication).
        let mut rounds = 0;
        let n = loop {
            let n = self.next;
            let reason = match io.create(&name(n), body.clone()) {
                Ok(()) => break n,
                Err(Error::TableStore {
                    source: objstore::Error::Precondition { reason, .. },
                    ..
                }) => reason,
                Err(e) => return Err(e),
            };
            rounds += 1;
            match self.own_earlier(io, n)? {
                Some(tables) if rounds <= KEEP => {
                    // An earlier publication of this writer whose create
                    // landed though its answer was lost (and reading it
                    // back failed too): it holds an older state of this
                    // writer, which readers may open. Keep its tables for
                    // them and publish the current state after it.
                    self.remember(io, tables, n);
                }
                _ => {
                    return Err(Error::Fenced {
                        location: io.location().to_string(),
                        epoch: self.epoch,
                        reason: format!(
                            "manifest {} was created by another writer ({reason})",
                            name(n)
                        ),
                    });
                }
            }
        };
        self.remember(io, published.tables.iter().map(|t| t.1).collect(), n);
        Ok(())
    }

    /// The tables of manifest `n`, found taken, if this writer published
    /// it: it has this writer's epoch, and this writer's claim won (epochs
    /// of claims that won are unique; a rival claiming the same number may
    /// have computed the same epoch).
    fn own_earlier(&self, io: &RemoteIo, n: u64) -> Result<Option<HashSet<FileNumber>>> {
        if !self.claimed {
            return Ok(None);
        }
        let p = Published::decode(&io.get(&name(n))?, &io.path_of(&name(n)))?;
        Ok((p.epoch == self.epoch).then(|| p.tables.iter().map(|t| t.1).collect()))
    }

    /// Records publication `n` naming `tables` as done: the next number
    /// follows it, its tables are held, and the publication [`KEEP`] + 1
    /// behind it is deleted (best effort).
    fn remember(&mut self, io: &RemoteIo, tables: HashSet<FileNumber>, n: u64) {
        self.claimed = true;
        self.next = n + 1;
        io.set_fence_next(self.next);
        self.recent.push_back(tables);
        while self.recent.len() as u64 > KEEP + 1 {
            self.recent.pop_front();
        }
        if let Some(old) = n.checked_sub(KEEP + 1).filter(|&o| o > 0) {
            let _ = io.delete(&name(old));
        }
    }

    /// Every table a kept publication names: a reader may still read it,
    /// so the writer keeps it even once its own versions dropped it.
    pub(crate) fn held(&self) -> HashSet<FileNumber> {
        self.recent.iter().flatten().copied().collect()
    }
}

/// The error for a writer of epoch `local_epoch` whose directory is
/// behind the store: published manifest `n` is `p`, from a later writer.
pub(crate) fn superseded(io: &RemoteIo, local_epoch: u64, n: u64, p: &Published) -> Error {
    Error::Fenced {
        location: io.location().to_string(),
        epoch: local_epoch,
        reason: format!(
            "the store's newest manifest {} is from the writer of epoch {}, \
             which took over after this directory's writer",
            name(n),
            p.epoch
        ),
    }
}

/// Claims an open makes before it gives up: each lost claim means the
/// store moved on while the open recovered, which a fenced-out writer's
/// background work does a few times at most (it stops at its next
/// publication); more is writers opening over and over at once.
pub(crate) const CLAIM_ATTEMPTS_MAX: u32 = 32;

/// The error for an open that lost [`CLAIM_ATTEMPTS_MAX`] claims in a row,
/// the last for manifest `number`, as a writer of epoch `epoch`.
pub(crate) fn contended(io: &RemoteIo, epoch: u64, number: u64) -> Error {
    Error::Fenced {
        location: io.location().to_string(),
        epoch,
        reason: format!(
            "gave up claiming the store after {CLAIM_ATTEMPTS_MAX} attempts: \
             other writers kept publishing first (contention), the last \
             manifest lost being {}",
            name(number)
        ),
    }
}

/// Whether the writer `io` belongs to still owns the store: `Ok` if the
/// next manifest it will publish is not there (one HEAD request), or is
/// there only because this writer published it meanwhile.
///
/// A writer that claimed the store after this one created that number
/// (with its higher epoch) before the check began, so a write
/// acknowledged after a `check_fence` that returned `Ok` was acknowledged
/// before any other writer opened.
///
/// # Errors
///
/// [`Error::Fenced`] if another writer published it; a failed request;
/// [`Error::Corruption`] if the manifest found fails its checks.
pub(crate) fn check_fence(io: &RemoteIo) -> Result<()> {
    let mut n = io.fence_next();
    if n == 0 {
        return Ok(());
    }
    let epoch = io.epoch();
    // Bounded: each round moves past one manifest this writer published
    // (at most those it published while the check ran).
    while io.size(&name(n))?.is_some() {
        let p = Published::decode(&io.get(&name(n))?, &io.path_of(&name(n)))?;
        if p.epoch != epoch {
            return Err(Error::Fenced {
                location: io.location().to_string(),
                epoch,
                reason: format!(
                    "manifest {} was published by the writer of epoch {}",
                    name(n),
                    p.epoch
                ),
            });
        }
        n += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_manifest_round_trips_and_refuses_damage() {
        let p = Published {
            epoch: 3,
            last_seq: 99,
            tables: vec![(0, FileNumber(12), 4096), (6, FileNumber(7), 1 << 20)],
            blob_files: vec![BlobMeta {
                blob: BlobId(5),
                values: 10,
                bytes: 40_000,
            }],
            table_blobs: vec![(
                FileNumber(12),
                BlobUse {
                    blob: BlobId(5),
                    values: 4,
                    bytes: 16_000,
                },
            )],
        };
        let b = p.encode();
        assert_eq!(b.len(), 32 + 2 * 17 + 4 + 24 + 4 + 32 + 4);
        assert_eq!(&b[..8], b"lsm-pub\0");
        assert_eq!(Published::decode(&b, Path::new("m")).expect("decode"), p);
        for i in [0, 9, 20, 40, 70, 80, 110, b.len() - 1] {
            let mut d = b.clone();
            d[i] ^= 1;
            assert!(matches!(
                Published::decode(&d, Path::new("m")),
                Err(Error::Corruption { .. })
            ));
        }
        assert!(Published::decode(&b[..10], Path::new("m")).is_err());
    }

    /// A count past the bytes there are is refused even with a good CRC.
    #[test]
    fn blob_counts_are_range_checked() {
        let p = Published {
            epoch: 1,
            last_seq: 1,
            ..Published::default()
        };
        let mut b = p.encode();
        b.truncate(b.len() - CRC_BYTES);
        b[HEADER_BYTES..HEADER_BYTES + 4].copy_from_slice(&7u32.to_le_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            Published::decode(&b, Path::new("m")),
            Err(Error::Corruption { .. })
        ));
    }

    /// A version 1 manifest (no blob section) still reads, naming no blob
    /// file.
    #[test]
    fn a_version_1_manifest_still_reads() {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&9u64.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.push(1);
        b.extend_from_slice(&3u64.to_le_bytes());
        b.extend_from_slice(&100u64.to_le_bytes());
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        let p = Published::decode(&b, Path::new("m")).expect("decode");
        assert_eq!(
            p,
            Published {
                epoch: 2,
                last_seq: 9,
                tables: vec![(1, FileNumber(3), 100)],
                ..Published::default()
            }
        );
    }
}
