//! Hostile files: a length or count field set to its maximum, with a valid
//! CRC so the decoder cannot stop at the checksum, must give an `Err`
//! without allocating anything near what the field claims. The work is
//! bounded by counting, not timed: the bytes a decoder allocates, in one
//! request and in all, are bounded by a small multiple of the input's size.

mod common;

use common::{Counting, allocations};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest single allocation a hostile input may cause.
const LARGEST_BYTES_MAX: usize = 64 * 1024;

/// Bytes a decoder may allocate in all per byte of input, plus
/// [`TOTAL_BASE_BYTES`]: a linear bound, where a loop driven by a claimed
/// count instead of the input's length would allocate per claimed item.
/// (The decoders allocate nothing for these inputs today: they refuse the
/// header before reading on.)
const TOTAL_BYTES_PER_INPUT_BYTE: usize = 16;
/// The constant part of the bound on bytes allocated in all.
const TOTAL_BASE_BYTES: usize = 4096;

/// The most bytes a decoder may hold live at once for any of these inputs
/// (each under 40 bytes).
const PEAK_BYTES_MAX: usize = 4096;

/// Appends the CRC-32 of everything before it.
fn sealed(mut bytes: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// Whether every decoder of a format refuses the bytes.
type Refuses = fn(&[u8]) -> bool;

#[test]
fn maximal_length_and_count_fields_fail_without_large_allocations() {
    let mut cases: Vec<(&str, Vec<u8>, Refuses)> = Vec::new();

    // bloom: 32-byte header, slots and payload_len at their maximum.
    for kind in 1u8..=4 {
        for (slots, payload) in [(u64::MAX, u64::MAX), (1 << 40, 1 << 46), (u64::MAX, 0)] {
            let mut h = b"BLMF".to_vec();
            h.extend_from_slice(&[1, kind, if kind == 3 { 2 } else { 1 }, 0]);
            h.extend_from_slice(&slots.to_le_bytes());
            h.extend_from_slice(&7u32.to_le_bytes());
            h.extend_from_slice(&[0; 4]);
            h.extend_from_slice(&payload.to_le_bytes());
            cases.push(("bloom", sealed(h), |b| {
                bloom::BloomFilter::from_bytes(b).is_err()
                    && bloom::BlockedBloomFilter::from_bytes(b).is_err()
                    && bloom::SplitBlockBloomFilter::from_bytes(b).is_err()
                    && bloom::CountingBloomFilter::from_bytes(b).is_err()
                    && bloom::FilterRef::new(b).is_err()
            }));
        }
    }

    // hyperloglog: a sparse sketch claiming u32::MAX entries.
    let mut h = b"HYLS".to_vec();
    h.extend_from_slice(&[1, 2, 14, 1]);
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("hyperloglog sparse count", sealed(h), |b| {
        hyperloglog::HyperLogLog::from_bytes(b).is_err()
            && hyperloglog::UltraLogLog::from_bytes(b).is_err()
    }));

    // merkle: every digest list and index list with a u32::MAX count.
    for (kind, fixed) in [(1u8, 16usize), (2, 16), (3, 8), (4, 8)] {
        let mut h = b"MRKL".to_vec();
        h.extend_from_slice(&[1, kind, 1, 32]);
        h.extend_from_slice(&vec![0; fixed]);
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        cases.push(("merkle", sealed(h), |b| {
            use merkle::{CompactTree, ConsistencyProof, InclusionProof, MultiProof, Sha256};
            InclusionProof::<Sha256>::from_bytes(b).is_err()
                && ConsistencyProof::<Sha256>::from_bytes(b).is_err()
                && MultiProof::<Sha256>::from_bytes(b).is_err()
                && CompactTree::<Sha256>::from_bytes(b).is_err()
        }));
    }

    // The counter sees allocations (so a bound below that holds is not
    // holding because nothing is counted).
    let (_, seen) = allocations(|| std::hint::black_box(vec![1u8; 100_000]).len() == 100_000);
    assert!(
        seen.largest_bytes >= 100_000 && seen.total_bytes >= 100_000 && seen.peak_bytes >= 100_000,
        "{seen:?}"
    );

    for (what, bytes, decode) in cases {
        let (failed, seen) = allocations(|| decode(&bytes));
        assert!(failed, "{what}: {bytes:02x?} decoded");
        // An input of N bytes may allocate a small multiple of N, never
        // what its fields claim (gigabytes to exabytes).
        assert!(
            seen.largest_bytes <= LARGEST_BYTES_MAX,
            "{what}: allocated {seen:?} for a {}-byte input",
            bytes.len()
        );
        assert!(
            seen.peak_bytes <= PEAK_BYTES_MAX,
            "{what}: held {seen:?} at once for a {}-byte input",
            bytes.len()
        );
        let total_max = TOTAL_BYTES_PER_INPUT_BYTE * bytes.len() + TOTAL_BASE_BYTES;
        assert!(
            seen.total_bytes <= total_max,
            "{what}: allocated {seen:?} for a {}-byte input, over {total_max}",
            bytes.len()
        );
    }
}
