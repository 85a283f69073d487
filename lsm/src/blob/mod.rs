//! Key-value separation: values of at least `Options::blob_threshold_bytes` bytes
//! leave the tree at flush time. All the large values of one flush go to one
//! blob (a "blob file") in the erasure-coded blob store ([`Blobs`]: shard
//! files in local directories, or shard objects in object stores); the
//! table stores a [`BlobRef`] under [`ValueKind::BlobRef`] instead.
//!
//! Garbage collection: the manifest records every blob file (values and
//! bytes written) and, per table, the blob bytes it references, so the live
//! bytes of a blob are a sum over the live tables ([`BlobFiles`]). A
//! compaction copies the live values of blobs past `Options::blob_gc_ratio`
//! garbage into new blobs ([`Separator`]); a blob file that no table file on
//! disk references is dropped from the manifest, then deleted.
//!
//! A reference is 32 bytes: `blob id u64 | offset u64 | length u64 |
//! xxh3-64 of the value u64`, little-endian. Reading a value reads only its
//! byte range from the data shards (`BlobStore::get_range`).
//!
//! One file per idea:
//!
//! - `reference.rs`: the 32-byte reference format ([`BlobRef`]).
//! - `resolve.rs`: reading a value through its reference ([`resolve`]).
//! - `separator.rs`: writing values into new blobs at flush and
//!   compaction ([`Separator`]).
//! - `accounting.rs`: blob files and the references tables hold into them,
//!   and the live bytes per blob ([`BlobFiles`]).
//! - `store.rs`: where blob files live, local directories or object
//!   stores ([`Blobs`]).
//! - `gc.rs`: which blob files a compaction collects
//!   ([`BlobFiles::to_collect`]).

mod accounting;
mod gc;
mod reference;
mod resolve;
mod separator;
mod store;

pub(crate) use accounting::{BlobFiles, BlobMeta, BlobUse, Live, RefCounter};
pub(crate) use reference::{BLOB_REF_LEN, BlobRef};
pub(crate) use resolve::resolve;
pub(crate) use separator::Separator;
pub(crate) use store::Blobs;
