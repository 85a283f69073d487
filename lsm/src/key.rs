//! Internal keys: a user key with the sequence number and kind of one write.
//!
//! Order: user key ascending, then sequence number descending, so the newest
//! version of a key comes first. Encoded (in tables and the WAL) as the user
//! key followed by an 8-byte little-endian trailer `seqno << 8 | kind`.

use std::cmp::Ordering;

use bytes::Bytes;

/// Sequence number of a write; later writes have larger numbers. The
/// counters that hand them out stay `AtomicU64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SeqNo(pub(crate) u64);

impl SeqNo {
    /// Larger than every sequence number a write gets: a read at it sees
    /// everything.
    pub(crate) const MAX: SeqNo = SeqNo(u64::MAX);

    /// The sequence number `n` writes later.
    pub(crate) fn plus(self, n: u64) -> SeqNo {
        SeqNo(self.0 + n)
    }
}

impl std::fmt::Display for SeqNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Largest sequence number (56 bits, the trailer keeps 8 for the kind).
pub(crate) const SEQNO_MAX: u64 = (1 << 56) - 1;

/// Bytes of the trailer after the user key.
pub(crate) const TRAILER_LEN: usize = 8;

/// What an entry is. The tag is persisted: new kinds (a blob reference for
/// key-value separation) take new numbers, old readers reject them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ValueKind {
    /// A tombstone: the key was deleted.
    Delete = 0,
    /// The value is stored inline, right after the key.
    Inline = 1,
    /// The value is a reference into a blob file (key-value separation).
    BlobRef = 2,
    /// The value is a merge operand, combined with older versions by the
    /// store's merge operator (`merge/`).
    Merge = 3,
    /// A range tombstone `[key, value)` (a batch op only: memtables and
    /// tables keep range tombstones apart from their entries).
    RangeDelete = 4,
    /// A value written while a TTL was set: its write time (8 bytes, see
    /// [`crate::ttl`]) then the value, inline.
    TimedInline = 5,
    /// A blob reference written while a TTL was set: its write time (8
    /// bytes) then the reference.
    TimedBlobRef = 6,
}

impl ValueKind {
    /// The kind with the largest tag: a seek key built with it sorts before
    /// every entry of the same user key and sequence number.
    pub(crate) const SEEK: ValueKind = ValueKind::TimedBlobRef;

    pub(crate) fn from_u8(tag: u8) -> Option<ValueKind> {
        match tag {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Inline),
            2 => Some(ValueKind::BlobRef),
            3 => Some(ValueKind::Merge),
            4 => Some(ValueKind::RangeDelete),
            5 => Some(ValueKind::TimedInline),
            6 => Some(ValueKind::TimedBlobRef),
            _ => None,
        }
    }
}

/// An owned internal key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct InternalKey {
    pub(crate) user: Bytes,
    pub(crate) seq: SeqNo,
    pub(crate) kind: ValueKind,
}

impl InternalKey {
    pub(crate) fn new(user: Bytes, seq: SeqNo, kind: ValueKind) -> InternalKey {
        InternalKey { user, seq, kind }
    }

    /// The first internal key of `user` visible at `seq`: sorts before every
    /// version with a sequence number at most `seq`.
    pub(crate) fn seek(user: &[u8], seq: SeqNo) -> InternalKey {
        InternalKey::new(Bytes::copy_from_slice(user), seq, ValueKind::SEEK)
    }

    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.user);
        out.extend_from_slice(&trailer(self.seq, self.kind).to_le_bytes());
    }

    pub(crate) fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.user.len() + TRAILER_LEN);
        self.encode_into(&mut out);
        out
    }

    /// Decodes an encoded key; `None` if too short or of unknown kind.
    /// The user key is a slice of `encoded`'s buffer, not a copy.
    pub(crate) fn decode(encoded: &Bytes) -> Option<InternalKey> {
        let (user, seq, kind) = split(encoded)?;
        let user = encoded.slice(..user.len());
        Some(InternalKey::new(user, seq, kind))
    }
}

impl Ord for InternalKey {
    fn cmp(&self, other: &InternalKey) -> Ordering {
        self.user
            .cmp(&other.user)
            .then_with(|| other.seq.cmp(&self.seq))
            .then_with(|| (other.kind as u8).cmp(&(self.kind as u8)))
    }
}

impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &InternalKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

pub(crate) fn trailer(seq: SeqNo, kind: ValueKind) -> u64 {
    debug_assert!(seq.0 <= SEQNO_MAX);
    (seq.0 << 8) | kind as u64
}

/// Splits an encoded internal key into user key, seqno and kind.
pub(crate) fn split(encoded: &[u8]) -> Option<(&[u8], SeqNo, ValueKind)> {
    let user_len = encoded.len().checked_sub(TRAILER_LEN)?;
    let mut t = [0u8; TRAILER_LEN];
    t.copy_from_slice(&encoded[user_len..]);
    let t = u64::from_le_bytes(t);
    // A range tombstone is never an entry of a table or memtable.
    let kind = ValueKind::from_u8((t & 0xff) as u8).filter(|k| *k != ValueKind::RangeDelete)?;
    Some((&encoded[..user_len], SeqNo(t >> 8), kind))
}

/// Compares two encoded internal keys in internal-key order. Keys that do not
/// decode sort by raw bytes (a CRC-checked block never holds one).
pub(crate) fn cmp_encoded(a: &[u8], b: &[u8]) -> Ordering {
    match (
        a.len().checked_sub(TRAILER_LEN),
        b.len().checked_sub(TRAILER_LEN),
    ) {
        (Some(la), Some(lb)) => a[..la].cmp(&b[..lb]).then_with(|| {
            let mut ta = [0u8; 8];
            let mut tb = [0u8; 8];
            ta.copy_from_slice(&a[la..]);
            tb.copy_from_slice(&b[lb..]);
            u64::from_le_bytes(tb).cmp(&u64::from_le_bytes(ta))
        }),
        _ => a.cmp(b),
    }
}

/// Compares an encoded internal key with the internal key `(user,
/// trailer)` without building it: the lookup paths' comparison, free of
/// allocation. Agrees with [`cmp_encoded`] on keys that decode.
pub(crate) fn cmp_with(encoded: &[u8], user: &[u8], trailer: u64) -> Ordering {
    let Some(la) = encoded.len().checked_sub(TRAILER_LEN) else {
        return encoded.cmp(user);
    };
    encoded[..la].cmp(user).then_with(|| {
        let mut ta = [0u8; TRAILER_LEN];
        ta.copy_from_slice(&encoded[la..]);
        trailer.cmp(&u64::from_le_bytes(ta))
    })
}

/// The first eight bytes of a user key as a big-endian number, zero-padded:
/// `prefix(a) < prefix(b)` implies `a < b`, so a search compares these
/// words first and the keys only when they are equal.
pub(crate) fn prefix(user: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = user.len().min(8);
    p[..n].copy_from_slice(&user[..n]);
    u64::from_be_bytes(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_order_matches_struct_order() {
        let keys = [
            InternalKey::new(Bytes::from_static(b"a"), SeqNo(5), ValueKind::Inline),
            InternalKey::new(Bytes::from_static(b"a"), SeqNo(3), ValueKind::Delete),
            InternalKey::new(Bytes::from_static(b"ab"), SeqNo(9), ValueKind::Inline),
            InternalKey::new(Bytes::from_static(b"b"), SeqNo(1), ValueKind::Inline),
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(a.cmp(b), cmp_encoded(&a.encoded(), &b.encoded()));
                assert_eq!(
                    a.cmp(b),
                    cmp_with(&a.encoded(), &b.user, trailer(b.seq, b.kind))
                );
                if prefix(&a.user) < prefix(&b.user) {
                    assert!(a.user < b.user);
                }
            }
            assert_eq!(
                InternalKey::decode(&Bytes::from(a.encoded())).as_ref(),
                Some(a)
            );
        }
    }
}
