//! Reading a table's blocks ahead of a reader that goes through them in
//! order.
//!
//! Tables are mapped for random access (`vfs::Access::Random`): a page
//! fault reads only its 4 KiB page, so a cold point lookup reads its block
//! and nothing more. A reader that walks blocks in order (a compaction
//! input, a scan, `verify`) would then wait for one 4 KiB read per page;
//! instead it asks for the next window of the file ahead of use
//! (`vfs::View::will_need`), as RocksDB does with `compaction_readahead_size`
//! and its iterators' automatic readahead.
//!
//! Windows are requested half a window before the reader reaches the end of
//! the last one, so the next read is in flight while the current window is
//! decoded. Only blocks the block cache misses report here: a reader served
//! from the cache costs no system call.
//!
//! A remote table (in an object store) has no map to advise: its reader
//! fetches each window with one ranged read when it steps out of the last
//! one, and holds it ([`Readahead::hold`]) while it decodes the blocks in
//! it. A round trip costs milliseconds, so compaction inputs and `verify`
//! read 4 MiB windows ([`REMOTE_WINDOW_BYTES`]).

use std::ops::Range;

use bytes::Bytes;

/// The window a compaction input or `verify` reads ahead: 2 MiB, RocksDB's
/// default `compaction_readahead_size`. Large enough that a table of a few
/// MiB is read in two or three requests (the device's throughput, not its
/// latency, is the limit), small enough that the windows of the inputs of
/// one compaction (a handful of tables at once) stay a few MiB of memory.
pub(crate) const COMPACTION_WINDOW_BYTES: u64 = 2 << 20;

/// The window a compaction input reads ahead in a remote table: 4 MiB,
/// one request per table of the default target size.
pub(crate) const REMOTE_WINDOW_BYTES: u64 = 4 << 20;

/// A scan's first window: 16 KiB, about 4 blocks of 4 KiB. A seek and
/// 100 pairs of 100 bytes read about 3 blocks of the table that holds
/// most of them: measured at 5 M keys, a 64 KiB first window read 127 KB
/// per cold seek + scan100 (2,000 seeks brought 254 MB into memory).
pub(crate) const SCAN_FIRST_WINDOW_BYTES: u64 = 16 << 10;

/// A scan's largest window: 1 MiB (windows double up to it). A long scan
/// then reads in large requests, while a short one (seek plus 100 keys)
/// never reads more than a few blocks beyond what it uses.
pub(crate) const SCAN_MAX_WINDOW_BYTES: u64 = 1 << 20;

/// Blocks a scan reads from the file before it reads ahead: a seek and a
/// short scan read one or two blocks and must not pay for a window.
pub(crate) const SCAN_BLOCKS_BEFORE_READAHEAD: u32 = 2;

/// Where one reader of one table stands, and what it asked for already.
#[derive(Debug)]
pub(crate) struct Readahead {
    /// The next window's size in bytes.
    window: u64,
    /// The largest window.
    max_window: u64,
    /// Blocks to read from the file before the first window.
    wait_blocks: u32,
    /// The range asked for so far, in bytes of the file (empty: none).
    asked: Range<u64>,
    /// The last block read from the file (index), for the direction.
    last: Option<usize>,
    /// The blocks the reader may read: its first block read is the last of
    /// these (of more than one) only if it goes down.
    blocks: Range<usize>,
    /// A remote table's window, read: its offset in the table and bytes.
    held: Option<(u64, Bytes)>,
}

impl Readahead {
    /// For a reader that reads every block (compaction, verify): full
    /// windows from the first block on.
    pub(crate) fn whole_table(blocks: Range<usize>) -> Readahead {
        Readahead {
            blocks,
            window: COMPACTION_WINDOW_BYTES,
            max_window: COMPACTION_WINDOW_BYTES,
            wait_blocks: 0,
            asked: 0..0,
            last: None,
            held: None,
        }
    }

    /// For a reader that reads every block of a remote table: full
    /// windows of [`REMOTE_WINDOW_BYTES`] from the first block on.
    pub(crate) fn whole_remote_table(blocks: Range<usize>) -> Readahead {
        Readahead {
            window: REMOTE_WINDOW_BYTES,
            max_window: REMOTE_WINDOW_BYTES,
            ..Readahead::whole_table(blocks)
        }
    }

    /// The bytes of `block` (a range of the table), if the window held
    /// has them.
    pub(crate) fn held(&self, block: &Range<u64>) -> Option<Bytes> {
        let (start, bytes) = self.held.as_ref()?;
        let from = usize::try_from(block.start.checked_sub(*start)?).ok()?;
        let to = usize::try_from(block.end.checked_sub(*start)?).ok()?;
        (from <= to && to <= bytes.len()).then(|| bytes.slice(from..to))
    }

    /// Holds `bytes`, read from the table at `start`, in place of the last
    /// window held.
    pub(crate) fn hold(&mut self, start: u64, bytes: Bytes) {
        self.held = Some((start, bytes));
    }

    /// For a user's scan: nothing for its first blocks, then windows from
    /// 16 KiB doubling to 1 MiB.
    pub(crate) fn scan(blocks: Range<usize>) -> Readahead {
        Readahead {
            blocks,
            window: SCAN_FIRST_WINDOW_BYTES,
            max_window: SCAN_MAX_WINDOW_BYTES,
            wait_blocks: SCAN_BLOCKS_BEFORE_READAHEAD,
            asked: 0..0,
            last: None,
            held: None,
        }
    }

    /// Whether `block` lies in the range asked for so far.
    pub(crate) fn covers(&self, block: &Range<u64>) -> bool {
        self.asked.start <= block.start && block.end <= self.asked.end
    }

    /// Block `i`, at `block` in the file, is about to be read from the
    /// file: the range to ask for ahead of it, if any. Going up (or at the
    /// first block) the window lies after the block; going down, before it.
    pub(crate) fn next(&mut self, i: usize, block: Range<u64>) -> Option<Range<u64>> {
        let down = match self.last {
            Some(l) => i < l,
            None => i + 1 == self.blocks.end && self.blocks.len() > 1,
        };
        self.last = Some(i);
        if self.wait_blocks > 0 {
            self.wait_blocks -= 1;
            return None;
        }
        let inside = self.covers(&block);
        let half = self.window / 2;
        let ask = if !inside {
            // The first window, or a jump out of the last one: start anew
            // at the block.
            if down {
                block.end.saturating_sub(self.window)..block.end
            } else {
                block.start..block.start.saturating_add(self.window)
            }
        } else if !down && block.end.saturating_add(half) > self.asked.end {
            self.asked.end..self.asked.end.saturating_add(self.window)
        } else if down && block.start < self.asked.start.saturating_add(half) {
            self.asked.start.saturating_sub(self.window)..self.asked.start
        } else {
            return None;
        };
        if ask.is_empty() {
            return None;
        }
        self.asked = if inside {
            self.asked.start.min(ask.start)..self.asked.end.max(ask.end)
        } else {
            ask.clone()
        };
        self.window = (self.window * 2).min(self.max_window);
        Some(ask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: u64 = 4096;

    fn blocks(r: &mut Readahead, order: impl Iterator<Item = u64>) -> Vec<Range<u64>> {
        order
            .filter_map(|i| r.next(i as usize, i * B..(i + 1) * B))
            .collect()
    }

    #[test]
    fn a_whole_table_read_asks_each_window_once_half_a_window_early() {
        let mut r = Readahead::whole_table(0..1 << 20);
        let w = COMPACTION_WINDOW_BYTES;
        let asked = blocks(&mut r, 0..(3 * w / B));
        assert_eq!(asked[0], 0..w);
        assert_eq!(asked[1], w..2 * w);
        assert_eq!(asked[2], 2 * w..3 * w);
        assert_eq!(asked[3], 3 * w..4 * w);
        assert_eq!(asked.len(), 4);
        // The second window is asked for once the reader is half way
        // through the first, not when it runs out.
        let mut r = Readahead::whole_table(0..1 << 20);
        assert_eq!(blocks(&mut r, 0..(w / 2 / B)).len(), 1);
    }

    #[test]
    fn a_scan_waits_two_blocks_then_doubles_its_window() {
        let mut r = Readahead::scan(0..2000);
        assert!(
            blocks(&mut r, 0..2).is_empty(),
            "a short scan asks for nothing"
        );
        let asked = blocks(&mut r, 2..2000);
        assert_eq!(asked[0], 2 * B..2 * B + SCAN_FIRST_WINDOW_BYTES);
        assert_eq!(
            asked[1].end - asked[1].start,
            2 * SCAN_FIRST_WINDOW_BYTES,
            "{asked:?}"
        );
        assert!(
            asked
                .iter()
                .all(|a| a.end - a.start <= SCAN_MAX_WINDOW_BYTES)
        );
        assert_eq!(
            asked.last().map(|a| a.end - a.start),
            Some(SCAN_MAX_WINDOW_BYTES)
        );
        // Every asked range starts where the last ended: no byte twice.
        assert!(asked.windows(2).all(|p| p[0].end == p[1].start));
    }

    #[test]
    fn going_down_asks_below_and_never_underflows() {
        let mut r = Readahead::whole_table(0..1200);
        let asked = blocks(&mut r, (0..1200).rev());
        assert_eq!(asked[0], 1200 * B - COMPACTION_WINDOW_BYTES..1200 * B);
        assert!(
            asked.windows(2).all(|p| p[1].end == p[0].start),
            "{asked:?}"
        );
        assert_eq!(asked.last().map(|a| a.start), Some(0));
        // A window below offset 0 is clamped, not a wrap.
        let mut r = Readahead::whole_table(0..10);
        assert_eq!(
            r.next(5, 5 * B..6 * B),
            Some(5 * B..5 * B + COMPACTION_WINDOW_BYTES)
        );
        assert_eq!(r.next(1, B..2 * B), Some(0..2 * B));
    }

    #[test]
    fn a_jump_starts_a_new_window_at_the_block() {
        let mut r = Readahead::whole_table(0..200_000);
        let far = 100_000;
        assert!(r.next(0, 0..B).is_some());
        assert_eq!(
            r.next(far, far as u64 * B..(far as u64 + 1) * B),
            Some(far as u64 * B..far as u64 * B + COMPACTION_WINDOW_BYTES)
        );
    }
}
