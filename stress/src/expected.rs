//! The expected state, in a file of its own beside the database, so it
//! survives a SIGKILL of the process (the page cache keeps what `pwrite`
//! wrote; the soak kills processes, it does not cut the power).
//!
//! Header (64 bytes): magic `STRESSEX`, key count u32, mode u32 (1: sync
//! on), the next write id u64 (every id below it may have been used), the
//! sync mark u64 (every write with an id up to it was covered by a
//! completed `sync`). Then one 40-byte slot per key: five u64 fields,
//! `committed` (id of the last acknowledged write, 0 = absent), `pending`
//! (id of the write in flight, 0 = a delete), `deleted_at` (id of the last
//! acknowledged delete), `flags` (bit 0: a write is in flight), then
//! `durable` (sync off: `committed` as of the last completed sync). Writers
//! write the first four fields; only the sync thread writes `durable`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

const MAGIC: &[u8; 8] = b"STRESSEX";
const HEADER_BYTES: u64 = 64;
const SLOT_BYTES: u64 = 40;
const NEXT_ID_OFFSET: u64 = 16;
const SYNC_MARK_OFFSET: u64 = 24;
/// Offset of `durable` in a slot.
const DURABLE_OFFSET: u64 = 32;
/// Ids reserved per run: a run never uses more.
pub const IDS_PER_RUN: u64 = 1 << 40;

/// One key's record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    /// Id of the last acknowledged write, 0 if the key is absent.
    pub committed: u64,
    /// Id of the write in flight, 0 for a delete.
    pub pending: u64,
    /// Id of the last acknowledged delete.
    pub deleted_at: u64,
    /// A write of this key is in flight.
    pub in_flight: bool,
    /// Sync off: `committed` as of the last completed sync.
    pub durable: u64,
}

/// The expected-state file.
#[derive(Debug)]
pub struct Expected {
    file: File,
    /// Keys `0..keys`.
    pub keys: u32,
    /// The mode the directory was made with.
    pub sync_on: bool,
    /// Every write id below it may have been used.
    pub next_id: u64,
    /// Every write with an id up to it was covered by a completed sync.
    pub sync_mark: u64,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

impl Expected {
    /// Opens the file, or creates it for `keys` keys (all absent).
    pub fn open(path: &Path, keys: u32, sync_on: bool) -> io::Result<Expected> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut header = [0u8; HEADER_BYTES as usize];
        if file.metadata()?.len() == 0 {
            header[..8].copy_from_slice(MAGIC);
            header[8..12].copy_from_slice(&keys.to_le_bytes());
            header[12..16].copy_from_slice(&u32::from(sync_on).to_le_bytes());
            header[16..24].copy_from_slice(&1u64.to_le_bytes());
            file.set_len(HEADER_BYTES + SLOT_BYTES * u64::from(keys))?;
            file.write_all_at(&header, 0)?;
            file.sync_all()?;
        }
        file.read_exact_at(&mut header, 0)?;
        if &header[..8] != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an expected-state file",
            ));
        }
        let stored_keys = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
        let stored_sync = header[12] == 1;
        if stored_keys != keys || stored_sync != sync_on {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the directory was made with {stored_keys} keys and sync {}; asked for {keys} and {}",
                    on_off(stored_sync),
                    on_off(sync_on)
                ),
            ));
        }
        Ok(Expected {
            file,
            keys,
            sync_on,
            next_id: u64_at(&header, NEXT_ID_OFFSET as usize),
            sync_mark: u64_at(&header, SYNC_MARK_OFFSET as usize),
        })
    }

    fn slot_offset(k: u32) -> u64 {
        HEADER_BYTES + SLOT_BYTES * u64::from(k)
    }

    /// Every slot.
    pub fn slots(&self) -> io::Result<Vec<Slot>> {
        let mut b = vec![0u8; (SLOT_BYTES * u64::from(self.keys)) as usize];
        self.file.read_exact_at(&mut b, HEADER_BYTES)?;
        Ok(b.chunks_exact(SLOT_BYTES as usize)
            .map(|s| Slot {
                committed: u64_at(s, 0),
                pending: u64_at(s, 8),
                deleted_at: u64_at(s, 16),
                in_flight: u64_at(s, 24) & 1 == 1,
                durable: u64_at(s, 32),
            })
            .collect())
    }

    /// Writes a slot's writer fields (not `durable`).
    pub fn write_slot(&self, k: u32, s: &Slot) -> io::Result<()> {
        let mut b = [0u8; 32];
        b[..8].copy_from_slice(&s.committed.to_le_bytes());
        b[8..16].copy_from_slice(&s.pending.to_le_bytes());
        b[16..24].copy_from_slice(&s.deleted_at.to_le_bytes());
        b[24..32].copy_from_slice(&u64::from(s.in_flight).to_le_bytes());
        self.file.write_all_at(&b, Self::slot_offset(k))
    }

    /// Writes a slot's `durable` field.
    pub fn write_durable(&self, k: u32, id: u64) -> io::Result<()> {
        self.file
            .write_all_at(&id.to_le_bytes(), Self::slot_offset(k) + DURABLE_OFFSET)
    }

    /// Writes the sync mark to the file (`sync_mark` keeps the value read
    /// at open, which is what a verification checks against).
    pub fn write_sync_mark(&self, mark: u64) -> io::Result<()> {
        self.file
            .write_all_at(&mark.to_le_bytes(), SYNC_MARK_OFFSET)
    }

    /// Reserves the ids of one run: returns the first; the header then
    /// claims them all, so a later run never reuses one.
    pub fn reserve_run(&mut self) -> io::Result<u64> {
        let first = self.next_id;
        self.next_id = first + IDS_PER_RUN;
        self.file
            .write_all_at(&self.next_id.to_le_bytes(), NEXT_ID_OFFSET)?;
        Ok(first)
    }

    /// Makes what was found the new baseline: every key's committed and
    /// durable id is the one read back, nothing is in flight, and every id
    /// used so far is behind the sync mark. A key found absent counts as
    /// deleted as of the last id used (`deleted_at`), so a batch value that
    /// names it and outlives this verification is not taken for a torn
    /// batch later: this verification checked that batch.
    pub fn reset_to(&mut self, found: &[Option<u64>]) -> io::Result<()> {
        let old = self.slots()?;
        let mut b = vec![0u8; (SLOT_BYTES * u64::from(self.keys)) as usize];
        for ((s, f), o) in b.chunks_exact_mut(SLOT_BYTES as usize).zip(found).zip(&old) {
            let id = f.unwrap_or(0);
            let deleted_at = match f {
                None => self.next_id - 1,
                Some(_) => o.deleted_at,
            };
            s[..8].copy_from_slice(&id.to_le_bytes());
            s[16..24].copy_from_slice(&deleted_at.to_le_bytes());
            s[32..40].copy_from_slice(&id.to_le_bytes());
        }
        self.file.write_all_at(&b, HEADER_BYTES)?;
        // Every id used so far is below `next_id`; the next run's are not.
        self.sync_mark = self.next_id - 1;
        self.write_sync_mark(self.sync_mark)
    }
}

pub(crate) fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Whether finding `found` (a write id, or `None` for absent) for a key is
/// a state the engine may legally be in after a crash, given its slot.
///
/// Sync on: every acknowledged write was durable, so the key holds its
/// last acknowledged write, or the one in flight. Sync off: it holds what
/// the last completed sync covered, or any write made after that sync
/// (including a delete that was in flight).
pub fn legal(slot: &Slot, sync_on: bool, sync_mark: u64, found: Option<u64>) -> bool {
    if sync_on {
        let committed = (slot.committed != 0).then_some(slot.committed);
        let pending = (slot.pending != 0).then_some(slot.pending);
        found == committed || (slot.in_flight && found == pending)
    } else {
        match found {
            Some(id) => (id == slot.durable && id != 0) || id > sync_mark,
            // A delete in flight may have taken effect before the kill.
            None => {
                slot.durable == 0
                    || slot.deleted_at > sync_mark
                    || (slot.in_flight && slot.pending == 0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_states_with_sync_on() {
        let s = Slot {
            committed: 5,
            pending: 9,
            in_flight: true,
            ..Slot::default()
        };
        assert!(legal(&s, true, 0, Some(5)));
        assert!(legal(&s, true, 0, Some(9)));
        assert!(!legal(&s, true, 0, None));
        assert!(!legal(&s, true, 0, Some(4)));
        let deleting = Slot { pending: 0, ..s };
        assert!(legal(&deleting, true, 0, None));
        let settled = Slot {
            in_flight: false,
            ..s
        };
        assert!(!legal(&settled, true, 0, Some(9)));
    }

    #[test]
    fn legal_states_with_sync_off() {
        let s = Slot {
            durable: 5,
            committed: 12,
            ..Slot::default()
        };
        // Mark 10: writes up to id 10 were covered by a sync.
        assert!(legal(&s, false, 10, Some(5)));
        assert!(legal(&s, false, 10, Some(12)));
        assert!(legal(&s, false, 10, Some(11)));
        assert!(
            !legal(&s, false, 10, Some(4)),
            "older than the synced value"
        );
        assert!(!legal(&s, false, 10, None), "a synced value lost");
        let deleted_after = Slot {
            deleted_at: 11,
            ..s
        };
        assert!(legal(&deleted_after, false, 10, None));
        let deleting = Slot {
            in_flight: true,
            pending: 0,
            ..s
        };
        assert!(
            legal(&deleting, false, 10, None),
            "a delete in flight may have landed"
        );
        let never = Slot::default();
        assert!(legal(&never, false, 10, None));
        assert!(
            !legal(&never, false, 10, Some(3)),
            "a value never synced, from before the sync"
        );
    }

    #[test]
    fn the_file_round_trips_and_refuses_another_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("expected");
        let mut e = Expected::open(&path, 10, false).expect("create");
        let first = e.reserve_run().expect("reserve");
        assert_eq!(first, 1);
        let s = Slot {
            committed: 3,
            pending: 4,
            deleted_at: 2,
            in_flight: true,
            durable: 0,
        };
        e.write_slot(7, &s).expect("slot");
        e.write_durable(7, 3).expect("durable");
        e.write_sync_mark(3).expect("mark");
        let e = Expected::open(&path, 10, false).expect("reopen");
        assert_eq!(e.next_id, 1 + IDS_PER_RUN);
        assert_eq!(e.sync_mark, 3);
        assert_eq!(e.slots().expect("slots")[7], Slot { durable: 3, ..s });
        assert!(Expected::open(&path, 11, false).is_err());
        assert!(Expected::open(&path, 10, true).is_err());
    }
}
