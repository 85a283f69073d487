//! Checking a file offered to [`Db::ingest`](crate::Db::ingest) before any
//! of it enters the database: the whole table read past the cache (every
//! block's checksum, keys ascending, the properties' count), and what a
//! [`TableWriter`](crate::TableWriter) promises on top: one entry per user
//! key, sequence number 0, inline values or tombstones, lengths within the
//! limits, and properties that agree with the entries.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::cache::BlockCache;
use crate::key::{InternalKey, ValueKind};
use crate::manifest::FileNumber;
use crate::sstable::reader::Table;
use crate::{Error, KEY_LEN_MAX, Result, VALUE_LEN_MAX};

/// A checked file offered for ingest. Not kept open: a mapped table
/// whose every page the check read would stay resident until the ingest
/// ends (1.3 GB for 10 M pairs); a rewrite opens it again.
#[derive(Debug)]
pub(crate) struct External {
    /// Where the caller's file is.
    pub(crate) path: PathBuf,
    pub(crate) entries: u64,
    pub(crate) smallest: Bytes,
    pub(crate) largest: Bytes,
}

/// Opens and checks the table at `path` fully.
///
/// # Errors
///
/// [`Error::Corruption`] naming `path` and the offset of the first bad
/// block, footer or entry; a failed read.
pub(crate) fn check(fs: &dyn vfs::Fs, path: &Path, cache: &Arc<BlockCache>) -> Result<External> {
    // The number only keys the block cache, which a check does not use.
    let table = Arc::new(Table::open(fs, path, FileNumber(0), Arc::clone(cache))?);
    let mut first: Option<Bytes> = None;
    let mut last: Option<Bytes> = None;
    let mut bad: Option<Error> = None;
    let report = table.check(&mut |offset, k: InternalKey, v: Bytes| {
        if bad.is_some() {
            return;
        }
        bad = entry_problem(path, offset, &k, &v, last.as_ref());
        if first.is_none() {
            first = Some(k.user.clone());
        }
        last = Some(k.user);
    });
    if let Some(e) = report.problems.into_iter().next().or(bad) {
        return Err(e);
    }
    let props = &table.props;
    let props_at = table.footer.properties.offset;
    if props.seq_max != 0 {
        return Err(Error::corruption(
            path,
            props_at,
            "ingested table's largest sequence number (a TableWriter writes 0)",
            0,
            props.seq_max,
        ));
    }
    let (Some(smallest), Some(largest)) = (first, last) else {
        return Ok(External {
            path: path.to_path_buf(),
            entries: 0,
            smallest: Bytes::new(),
            largest: Bytes::new(),
        });
    };
    let encoded = |k: &Bytes, kind| InternalKey::new(k.clone(), crate::key::SeqNo(0), kind);
    let first_ok = [ValueKind::Inline, ValueKind::Delete]
        .iter()
        .any(|&kind| encoded(&smallest, kind).encoded() == props.smallest);
    let last_ok = [ValueKind::Inline, ValueKind::Delete]
        .iter()
        .any(|&kind| encoded(&largest, kind).encoded() == props.largest);
    if !first_ok || !last_ok {
        return Err(Error::corruption(
            path,
            props_at,
            "ingested table's properties name other first or last keys (expected: the key lengths found)",
            smallest.len() as u64,
            largest.len() as u64,
        ));
    }
    Ok(External {
        path: path.to_path_buf(),
        entries: props.entries,
        smallest,
        largest,
    })
}

/// What is wrong with an entry at `offset` (its block) after the entry
/// whose user key is `prev`, beyond what the table's own checks cover.
fn entry_problem(
    path: &Path,
    offset: u64,
    k: &InternalKey,
    v: &Bytes,
    prev: Option<&Bytes>,
) -> Option<Error> {
    let bad = |what, expected: u64, found: u64| {
        Some(Error::corruption(path, offset, what, expected, found))
    };
    if k.seq.0 != 0 {
        return bad(
            "ingested entry's sequence number (a TableWriter writes 0)",
            0,
            k.seq.0,
        );
    }
    if !matches!(k.kind, ValueKind::Inline | ValueKind::Delete) {
        return bad(
            "ingested entry's kind (expected: an inline value)",
            ValueKind::Inline as u64,
            k.kind as u64,
        );
    }
    if k.user.len() > KEY_LEN_MAX {
        return bad(
            "ingested key's length",
            KEY_LEN_MAX as u64,
            k.user.len() as u64,
        );
    }
    if v.len() > VALUE_LEN_MAX {
        return bad(
            "ingested value's length",
            VALUE_LEN_MAX as u64,
            v.len() as u64,
        );
    }
    if prev.is_some_and(|p| *p == k.user) {
        return bad(
            "ingested table holds a key twice (expected: one entry per key; found: its length)",
            1,
            k.user.len() as u64,
        );
    }
    None
}
