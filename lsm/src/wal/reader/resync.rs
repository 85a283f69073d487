//! After a bad fragment: resync at each later block boundary, gather what
//! the valid records after it say (durable markers, record starts), and
//! decide between damage and a torn tail.

use std::path::Path;

use bytes::Bytes;

use crate::wal::format::{BLOCK_SIZE_BYTES, FragmentType, HEADER_SIZE_BYTES, RecordKind};
use crate::wal::reader::fragment::{Bad, Parsed, marker_value, parse};
use crate::wal::reader::{LogContents, Predecessor};
use crate::{Error, Result};

/// What the records after a bad fragment at `bad_pos` say about it.
#[derive(Debug, Default)]
struct Evidence {
    /// The largest durable length a valid marker claims.
    durable_max: Option<u64>,
    /// Whether a valid `Full` or `First` data fragment was found.
    record_start: bool,
}

/// Reads on after the bad fragment at `bad`: first in its own block (right
/// after it when its length is sound, else from the first offset where
/// valid fragments run to the block's end), then from every later block
/// boundary, where `Middle`/`Last` fragments of a record begun earlier are
/// skipped. Each run reads records until the next bad fragment. Bounded:
/// every run moves forward through `data`.
fn evidence_after(data: &[u8], bad_pos: usize, bad: Bad, markers: bool) -> Evidence {
    let mut ev = Evidence::default();
    let block_end = (bad_pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    let in_block = bad
        .next
        .filter(|&p| runs_to_block_end(data, p, block_end, markers))
        .or_else(|| chain_start(data, bad_pos + 1, block_end, markers));
    let mut pos = match in_block {
        Some(p) => read_run(data, p, markers, &mut ev),
        None => bad_pos,
    };
    let mut block = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    while block < data.len() {
        pos = read_run(data, block, markers, &mut ev);
        block = (pos / BLOCK_SIZE_BYTES + 1) * BLOCK_SIZE_BYTES;
    }
    ev
}

/// The first offset in `from..block_end` from which valid fragments run
/// exactly to the end of the block (or of the file): where fragments
/// resume after one whose length field is damaged. A payload byte run that
/// happens to look like such a chain would need valid CRCs all the way.
fn chain_start(data: &[u8], from: usize, block_end: usize, markers: bool) -> Option<usize> {
    let end = data.len().min(block_end);
    (from..end.saturating_sub(HEADER_SIZE_BYTES - 1))
        .find(|&p| runs_to_block_end(data, p, block_end, markers))
}

/// Whether at least one valid fragment starts at `start` and valid
/// fragments run from it exactly to the end of its block (or of the file).
fn runs_to_block_end(data: &[u8], start: usize, block_end: usize, markers: bool) -> bool {
    let end = data.len().min(block_end);
    let mut pos = start;
    // Bounded: each valid fragment moves `pos` forward by at least its header.
    loop {
        if pos >= end || block_end - pos < HEADER_SIZE_BYTES {
            return pos > start;
        }
        match parse(data, pos, markers) {
            Parsed::Ok {
                payload_start,
                payload_len,
                ..
            } => pos = payload_start + payload_len,
            Parsed::Bad(_) => return false,
        }
    }
}

/// Reads fragments from `start` until a bad one or the end of `data`,
/// noting record starts and markers; returns where it stopped.
fn read_run(data: &[u8], start: usize, markers: bool, ev: &mut Evidence) -> usize {
    let mut pos = start;
    // The marker being reassembled, when one spans blocks.
    let mut marker: Option<Vec<u8>> = None;
    while pos < data.len() {
        let left = BLOCK_SIZE_BYTES - pos % BLOCK_SIZE_BYTES;
        if left < HEADER_SIZE_BYTES {
            pos += left;
            continue;
        }
        let Parsed::Ok {
            kind,
            ty,
            payload_start,
            payload_len,
        } = parse(data, pos, markers)
        else {
            break;
        };
        let payload = &data[payload_start..payload_start + payload_len];
        pos = payload_start + payload_len;
        match (kind, ty) {
            (RecordKind::Data, FragmentType::Full | FragmentType::First) => {
                ev.record_start = true;
                marker = None;
            }
            // A continuation: of a record read since the run began, or of
            // one begun before it (skipped).
            (RecordKind::Data, _) => {}
            (RecordKind::Durable, FragmentType::Full) => {
                note_marker(ev, payload);
                marker = None;
            }
            (RecordKind::Durable, FragmentType::First) => marker = Some(payload.to_vec()),
            (RecordKind::Durable, _) => {
                if let Some(m) = &mut marker {
                    m.extend_from_slice(payload);
                    if ty == FragmentType::Last {
                        note_marker(ev, m);
                        marker = None;
                    }
                }
            }
        }
    }
    pos
}

fn note_marker(ev: &mut Evidence, payload: &[u8]) {
    if let Some(v) = marker_value(payload) {
        ev.durable_max = ev.durable_max.max(Some(v));
    }
}

/// Decides what the bad fragment at `bad_pos` is: damage when a later
/// durable marker says it was synced (or, in a version-1 log, when a valid
/// record starts after it), else a torn tail starting at `torn_at`.
pub(super) fn bad_fragment(
    data: &[u8],
    path: &Path,
    bad_pos: usize,
    bad: Bad,
    markers: bool,
    torn_at: usize,
    (records, offsets, predecessor, durable_bytes): (Vec<Bytes>, Vec<u64>, Predecessor, u64),
) -> Result<LogContents> {
    let ev = evidence_after(data, bad_pos, bad, markers);
    let damaged = if markers {
        ev.durable_max.is_some_and(|d| d > bad_pos as u64)
    } else {
        ev.record_start
    };
    if damaged {
        return Err(Error::corruption(
            path,
            bad_pos as u64,
            bad.what,
            bad.expected,
            bad.found,
        ));
    }
    Ok(LogContents {
        records,
        offsets,
        torn_at: Some(torn_at as u64),
        len_bytes: data.len() as u64,
        predecessor,
        durable_bytes,
    })
}
