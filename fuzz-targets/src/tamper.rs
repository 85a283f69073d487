//! A proof changed in any byte never verifies.

use merkle::{ConsistencyProof, Hasher, InclusionProof, MerkleTree, Sha256};

/// The input picks a tree size, a leaf, an old size and a byte mask; the
/// genuine inclusion and consistency proofs must verify, and the same bytes
/// XOR the mask (when that changes them) must not, whether or not they
/// still decode. As a verifier does, the sizes a proof claims are held to
/// the sizes the roots are for (RFC 9162 takes both from the signed tree
/// head).
pub fn merkle_tamper(bytes: &[u8]) {
    let [size, index, old, mask @ ..] = bytes else {
        return;
    };
    let size = u64::from(*size % 64) + 1;
    let (index, old) = (u64::from(*index) % size, u64::from(*old) % size + 1);
    let tree = MerkleTree::<Sha256>::from_leaves((0..size).map(u64::to_le_bytes));
    let root = tree.root();
    let leaf = Sha256::hash_leaf(&index.to_le_bytes());
    let tampered = |genuine: &[u8]| -> Option<Vec<u8>> {
        let mut out = genuine.to_vec();
        for (b, m) in out.iter_mut().zip(mask.iter().cycle()) {
            *b ^= m;
        }
        (out != genuine && !mask.is_empty()).then_some(out)
    };

    let Ok(proof) = tree.inclusion_proof(index, size) else {
        panic!("inclusion proof of leaf {index} in {size}");
    };
    assert!(
        proof.verify(&leaf, &root).is_ok(),
        "genuine inclusion proof"
    );
    // The mask can forge the envelope's CRC too; then the proof decodes,
    // but as a different proof it must not verify.
    if let Some(bad) = tampered(&proof.to_bytes())
        && let Ok(p) = InclusionProof::<Sha256>::from_bytes(&bad)
        && p != proof
        && p.tree_size == size
    {
        assert!(
            p.verify(&leaf, &root).is_err(),
            "tampered inclusion proof verified: {p:?}"
        );
    }

    let Ok(proof) = tree.consistency_proof(old, size) else {
        panic!("consistency proof {old} -> {size}");
    };
    let Ok(old_root) = tree.root_at(old) else {
        panic!("root at {old}");
    };
    assert!(
        proof.verify(&old_root, &root).is_ok(),
        "genuine consistency proof"
    );
    if let Some(bad) = tampered(&proof.to_bytes())
        && let Ok(p) = ConsistencyProof::<Sha256>::from_bytes(&bad)
        && p != proof
        && (p.old_size, p.new_size) == (old, size)
    {
        assert!(
            p.verify(&old_root, &root).is_err(),
            "tampered consistency proof verified: {p:?}"
        );
    }
}
