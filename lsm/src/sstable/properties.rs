//! The properties block: counts, sequence range and key range of a table.
//!
//! | width | field |
//! |---|---|
//! | 8 | entries |
//! | 8 | tombstones |
//! | 8 | smallest seqno |
//! | 8 | largest seqno |
//! | 8 | data block bytes |
//! | 4 + n | smallest internal key (length, bytes) |
//! | 4 + n | largest internal key (length, bytes) |

/// What a table knows about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Properties {
    pub(crate) entries: u64,
    pub(crate) tombstones: u64,
    pub(crate) seq_min: u64,
    pub(crate) seq_max: u64,
    pub(crate) data_bytes: u64,
    pub(crate) smallest: Vec<u8>,
    pub(crate) largest: Vec<u8>,
}

/// A properties block too short for its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooShort {
    /// Bytes the block needs up to the end of the field that runs past it.
    pub(crate) len_needed: u64,
    /// The block's length.
    pub(crate) len_found: u64,
}

impl Properties {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(48 + self.smallest.len() + self.largest.len());
        for v in [
            self.entries,
            self.tombstones,
            self.seq_min,
            self.seq_max,
            self.data_bytes,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for k in [&self.smallest, &self.largest] {
            b.extend_from_slice(&(k.len() as u32).to_le_bytes());
            b.extend_from_slice(k);
        }
        b
    }

    /// Bytes of [`Properties::encode`]'s output: what follows them in a
    /// block is the range-deletion section (`crate::range_del`).
    pub(crate) fn encoded_len(&self) -> usize {
        40 + 4 + self.smallest.len() + 4 + self.largest.len()
    }

    /// Decodes a properties block.
    ///
    /// # Errors
    ///
    /// [`TooShort`] when a field runs past the block.
    pub(crate) fn decode(b: &[u8]) -> Result<Properties, TooShort> {
        let mut p = 0usize;
        let mut take = |n: usize| -> Result<&[u8], TooShort> {
            let end = p.saturating_add(n);
            let s = b.get(p..end).ok_or(TooShort {
                len_needed: end as u64,
                len_found: b.len() as u64,
            })?;
            p = end;
            Ok(s)
        };
        let mut u = [0u64; 5];
        for x in &mut u {
            let mut a = [0u8; 8];
            a.copy_from_slice(take(8)?);
            *x = u64::from_le_bytes(a);
        }
        let mut keys = [Vec::new(), Vec::new()];
        for k in &mut keys {
            let mut a = [0u8; 4];
            a.copy_from_slice(take(4)?);
            *k = take(u32::from_le_bytes(a) as usize)?.to_vec();
        }
        let [smallest, largest] = keys;
        Ok(Properties {
            entries: u[0],
            tombstones: u[1],
            seq_min: u[2],
            seq_max: u[3],
            data_bytes: u[4],
            smallest,
            largest,
        })
    }
}
