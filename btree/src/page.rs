//! The header every page carries, its checksum, and the size limits derived
//! from the page size. Layouts are in `FORMAT.md`.

/// Byte offset of the CRC-32 of the page (of bytes `CRC_END..len`).
pub(crate) const CRC_OFFSET: usize = 0;
/// End of the checksum field; the checksum covers everything after it.
pub(crate) const CRC_END: usize = CRC_OFFSET + 4;
/// Byte offset of the page kind.
pub(crate) const KIND_OFFSET: usize = CRC_END;
/// Byte offset of the page's flags (format 2; zero in format 1).
pub(crate) const FLAGS_OFFSET: usize = KIND_OFFSET + 1;
/// Byte offset of the page's own number.
pub(crate) const PAGE_ID_OFFSET: usize = KIND_OFFSET + 4;
/// Byte offset of the id of the transaction that wrote the page.
pub(crate) const TXN_OFFSET: usize = PAGE_ID_OFFSET + 8;
/// Byte offset of the kind-specific word: entry count (branch, leaf) or
/// value length (overflow).
pub(crate) const AUX_OFFSET: usize = TXN_OFFSET + 8;
/// Size of the common header; a page's body starts here.
pub(crate) const HEADER_BYTES: usize = AUX_OFFSET + 8;
const _: () = assert!(HEADER_BYTES == 32);

/// Page flag (branch pages of format 2): each branch entry records the
/// CRC-32 its child page was written with.
pub(crate) const FLAG_CHILD_CRC: u8 = 1;
/// Every flag this build knows; a page with another bit set is malformed.
pub(crate) const FLAGS_KNOWN: u8 = FLAG_CHILD_CRC;

/// Pages 0 and 1 are the meta pages; the tree's pages start at 2.
pub(crate) const FIRST_DATA_PAGE: u64 = 2;

/// What a page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Meta = 1,
    Branch = 2,
    Leaf = 3,
    Overflow = 4,
}

impl Kind {
    pub(crate) fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Meta),
            2 => Some(Kind::Branch),
            3 => Some(Kind::Leaf),
            4 => Some(Kind::Overflow),
            _ => None,
        }
    }
}

/// Reads a little-endian `u64` at `at`; `buf` must hold it.
pub(crate) fn get_u64(buf: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(b)
}

/// Reads a little-endian `u32` at `at`; `buf` must hold it.
pub(crate) fn get_u32(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Reads a little-endian `u16` at `at`; `buf` must hold it.
pub(crate) fn get_u16(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([buf[at], buf[at + 1]])
}

pub(crate) fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

/// Writes the common header (all but the checksum) into `buf`: branch
/// pages get [`FLAG_CHILD_CRC`], every other kind no flag.
pub(crate) fn write_header(buf: &mut [u8], kind: Kind, page: u64, txn: u64, aux: u64) {
    buf[KIND_OFFSET] = kind as u8;
    buf[FLAGS_OFFSET..PAGE_ID_OFFSET].fill(0);
    if kind == Kind::Branch {
        buf[FLAGS_OFFSET] = FLAG_CHILD_CRC;
    }
    put_u64(buf, PAGE_ID_OFFSET, page);
    put_u64(buf, TXN_OFFSET, txn);
    put_u64(buf, AUX_OFFSET, aux);
}

/// Computes and stores the checksum of a finished page (or overflow run).
pub(crate) fn seal(buf: &mut [u8]) {
    let crc = crc32fast::hash(&buf[CRC_END..]);
    put_u32(buf, CRC_OFFSET, crc);
}

/// The checksum stored in a page's header; `buf` holds at least the header.
pub(crate) fn stored_crc(buf: &[u8]) -> u32 {
    get_u32(buf, CRC_OFFSET)
}

/// The stored and the computed checksum of a page.
pub(crate) fn checksums(buf: &[u8]) -> (u32, u32) {
    (get_u32(buf, CRC_OFFSET), crc32fast::hash(&buf[CRC_END..]))
}

/// Size limits that follow from the page size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) page_size: usize,
    /// Longest key.
    pub(crate) key_len_max: usize,
    /// Largest leaf entry holding its value inline, slot included
    /// (`SLOT_BYTES + LEAF_ENTRY_HEADER_BYTES + key + value`): just under
    /// half a page's body. A value whose entry would be larger goes to an
    /// overflow run.
    pub(crate) inline_entry_bytes_max: usize,
    /// Bytes of page numbers one free-tree value holds (format 1 and 2's
    /// inline limit, `page_size / 8 - 32`, kept so free-tree entries stay
    /// small).
    pub(crate) free_chunk_bytes_max: usize,
    /// A node whose encoded size is below this is underfull and is merged or
    /// refilled from a sibling.
    pub(crate) underfull_bytes: usize,
}

/// Longest value, in bytes: the value length field is a `u32`.
pub const VALUE_LEN_MAX: usize = (1 << 31) - 1;

impl Limits {
    pub(crate) fn new(page_size: usize) -> Limits {
        // Every entry stays under half a page's body (an inline entry by
        // this limit; a key is at most an eighth of a page, so an overflow
        // reference or branch entry is far smaller), so splitting an
        // overfull node (at most a page plus one entry) at its byte midpoint
        // gives two halves that fit (`tree::split_index`), and a node with
        // at least two entries exists at every size.
        let key_len_max = page_size / 8;
        Limits {
            page_size,
            key_len_max,
            inline_entry_bytes_max: (page_size - HEADER_BYTES) / 2 - 1,
            free_chunk_bytes_max: page_size / 8 - 32,
            underfull_bytes: HEADER_BYTES + (page_size - HEADER_BYTES) / 4,
        }
    }

    /// Whether a leaf entry of a `key_len`-byte key keeps a `value_len`-byte
    /// value inline.
    pub(crate) fn inline(&self, key_len: usize, value_len: usize) -> bool {
        crate::node::SLOT_BYTES + crate::node::LEAF_ENTRY_HEADER_BYTES + key_len + value_len
            <= self.inline_entry_bytes_max
    }

    /// Pages an overflow run holding `len` value bytes spans.
    pub(crate) fn run_pages(&self, len: u64) -> u64 {
        (HEADER_BYTES as u64 + len).div_ceil(self.page_size as u64)
    }
}
