//! Overflow values: a value too large to sit inline in its leaf entry is
//! stored in a run of consecutive pages (one header, then the bytes), and
//! the leaf entry records the run's first page, length and CRC-32.
//!
//! A write transaction keeps the runs it makes in memory until commit;
//! replacing or removing a value frees its run.

use bytes::Bytes;

use crate::Result;
use crate::mapping::{check_recorded_crc, verify};
use crate::node::{Child, RawValue, Value};
use crate::page::{self, HEADER_BYTES, Kind};
use crate::write::WriteTxn;

impl WriteTxn<'_> {
    /// The bytes of a leaf value.
    pub(crate) fn value_bytes(&self, value: &Value) -> Result<Bytes> {
        match value {
            Value::Inline(v) => Ok(v.clone()),
            &Value::Overflow { page: id, len, crc } => {
                let end = HEADER_BYTES + len as usize;
                if let Some(run) = self.runs.get(&id) {
                    return Ok(Bytes::copy_from_slice(&run[HEADER_BYTES..end]));
                }
                if self.written.contains(&id) {
                    let n = self.db.limits.run_pages(len);
                    let bytes = self.read_pages(id, n)?;
                    verify(&bytes, self.file_path(), id)?;
                    check_recorded_crc(&bytes, self.file_path(), Child { page: id, crc })?;
                    return Ok(bytes.slice(HEADER_BYTES..end));
                }
                let map = &self.base.map;
                let v = map.value(
                    RawValue::Overflow { page: id, len, crc },
                    self.base.meta.page_count,
                )?;
                Ok(map.to_bytes(v))
            }
        }
    }

    /// Gives up a value's overflow run, if it has one.
    pub(crate) fn free_value(&mut self, value: &Value) {
        if let &Value::Overflow { page: id, len, .. } = value {
            self.runs.remove(&id);
            for p in id..id + self.db.limits.run_pages(len) {
                self.free_page(p);
            }
        }
    }

    /// Stores a value under a `key_len`-byte key: inline if the entry fits
    /// half a page, else in a new overflow run.
    pub(crate) fn make_value(&mut self, key_len: usize, value: &[u8]) -> Result<Value> {
        if self.db.limits.inline(key_len, value.len()) {
            return Ok(Value::Inline(Bytes::copy_from_slice(value)));
        }
        let len = value.len() as u64;
        let n = self.db.limits.run_pages(len);
        let id = self.alloc_run(n)?;
        let mut run = vec![0u8; (n as usize) * self.db.limits.page_size];
        page::write_header(&mut run, Kind::Overflow, id, self.txn, len);
        run[HEADER_BYTES..HEADER_BYTES + value.len()].copy_from_slice(value);
        // Sealed now, so the leaf entry records the run's CRC-32.
        page::seal(&mut run);
        let crc = page::stored_crc(&run);
        self.runs.insert(id, run);
        Ok(Value::Overflow {
            page: id,
            len,
            crc: Some(crc),
        })
    }
}
