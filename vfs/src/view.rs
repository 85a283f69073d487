//! [`View`]: a read-only view of a file that can tell the kernel how it
//! will be read, and [`Access`], the ways it can be read.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::mmap::Advise;
use crate::{Error, Op, Result};

/// How the pages of a mapped view will be read ([`File::map_for`]): the
/// kernel's readahead on a page fault follows it. Only the speed of reads
/// changes, never the bytes read.
///
/// [`File::map_for`]: crate::File::map_for
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Access {
    /// The kernel's default: a fault reads the page and readahead around it
    /// (up to the device's `read_ahead_kb`, which can be megabytes). Right
    /// for a file read once from end to end.
    #[default]
    Default,
    /// Random reads (`MADV_RANDOM`): a fault reads only its page. Right for
    /// lookups in a file much larger than what one of them touches (a
    /// table's blocks, a B+ tree's pages); a reader that then goes through
    /// a range in order asks for it with [`View::will_need`].
    Random,
    /// One pass in order (`MADV_SEQUENTIAL`): aggressive readahead, and
    /// pages behind the reader may be dropped early.
    Sequential,
}

/// A read-only view of a file's bytes ([`File::map_for`]): the bytes, and on
/// a real disk the memory map behind them, so a reader can ask for a range
/// ahead of use ([`View::will_need`]).
///
/// On a simulated file system the view is a copy and the advice is a no-op
/// ([`View::from_bytes`]). Cloning is cheap (two reference counts).
///
/// [`File::map_for`]: crate::File::map_for
#[derive(Clone)]
pub struct View {
    bytes: Bytes,
    map: Option<Arc<MapAdvice>>,
}

/// A live map's advice handle and the path its errors name.
struct MapAdvice {
    advise: Arc<dyn Advise>,
    path: Box<Path>,
}

impl View {
    /// A view of bytes that are not a memory map (a copy, or a simulated
    /// file's contents): [`View::will_need`] on it does nothing.
    pub fn from_bytes(bytes: Bytes) -> View {
        View { bytes, map: None }
    }

    /// A view of a map made by `mmap::map`.
    pub(crate) fn mapped(bytes: Bytes, advise: Option<Arc<dyn Advise>>, path: &Path) -> View {
        View {
            bytes,
            map: advise.map(|advise| {
                Arc::new(MapAdvice {
                    advise,
                    path: path.into(),
                })
            }),
        }
    }

    /// The file's bytes, `0..len` as of the map.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The file's bytes, without the advice handle.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }

    /// The view's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether the bytes are a memory map, so [`View::will_need`] does
    /// something.
    pub fn is_mapped(&self) -> bool {
        self.map.is_some()
    }

    /// Asks for `range` of the view to be read into memory now, ahead of
    /// use (`MADV_WILLNEED` on the pages holding it), so a reader going
    /// through it in order gets one large read instead of a fault per page.
    /// Returns once the reads are queued, before they complete. The bytes
    /// seen do not change.
    ///
    /// A hint: the range is clamped to the view (an end past it stops at
    /// its end; a range empty after that, or backwards, does nothing), and
    /// on a view that is not a map it does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] (operation [`Op::Map`], the file's path) if the kernel
    /// refuses the advice.
    pub fn will_need(&self, range: Range<usize>) -> Result<()> {
        let Some(m) = &self.map else {
            return Ok(());
        };
        let end = range.end.min(self.bytes.len());
        if range.start >= end {
            return Ok(());
        }
        m.advise
            .will_need(range.start, end - range.start)
            .map_err(|e| Error::io(Op::Map, &*m.path, e))
    }
}

impl fmt::Debug for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View")
            .field("len", &self.bytes.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

impl AsRef<[u8]> for View {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}
