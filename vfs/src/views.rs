//! The live views of each file, so that nothing done through this crate
//! shrinks a file below a view of it that is still alive.
//!
//! On [`OsFs`](crate::OsFs) a view is a memory map, and reading a mapped
//! byte past the end of its file raises `SIGBUS`: safe code could kill the
//! process by mapping a file and then truncating it. So every view
//! registers its length here until its last clone is dropped, and each way
//! this crate can shrink a file ([`File::set_len`](crate::File::set_len),
//! opening with [`OpenMode::Truncate`](crate::OpenMode::Truncate)) asks
//! [`Views::check_shrink`] first, under the same lock. [`MemFs`](crate::MemFs)
//! keeps the same books and refuses the same calls, though its views are
//! copies, so that a test on it catches the misuse a real disk would punish.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Error, Op, Result};

/// The lengths of the live views of each file, as a multiset per file.
///
/// `K` names a file (not a path): an inode, so two handles on one file, or
/// one file under two names, share their books.
#[derive(Debug)]
pub(crate) struct Views<K> {
    /// For each file with a live view: view length in bytes -> live views of
    /// that length.
    by_file: BTreeMap<K, BTreeMap<u64, usize>>,
}

impl<K: Ord + Copy> Views<K> {
    /// No live views.
    pub(crate) const fn new() -> Views<K> {
        Views {
            by_file: BTreeMap::new(),
        }
    }

    /// Records a live view of `len_bytes` bytes of `file`.
    pub(crate) fn add(&mut self, file: K, len_bytes: u64) {
        *self
            .by_file
            .entry(file)
            .or_default()
            .entry(len_bytes)
            .or_default() += 1;
    }

    /// Forgets one view recorded by [`add`](Self::add).
    pub(crate) fn remove(&mut self, file: K, len_bytes: u64) {
        let Some(lens) = self.by_file.get_mut(&file) else {
            debug_assert!(false, "a view released twice");
            return;
        };
        if let Some(count) = lens.get_mut(&len_bytes) {
            *count -= 1;
            if *count == 0 {
                lens.remove(&len_bytes);
            }
        }
        if lens.is_empty() {
            self.by_file.remove(&file);
        }
    }

    /// The length of the longest live view of `file`; 0 if none.
    pub(crate) fn len_max(&self, file: K) -> u64 {
        self.by_file
            .get(&file)
            .and_then(|lens| lens.last_key_value())
            .map_or(0, |(len, _)| *len)
    }

    /// `Ok` if `file` may become `len_bytes` long without cutting a live
    /// view; [`Error::ViewAlive`] naming `op` and `path` if not.
    pub(crate) fn check_shrink(&self, file: K, len_bytes: u64, op: Op, path: &Path) -> Result<()> {
        let view_len_bytes = self.len_max(file);
        if len_bytes < view_len_bytes {
            return Err(Error::ViewAlive {
                op,
                path: path.to_path_buf(),
                len_bytes,
                view_len_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_live_view_bounds_a_shrink() {
        let mut views = Views::new();
        let path = Path::new("/f");
        views.add(1, 100);
        views.add(1, 300);
        views.add(1, 300);
        views.add(2, 50);
        assert_eq!(views.len_max(1), 300);
        assert!(matches!(
            views.check_shrink(1, 299, Op::SetLen, path),
            Err(Error::ViewAlive {
                len_bytes: 299,
                view_len_bytes: 300,
                ..
            })
        ));
        assert!(views.check_shrink(1, 300, Op::SetLen, path).is_ok());
        views.remove(1, 300);
        assert_eq!(
            views.len_max(1),
            300,
            "one view of 300 bytes is still alive"
        );
        views.remove(1, 300);
        assert_eq!(views.len_max(1), 100);
        views.remove(1, 100);
        assert_eq!(views.len_max(1), 0);
        assert!(views.check_shrink(1, 0, Op::SetLen, path).is_ok());
        assert_eq!(views.len_max(2), 50);
    }
}
