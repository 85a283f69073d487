//! Checking a whole table as it is on disk (`verify`): every block read
//! past the cache, each bad one reported and the walk going on to the next.

use bytes::Bytes;

use crate::key::{self, InternalKey};
use crate::sstable::footer::{FOOTER_SIZE_BYTES, Footer};
use crate::sstable::readahead::Readahead;
use crate::sstable::reader::{Source, Table, bad_key, check_header, load_meta};
use crate::{Error, Result};

/// What [`Table::check`] read and found in one table.
#[derive(Debug, Default)]
pub(crate) struct TableCheck {
    /// Blocks read: footer, index, filter, properties and data blocks.
    pub(crate) blocks_checked: u64,
    /// Entries decoded from the good data blocks.
    pub(crate) entries_checked: u64,
    /// Every bad block, each an [`Error::Corruption`] naming its offset.
    pub(crate) problems: Vec<Error>,
}

impl Table {
    /// Reads the whole table as it is now (a remote table: the whole
    /// object, in one request), block by block, without the cache: the header and footer, the index, filter and properties
    /// blocks, then every data block (checksum, decoding, keys ascending
    /// across the table), going on past a bad data block to the next one
    /// the index (decoded at open) names. `visit` sees every entry of every
    /// good data block, after the block's offset. A table whose blocks are all good must also hold as
    /// many entries as its properties say.
    pub(crate) fn check(&self, visit: &mut dyn FnMut(u64, InternalKey, Bytes)) -> TableCheck {
        let mut c = TableCheck::default();
        let path = &self.path;
        let data = match &self.source {
            Source::Mapped { data, .. } => data.clone(),
            Source::Remote(r) => match r.io.get(&r.name) {
                Ok(b) => b,
                Err(e) => {
                    c.problems.push(e);
                    return c;
                }
            },
        };
        if data.len() as u64 != self.size_bytes() {
            c.problems.push(Error::corruption(
                path,
                0,
                "table size changed since it was opened",
                self.size_bytes(),
                data.len() as u64,
            ));
            return c;
        }
        let Some(foot_off) = data.len().checked_sub(FOOTER_SIZE_BYTES) else {
            c.problems.push(Error::corruption(
                path,
                0,
                "table too short for footer",
                FOOTER_SIZE_BYTES as u64,
                data.len() as u64,
            ));
            return c;
        };
        let foot_off_u64 = foot_off as u64;
        c.blocks_checked += 1;
        match Footer::decode(&data[foot_off..], path, foot_off_u64) {
            Ok(f) if f == self.footer => {}
            Ok(f) => c.problems.push(Error::corruption(
                path,
                foot_off_u64,
                "footer changed since the table was opened (index offset)",
                self.footer.index.offset,
                f.index.offset,
            )),
            Err(e) => c.problems.push(e),
        }
        if let Err(e) = check_header(&data, path) {
            c.problems.push(e);
        }
        let metas = [
            (self.footer.index, "index handle past the footer"),
            (self.footer.filter, "filter handle past the footer"),
            (self.footer.properties, "properties handle past the footer"),
        ];
        for (h, what) in metas {
            if h.size_bytes == 0 {
                continue;
            }
            c.blocks_checked += 1;
            if let Err(e) = load_meta(&data, 0, path, foot_off_u64, h, what) {
                c.problems.push(e);
            }
        }
        if self.footer.version == crate::sstable::footer::TABLE_VERSION_RANGE_DEL
            && let Ok(b) = load_meta(
                &data,
                0,
                path,
                foot_off_u64,
                self.footer.properties,
                "properties handle past the footer",
            )
        {
            let rest = b.slice(self.props.encoded_len().min(b.len())..);
            if let Err(e) =
                crate::range_del::table::decode_section(&rest, path, self.footer.properties.offset)
            {
                c.problems.push(e);
            }
        }
        let mut prev: Option<Bytes> = None;
        let mut all_good = c.problems.is_empty();
        let n = self.index.entries.len();
        let mut ahead = Readahead::whole_table(0..n);
        for i in 0..n {
            c.blocks_checked += 1;
            if let Err(e) = self.read_ahead(&mut ahead, i) {
                c.problems.push(e);
            }
            match self.check_data_block(&data, i, prev.as_deref(), visit) {
                Ok((n, last)) => {
                    c.entries_checked += n;
                    prev = last.or(prev);
                }
                Err(e) => {
                    all_good = false;
                    c.problems.push(e);
                }
            }
        }
        if all_good && c.entries_checked != self.props.entries {
            c.problems.push(Error::corruption(
                path,
                self.footer.properties.offset,
                "entries in the data blocks (expected: the properties' count)",
                self.props.entries,
                c.entries_checked,
            ));
        }
        c
    }

    /// Checks one data block; returns its entry count and last key.
    fn check_data_block(
        &self,
        data: &Bytes,
        i: usize,
        prev: Option<&[u8]>,
        visit: &mut dyn FnMut(u64, InternalKey, Bytes),
    ) -> Result<(u64, Option<Bytes>)> {
        let h = self.index.entries[i].1;
        // In range: `data` is as long as the table (checked above), and
        // Index::decode checked each handle against that length.
        let stored = data.slice(h.offset as usize..(h.offset + h.size_bytes) as usize);
        let raw = self
            .decode_block(stored, h)?
            .entries_shared(Some(self.bounds(i)))
            .map_err(|m| m.at(&self.path, h.offset))?;
        let mut prev = prev.map(Bytes::copy_from_slice);
        let mut decoded = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            let ik = InternalKey::decode(&k).ok_or_else(|| bad_key(&self.path, h.offset, &k))?;
            if let Some(p) = &prev
                && key::cmp_encoded(p, &k) != std::cmp::Ordering::Less
            {
                let user = |k: &[u8]| key::prefix(key::split(k).map_or(k, |s| s.0));
                return Err(Error::corruption(
                    &self.path,
                    h.offset,
                    "data block key not above the previous one (key prefixes)",
                    user(p),
                    user(&k),
                ));
            }
            prev = Some(k);
            decoded.push((ik, v));
        }
        // Entries are handed out only once the whole block checked out.
        let n = decoded.len() as u64;
        for (k, v) in decoded {
            visit(h.offset, k, v);
        }
        Ok((n, prev))
    }
}
