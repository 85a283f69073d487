//! Checking and healing: `stat`, `repair`, `scrub`.
//!
//! A repair rewrites each bad shard whole under `<id>.repair`, syncs it and
//! renames it over `<id>.shard`, so a crash leaves the old shard or the new
//! one; open removes a leftover `.repair`.

use vfs::{File, OpenMode};
use xxhash_rust::xxh3::Xxh3;

use crate::codec::join_data;
use crate::format::write_region;
use crate::manifest;
use crate::reader::OpenShards;
use crate::store::FileKind;
use crate::{BlobId, BlobStore, Error, Options, Result};

/// What [`BlobStore::stat`] finds out about a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobStat {
    /// The blob.
    pub id: BlobId,
    /// Its length in bytes.
    pub len: u64,
    /// The layout it is stored with.
    pub layout: Options,
    /// Its number of stripes.
    pub stripes: u64,
    /// Per shard index: whether the shard file is present, its header sound
    /// and every stripe's CRC holds.
    pub healthy: Vec<bool>,
    /// Where and what each unhealthy shard's damage is, in shard order.
    pub damage: Vec<ShardDamage>,
}

/// One damaged shard of a blob: which store or directory, which file or
/// object, which offset, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardDamage {
    /// The shard index.
    pub shard: usize,
    /// Where shard `shard` of every blob lives: its directory, or its
    /// object store's location (`s3://bucket/prefix`).
    pub location: String,
    /// The shard file's path, or the shard object's name in the store.
    pub object: String,
    /// Byte offset in it of the first stripe region that fails its CRC;
    /// `None` when the whole shard is missing, unreadable, or its header
    /// is bad or not this blob's.
    pub offset: Option<u64>,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for ShardDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shard {} in {}: {}",
            self.shard, self.location, self.object
        )?;
        if let Some(offset) = self.offset {
            write!(f, " at offset {offset}")?;
        }
        write!(f, ": {}", self.what)
    }
}

/// What [`BlobStore::scrub`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrubReport {
    /// Blobs whose every shard was read and checked.
    pub blobs_checked: u64,
    /// Shard files rewritten.
    pub shards_repaired: u64,
    /// Blobs with a stripe of fewer than `k` good shards (or a bad
    /// checksum): not repairable from what is left.
    pub blobs_lost: Vec<BlobId>,
}

impl BlobStore {
    /// Reads every shard of a blob and says which are healthy. Does not
    /// decode, so it works on a blob too damaged to read.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Unrecoverable`] if no shard header is
    /// left.
    pub fn stat(&self, id: BlobId) -> Result<BlobStat> {
        let shards = self.open_shards(id)?;
        let damage = self.damage(&shards);
        let mut healthy = vec![true; self.dirs.len()];
        for d in &damage {
            healthy[d.shard] = false;
        }
        Ok(BlobStat {
            id,
            len: shards.geometry.blob_len,
            layout: self.options,
            stripes: shards.geometry.stripes(),
            healthy,
            damage,
        })
    }

    /// Rewrites every missing or corrupt shard of a blob from the good ones
    /// and returns how many shard files it rewrote (0 if all were healthy).
    /// The rebuilt blob is checked against its checksum before any shard is
    /// replaced.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Unrecoverable`] if a stripe has fewer
    /// than `k` good shards; [`Error::BlobChecksum`]; [`Error::Io`].
    pub fn repair(&self, id: BlobId) -> Result<usize> {
        let _guard = self.lock_blob(id);
        let shards = self.open_shards(id)?;
        let bad: Vec<usize> = self
            .healthy(&shards)
            .iter()
            .enumerate()
            .filter(|(_, h)| !**h)
            .map(|(i, _)| i)
            .collect();
        if bad.is_empty() {
            return Ok(0);
        }
        let result = self.rewrite(&shards, &bad);
        // Cached handles may point at the replaced (or missing) files.
        self.handles.forget(id);
        if result.is_err() {
            for &i in &bad {
                let _ = self
                    .fs
                    .remove_file(&self.path(&self.dirs[i], id, FileKind::Repair));
            }
        }
        result.map(|()| bad.len())
    }

    /// Checks every shard of every blob, repairs what it can, and reports.
    /// A directory that vanished is recreated (with its manifest) and
    /// refilled.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a directory cannot be recreated or a repair cannot
    /// be written; a lost blob is reported, not an error.
    pub fn scrub(&self) -> Result<ScrubReport> {
        for (i, dir) in self.dirs.iter().enumerate() {
            if manifest::read(self.fs.as_ref(), dir)
                .ok()
                .flatten()
                .is_none()
            {
                crate::store::create_dir_durably(self.fs.as_ref(), dir)?;
                manifest::write(self.fs.as_ref(), dir, &self.manifest_for(i))?;
            }
        }
        let mut report = ScrubReport::default();
        for id in self.list() {
            match self.repair(id) {
                Ok(n) => {
                    report.blobs_checked += 1;
                    report.shards_repaired += n as u64;
                }
                Err(Error::NotFound { .. }) => {}
                Err(Error::Unrecoverable { .. } | Error::BlobChecksum { .. }) => {
                    report.blobs_checked += 1;
                    report.blobs_lost.push(id);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// The damage of each shard that is missing, has a bad header, or a
    /// stripe failing its CRC (the first such stripe).
    fn damage(&self, shards: &OpenShards) -> Vec<ShardDamage> {
        let g = shards.geometry;
        let mut out = Vec::new();
        for i in 0..shards.files.len() {
            let damage = |offset, what: String| ShardDamage {
                shard: i,
                location: self.dirs[i].display().to_string(),
                object: self.shard_path(i, shards.id).display().to_string(),
                offset,
                what,
            };
            if self.shard_file(shards, i).is_none() {
                out.push(damage(None, "missing, unreadable, or a bad header".into()));
                continue;
            }
            if let Some(s) = (0..g.stripes()).find(|&s| self.read_chunk(shards, i, s).is_none()) {
                out.push(damage(
                    Some(g.chunk_offset(s)),
                    format!("stripe {s} unreadable or failing its CRC"),
                ));
            }
        }
        out
    }

    /// Per shard: present, sound header, every stripe CRC good.
    fn healthy(&self, shards: &OpenShards) -> Vec<bool> {
        let mut healthy: Vec<bool> = (0..shards.files.len())
            .map(|i| self.shard_file(shards, i).is_some())
            .collect();
        for s in 0..shards.geometry.stripes() {
            for (i, h) in healthy.iter_mut().enumerate() {
                if *h && self.read_chunk(shards, i, s).is_none() {
                    *h = false;
                }
            }
        }
        healthy
    }

    /// Writes shards `bad` anew from every good chunk, then swaps them in.
    fn rewrite(&self, shards: &OpenShards, bad: &[usize]) -> Result<()> {
        let id = shards.id;
        let g = shards.geometry;
        let k = self.options.data_shards;
        let mut files: Vec<(usize, Box<dyn File>)> = Vec::with_capacity(bad.len());
        for &i in bad {
            let path = self.path(&self.dirs[i], id, FileKind::Repair);
            files.push((i, self.fs.open(&path, OpenMode::Truncate)?));
        }
        let mut hasher = Xxh3::new();
        let mut crcs = Vec::new();
        for s in 0..g.stripes() {
            let mut chunks: Vec<Option<Vec<u8>>> = (0..self.dirs.len())
                .map(|i| self.read_chunk(shards, i, s))
                .collect();
            let good = chunks.iter().filter(|c| c.is_some()).count();
            if good < k {
                return Err(Error::Unrecoverable {
                    blob: id,
                    stripe: s,
                    bad_shards: (0..chunks.len() as u16)
                        .filter(|&i| chunks[i as usize].is_none())
                        .collect(),
                    good,
                    needed: k,
                });
            }
            self.codec
                .reconstruct_chunks(&mut chunks, g.stripe_data_len(s), false)?;
            hasher.update(&join_data(&chunks, k, g.stripe_data_len(s))?);
            for (i, file) in &files {
                let Some(chunk) = &chunks[*i] else {
                    return Err(Error::InconsistentShards {
                        reason: format!("shard {i} of stripe {s} was not rebuilt"),
                    });
                };
                write_region(&**file, chunk, g.chunk_offset(s), &mut crcs)?;
            }
        }
        let found = hasher.digest();
        if found != shards.checksum {
            return Err(Error::BlobChecksum {
                blob: id,
                expected: shards.checksum,
                found,
            });
        }
        for (i, file) in &files {
            let header = self.header(*i, id, g.blob_len, shards.checksum);
            file.write_all_at(&header.to_bytes(), 0)?;
            file.sync_data()?;
        }
        drop(files);
        for &i in bad {
            let dir = &self.dirs[i];
            self.fs.rename(
                &self.path(dir, id, FileKind::Repair),
                &self.path(dir, id, FileKind::Shard),
            )?;
            self.fs.sync_dir(dir)?;
        }
        Ok(())
    }
}
