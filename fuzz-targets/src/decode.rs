//! Decoders on arbitrary bytes: `Ok` or `Err`, never a panic, and whatever
//! decodes re-encodes to bytes that decode to the same value.

use std::fmt::Debug;

/// Decodes, and if that succeeds checks that encoding and decoding again
/// gives the same value.
fn round_trip<T, E>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, E>,
    encode: impl Fn(&T) -> Vec<u8>,
) -> Option<T>
where
    T: PartialEq + Debug,
{
    let value = decode(bytes).ok()?;
    let again = encode(&value);
    match decode(&again) {
        Ok(back) => assert_eq!(back, value, "re-encoded value decodes differently"),
        Err(_) => panic!("re-encoded value does not decode"),
    }
    Some(value)
}

/// Keys probed in every filter that decodes.
const PROBES: [&[u8]; 4] = [b"", b"a", b"key:42", &[0xff; 40]];

/// `bloom`: every kind's `from_bytes`, and `FilterRef`, which must answer
/// as the owned filter of its kind does.
pub fn bloom_decode(bytes: &[u8]) {
    use bloom::{BlockedBloomFilter, BloomFilter, CountingBloomFilter, SplitBlockBloomFilter};
    let answers: Vec<Vec<bool>> = [
        round_trip(bytes, BloomFilter::from_bytes, BloomFilter::to_bytes)
            .map(|f| PROBES.map(|k| f.contains(k)).to_vec()),
        round_trip(
            bytes,
            BlockedBloomFilter::from_bytes,
            BlockedBloomFilter::to_bytes,
        )
        .map(|f| PROBES.map(|k| f.contains(k)).to_vec()),
        round_trip(
            bytes,
            SplitBlockBloomFilter::from_bytes,
            SplitBlockBloomFilter::to_bytes,
        )
        .map(|f| PROBES.map(|k| f.contains(k)).to_vec()),
        round_trip(
            bytes,
            CountingBloomFilter::from_bytes,
            CountingBloomFilter::to_bytes,
        )
        .map(|f| PROBES.map(|k| f.contains(k)).to_vec()),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(
        answers.len() <= 1,
        "bytes decode as {} kinds",
        answers.len()
    );
    if let Ok(view) = bloom::FilterRef::new(bytes) {
        let viewed = PROBES.map(|k| view.contains(k)).to_vec();
        // A view is refused only where an owned decode is too; when both
        // accept, they answer alike.
        if let Some(owned) = answers.first() {
            assert_eq!(&viewed, owned, "FilterRef and the owned filter disagree");
        }
    }
}

/// `hyperloglog`: `HyperLogLog::from_bytes`, `UltraLogLog::from_bytes`,
/// `HyperLogLog::from_redis`; counting what decodes must not panic.
pub fn hyperloglog_decode(bytes: &[u8]) {
    use hyperloglog::{HyperLogLog, UltraLogLog};
    if let Some(s) = round_trip(bytes, HyperLogLog::from_bytes, HyperLogLog::to_bytes) {
        let _ = s.count();
    }
    if let Some(s) = round_trip(bytes, UltraLogLog::from_bytes, UltraLogLog::to_bytes) {
        let _ = s.count();
    }
    if let Ok(s) = HyperLogLog::from_redis(bytes) {
        let _ = s.count();
        let redis = s
            .to_redis()
            .unwrap_or_else(|e| panic!("to_redis of a decoded sketch: {e}"));
        match HyperLogLog::from_redis(&redis) {
            Ok(back) => assert_eq!(back, s, "to_redis bytes decode differently"),
            Err(e) => panic!("to_redis bytes do not decode: {e}"),
        }
    }
}

/// `merkle`: every proof kind and the frontier, for both hashers; a proof
/// that decodes is verified against a root taken from the input, which must
/// not panic.
pub fn merkle_decode(bytes: &[u8]) {
    use merkle::{CompactTree, ConsistencyProof, InclusionProof, MultiProof, Sha256, Xxh3};
    let root: [u8; 32] = std::array::from_fn(|i| bytes.get(i).copied().unwrap_or(0));
    let short: [u8; 16] = std::array::from_fn(|i| root[i]);
    if let Some(p) = round_trip(
        bytes,
        InclusionProof::<Sha256>::from_bytes,
        InclusionProof::to_bytes,
    ) {
        let _ = p.verify(&root, &root);
    }
    if let Some(p) = round_trip(
        bytes,
        InclusionProof::<Xxh3>::from_bytes,
        InclusionProof::to_bytes,
    ) {
        let _ = p.verify(&short, &short);
    }
    if let Some(p) = round_trip(
        bytes,
        ConsistencyProof::<Sha256>::from_bytes,
        ConsistencyProof::to_bytes,
    ) {
        let _ = p.verify(&root, &root);
    }
    if let Some(p) = round_trip(
        bytes,
        ConsistencyProof::<Xxh3>::from_bytes,
        ConsistencyProof::to_bytes,
    ) {
        let _ = p.verify(&short, &short);
    }
    if let Some(p) = round_trip(
        bytes,
        MultiProof::<Sha256>::from_bytes,
        MultiProof::to_bytes,
    ) {
        let _ = p.verify(&[root; 3], &root);
    }
    if let Some(p) = round_trip(bytes, MultiProof::<Xxh3>::from_bytes, MultiProof::to_bytes) {
        let _ = p.verify(&[short; 3], &short);
    }
    if let Some(t) = round_trip(
        bytes,
        CompactTree::<Sha256>::from_bytes,
        CompactTree::to_bytes,
    ) {
        let _ = t.root();
    }
    if let Some(t) = round_trip(
        bytes,
        CompactTree::<Xxh3>::from_bytes,
        CompactTree::to_bytes,
    ) {
        let _ = t.root();
    }
}
