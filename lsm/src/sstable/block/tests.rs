//! Unit tests of the block format: builder, reader and order walk.

use std::path::Path;

use bytes::Bytes;

use super::order::{FIRST_NOT_ABOVE, KEY_NOT_ABOVE, LAST_NOT_INDEX_KEY, cmp_with_next};
use super::*;
use crate::Error;
use crate::key::cmp_encoded;
use crate::key::{InternalKey, SeqNo, ValueKind};
use crate::varint;

fn k(i: u32) -> Vec<u8> {
    InternalKey::new(
        Bytes::from(format!("key{i:06}")),
        SeqNo(7),
        ValueKind::Inline,
    )
    .encoded()
}

#[test]
fn seek_finds_first_entry_at_or_after_target() {
    let mut b = BlockBuilder::new(4);
    for i in (0..200).step_by(2) {
        b.add(&k(i), format!("v{i}").as_bytes());
    }
    let block = Block::new(Bytes::from(b.finish())).expect("block");
    assert_eq!(block.entries().expect("entries").len(), 100);
    let mut key = Vec::new();
    for i in 0..200 {
        let user = format!("key{i:06}");
        let got = block
            .seek(
                user.as_bytes(),
                crate::key::trailer(SeqNo(7), ValueKind::Inline),
                &mut key,
            )
            .expect("seek");
        if i > 198 {
            assert!(got.is_none());
        } else {
            let want = i + (i % 2);
            assert_eq!(got.expect("some"), format!("v{want}").as_bytes());
            assert_eq!(key, k(want));
        }
    }
}

#[test]
fn spans_from_a_restart_hold_every_entry_at_or_after_the_target() {
    let mut b = BlockBuilder::new(4);
    for i in (0..200).step_by(2) {
        b.add(&k(i), format!("v{i}").as_bytes());
    }
    let block = Block::new(Bytes::from(b.finish())).expect("block");
    let all = block.entries_spans(None).expect("all");
    let seek = crate::key::trailer(SeqNo(crate::key::SEQNO_MAX), ValueKind::SEEK);
    for i in 0..201 {
        let user = format!("key{i:06}");
        let pos = block
            .restart_before(user.as_bytes(), seek)
            .expect("restart");
        let from = block.spans_from(pos).expect("spans");
        // A tail of the whole block's entries, the same bytes...
        let skipped = all.spans.len() - from.spans.len();
        for ((ka, va), (kb, vb)) in all.spans[skipped..].iter().zip(&from.spans) {
            assert_eq!(all.keys[ka.clone()], from.keys[kb.clone()]);
            assert_eq!(va, vb);
        }
        // ...starting at most one restart interval (4) before the target.
        let first_at_or_after = (i as usize).div_ceil(2);
        assert!(skipped <= first_at_or_after, "{i}: {skipped}");
        assert!(first_at_or_after - skipped <= 4, "{i}: {skipped}");
    }
    let m = block
        .spans_from(block.size_bytes())
        .err()
        .expect("past the entries");
    assert_eq!(m.what, "block restart point past the entries");
}

#[test]
fn malformed_blocks_say_what_was_expected_and_found() {
    let m = Block::new(Bytes::from_static(&[1, 0])).expect_err("too short");
    assert_eq!((m.expected, m.found), (4, 2));
    let m = Block::new(Bytes::from_static(&[0, 0, 0, 0, 9, 0, 0, 0])).expect_err("count");
    assert_eq!((m.expected, m.found), (1, 9));
    let m = Block::new(Bytes::from_static(&[0, 0, 0, 0])).expect_err("no restart");
    assert_eq!((m.expected, m.found), (1, 0));
    // One entry (shared 0, unshared 100, value 0) whose key would run
    // past the 3 bytes of entries.
    let block =
        Block::new(Bytes::from_static(&[0, 100, 0, 0, 0, 0, 0, 1, 0, 0, 0])).expect("block");
    let m = block.entries().expect_err("key past the entries");
    assert_eq!(
        (m.what, m.expected, m.found),
        ("block entry key runs past the entries", 3, 103)
    );
    let err = m.at(Path::new("000009.sst"), 4096);
    assert!(matches!(
        err,
        Error::Corruption { ref file, offset: 4096, expected: 3, found: 103, .. }
            if file == Path::new("000009.sst")
    ));
}

/// A block of `keys` as given, in any order: every entry a restart
/// point sharing nothing, each value one byte.
fn raw_block(keys: &[Vec<u8>]) -> Block {
    let mut out = Vec::new();
    let mut restarts = Vec::new();
    for k in keys {
        restarts.push(out.len() as u32);
        varint::put(&mut out, 0);
        varint::put(&mut out, k.len() as u64);
        varint::put(&mut out, 1);
        out.extend_from_slice(k);
        out.push(b'v');
    }
    for r in &restarts {
        out.extend_from_slice(&r.to_le_bytes());
    }
    out.extend_from_slice(&(restarts.len() as u32).to_le_bytes());
    Block::new(Bytes::from(out)).expect("block")
}

fn seq_key(user: &str, seq: u64) -> Vec<u8> {
    InternalKey::new(
        Bytes::copy_from_slice(user.as_bytes()),
        SeqNo(seq),
        ValueKind::Inline,
    )
    .encoded()
}

#[test]
fn keys_out_of_order_are_malformed_for_every_reader() {
    let bounds = |last: &'static [u8]| Bounds { after: None, last };
    // By user key, and by sequence number (an older version first).
    for keys in [
        vec![k(1), k(3), k(2)],
        vec![k(1), k(1)],
        vec![seq_key("a", 3), seq_key("a", 5)],
    ] {
        let last = keys.last().expect("key").clone().leak();
        let block = raw_block(&keys);
        let m = block.check_order(bounds(last)).expect_err("check_order");
        assert_eq!(m.what, KEY_NOT_ABOVE);
        let m = block.entries_shared(None).expect_err("entries_shared");
        assert_eq!(m.what, KEY_NOT_ABOVE);
    }
    let m = raw_block(&[seq_key("c", 1), seq_key("a", 1)])
        .entries_shared(None)
        .expect_err("out of order");
    // The first eight bytes of the user keys, as numbers: the key the
    // entry had to be above, and the entry's.
    assert_eq!(
        (m.expected, m.found),
        (crate::key::prefix(b"c"), crate::key::prefix(b"a"))
    );
    let good = raw_block(&[k(1), k(2), k(3)]);
    assert!(good.check_order(bounds(k(3).leak())).is_ok());
    assert_eq!(good.entries_shared(None).expect("in order").len(), 3);
}

#[test]
fn comparing_with_the_next_key_agrees_with_cmp_encoded() {
    let mut keys = vec![Vec::new(), b"abc".to_vec(), b"abcdefgh".to_vec()];
    for user in ["", "a", "ab", "abc", "abd", "b", "ab~", "abcdefgh"] {
        for seq in [0, 1, 2, 255, 256, 257, 1 << 40] {
            for kind in [ValueKind::Delete, ValueKind::Inline, ValueKind::BlobRef] {
                keys.push(
                    InternalKey::new(Bytes::copy_from_slice(user.as_bytes()), SeqNo(seq), kind)
                        .encoded(),
                );
            }
        }
    }
    for a in &keys {
        for b in &keys {
            let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            for shared in 0..=common {
                assert_eq!(
                    cmp_with_next(a, shared, &b[shared..]),
                    cmp_encoded(a, b),
                    "{a:?} {b:?} shared {shared}"
                );
            }
        }
    }
}

#[test]
fn keys_outside_the_index_bounds_are_malformed() {
    let block = raw_block(&[k(2), k(3), k(4)]);
    let (k1, k2, k3, k4) = (k(1), k(2), k(3), k(4));
    let ok = Bounds {
        after: Some(&k1),
        last: &k4,
    };
    assert!(block.check_order(ok).is_ok());
    assert!(block.entries_shared(Some(ok)).is_ok());
    for (after, last, what) in [
        (&k2, &k4, FIRST_NOT_ABOVE),
        (&k3, &k4, FIRST_NOT_ABOVE),
        (&k1, &k3, LAST_NOT_INDEX_KEY),
        (&k1, &k(5), LAST_NOT_INDEX_KEY),
    ] {
        let b = Bounds {
            after: Some(after),
            last,
        };
        assert_eq!(block.check_order(b).expect_err("check_order").what, what);
        assert_eq!(
            block.entries_shared(Some(b)).expect_err("entries").what,
            what
        );
    }
}

#[test]
fn restart_points_off_the_entries_are_malformed() {
    let mut b = BlockBuilder::new(2);
    for i in 0..6 {
        b.add(&k(i), b"value");
    }
    let good = b.finish();
    let n = good.len();
    let restarts_at = n - 4 - 4 * 3;
    let last = k(5);
    let bounds = Bounds {
        after: None,
        last: &last,
    };
    assert!(
        Block::new(Bytes::from(good.clone()))
            .expect("block")
            .check_order(bounds)
            .is_ok()
    );
    // The second restart point moved one byte into its entry, then
    // onto the entry before it (which shares a prefix).
    let second = u32::from_le_bytes(
        good[restarts_at + 4..restarts_at + 8]
            .try_into()
            .expect("4"),
    );
    for (to, what) in [
        (
            second + 1,
            "block restart point not at the start of an entry",
        ),
        (0, "block restart point not at the start of an entry"),
    ] {
        let mut bad = good.clone();
        bad[restarts_at + 4..restarts_at + 8].copy_from_slice(&to.to_le_bytes());
        let block = Block::new(Bytes::from(bad)).expect("block");
        assert_eq!(block.check_order(bounds).expect_err("restart").what, what);
    }
    // A restart point on an entry that shares a prefix with the one
    // before.
    let block = Block::new(Bytes::from(good.clone())).expect("block");
    let second_entry = block.decode_at(0, &mut Vec::new()).expect("entry").0;
    let mut bad = good.clone();
    bad[restarts_at + 4..restarts_at + 8].copy_from_slice(&(second_entry as u32).to_le_bytes());
    let block = Block::new(Bytes::from(bad)).expect("block");
    let m = block.check_order(bounds).expect_err("shares");
    assert_eq!(m.what, "block restart entry shares a prefix");
}

#[test]
fn truncated_block_is_malformed_not_panic() {
    let mut b = BlockBuilder::new(2);
    for i in 0..10 {
        b.add(&k(i), b"value");
    }
    let bytes = b.finish();
    for cut in 0..bytes.len() {
        if let Ok(block) = Block::new(Bytes::copy_from_slice(&bytes[..cut])) {
            let _ = block.entries();
            let _ = block.seek(b"key000005", 0, &mut Vec::new());
        }
    }
}
