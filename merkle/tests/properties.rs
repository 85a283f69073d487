//! Property tests over trees of 0..=300 leaves.

use larder_merkle::{
    CompactTree, ConsistencyProof, Error, Hasher, InclusionProof, MerkleTree, Sha256, Xxh3,
};
use proptest::prelude::*;

fn leaf(i: u64) -> [u8; 8] {
    i.to_le_bytes()
}

fn tree(n: u64) -> MerkleTree<Sha256> {
    MerkleTree::from_leaves((0..n).map(leaf))
}

/// Hashes the RFC's recursive definition directly, as a model.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::empty_root(),
        1 => leaves[0],
        n => {
            let k = 1 << (63 - (n as u64 - 1).leading_zeros());
            Sha256::hash_children(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

#[test]
fn every_inclusion_and_consistency_proof_verifies_for_small_trees() {
    // Exhaustive for every size up to 64; proptest covers the rest to 300.
    for n in 0..=64u64 {
        let tree = tree(n);
        for size in 1..=n {
            let root = tree.root_at(size).unwrap();
            for index in 0..size {
                tree.inclusion_proof(index, size)
                    .unwrap()
                    .verify(&tree.leaf_hash(index).unwrap(), &root)
                    .unwrap();
            }
            for old in 1..=size {
                tree.consistency_proof(old, size)
                    .unwrap()
                    .verify(&tree.root_at(old).unwrap(), &root)
                    .unwrap();
            }
        }
    }
}

#[test]
fn push_and_bulk_build_agree_with_the_rfc_definition() {
    let mut pushed = MerkleTree::<Sha256>::new();
    let mut compact = CompactTree::<Sha256>::new();
    let mut hashes = Vec::new();
    assert_eq!(pushed.root(), Sha256::empty_root());
    assert_eq!(compact.root(), Sha256::empty_root());
    for i in 0..300u64 {
        pushed.push(&leaf(i));
        compact.push(&leaf(i));
        hashes.push(Sha256::hash_leaf(&leaf(i)));
        let expected = mth(&hashes);
        assert_eq!(pushed.root(), expected, "size {}", i + 1);
        assert_eq!(compact.root(), expected, "compact, size {}", i + 1);
        assert_eq!(tree(i + 1).root(), expected);
        assert_eq!(compact.frontier().len(), (i + 1).count_ones() as usize);
    }
    for size in 0..=300 {
        assert_eq!(pushed.root_at(size).unwrap(), mth(&hashes[..size as usize]));
    }
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn inclusion_proofs_verify_and_any_flipped_byte_fails(
        (size, index) in (1u64..=300).prop_flat_map(|s| (Just(s), 0..s)),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let tree = tree(300);
        let root = tree.root_at(size).unwrap();
        let leaf_hash = tree.leaf_hash(index).unwrap();
        let proof = tree.inclusion_proof(index, size).unwrap();
        proof.verify(&leaf_hash, &root).unwrap();
        // Flip a bit of the proof.
        if !proof.path.is_empty() {
            let mut bad = proof.clone();
            let i = flip.index(bad.path.len() * 32);
            bad.path[i / 32][i % 32] ^= 1 << bit;
            prop_assert!(bad.verify(&leaf_hash, &root).is_err());
        }
        // Of the root, of the leaf.
        let mut bad_root = root;
        bad_root[flip.index(32)] ^= 1 << bit;
        prop_assert!(proof.verify(&leaf_hash, &bad_root).is_err());
        let mut bad_leaf = leaf_hash;
        bad_leaf[flip.index(32)] ^= 1 << bit;
        prop_assert!(proof.verify(&bad_leaf, &root).is_err());
        // Another index always fails; another size fails unless it gives
        // the proof the same shape (tests/data/VECTORS.md explains why).
        for other in 0..size {
            if other != index {
                let moved = InclusionProof::<Sha256> { leaf_index: other, ..proof.clone() };
                prop_assert!(moved.verify(&leaf_hash, &root).is_err());
            }
        }
        for other_size in 1..=300 {
            if other_size != size && other_size > index {
                let same_shape = tree.inclusion_proof(index, other_size).unwrap().path.len() == proof.path.len()
                    && shape(index, other_size) == shape(index, size);
                let resized = InclusionProof::<Sha256> { tree_size: other_size, ..proof.clone() };
                prop_assert_eq!(resized.verify(&leaf_hash, &root).is_ok(), same_shape);
            }
        }
        // Serialization round-trips.
        prop_assert_eq!(InclusionProof::<Sha256>::from_bytes(&proof.to_bytes()).unwrap(), proof);
    }

    #[test]
    fn consistency_proofs_verify_and_any_flipped_byte_fails(
        (new, old) in (1u64..=300).prop_flat_map(|n| (Just(n), 1..=n)),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let tree = tree(300);
        let (old_root, new_root) = (tree.root_at(old).unwrap(), tree.root_at(new).unwrap());
        let proof = tree.consistency_proof(old, new).unwrap();
        proof.verify(&old_root, &new_root).unwrap();
        if !proof.path.is_empty() {
            let mut bad = proof.clone();
            let i = flip.index(bad.path.len() * 32);
            bad.path[i / 32][i % 32] ^= 1 << bit;
            prop_assert!(bad.verify(&old_root, &new_root).is_err());
        }
        let mut bad = old_root;
        bad[flip.index(32)] ^= 1 << bit;
        prop_assert!(proof.verify(&bad, &new_root).is_err());
        let mut bad = new_root;
        bad[flip.index(32)] ^= 1 << bit;
        prop_assert!(proof.verify(&old_root, &bad).is_err());
        // Another old size always fails.
        for other in 1..=new {
            if other != old {
                let moved = ConsistencyProof::<Sha256> { old_size: other, ..proof.clone() };
                prop_assert!(moved.verify(&old_root, &new_root).is_err());
            }
        }
        prop_assert_eq!(ConsistencyProof::<Sha256>::from_bytes(&proof.to_bytes()).unwrap(), proof);
    }

    #[test]
    fn multi_proofs_verify_and_are_no_larger_than_separate_proofs(
        size in 1u64..=300,
        picks in prop::collection::btree_set(0u64..300, 1..20),
    ) {
        let tree = tree(300);
        let indices: Vec<u64> = picks.into_iter().filter(|&i| i < size).collect();
        prop_assume!(!indices.is_empty());
        let root = tree.root_at(size).unwrap();
        let leaves: Vec<_> = indices.iter().map(|&i| tree.leaf_hash(i).unwrap()).collect();
        let proof = tree.multi_proof(&indices, size).unwrap();
        proof.verify(&leaves, &root).unwrap();
        let separate: usize = indices.iter().map(|&i| tree.inclusion_proof(i, size).unwrap().path.len()).sum();
        prop_assert!(proof.hashes.len() <= separate);
        let mut bad = leaves.clone();
        bad[0][0] ^= 1;
        prop_assert!(proof.verify(&bad, &root).is_err());
        if !proof.hashes.is_empty() {
            let mut short = proof.clone();
            short.hashes.pop();
            prop_assert!(matches!(short.verify(&leaves, &root), Err(Error::ProofLength { .. })), "short proof");
        }
        let mut long = proof.clone();
        long.hashes.push([0; 32]);
        prop_assert!(matches!(long.verify(&leaves, &root), Err(Error::ProofLength { .. })), "long proof");
        prop_assert_eq!(larder_merkle::MultiProof::<Sha256>::from_bytes(&proof.to_bytes()).unwrap(), proof);
    }

    #[test]
    fn compact_tree_resumes_from_its_frontier(n in 0u64..300, more in 0u64..50) {
        let mut log = CompactTree::<Xxh3>::new();
        for i in 0..n {
            log.push(&leaf(i));
        }
        let mut resumed = CompactTree::<Xxh3>::from_bytes(&log.to_bytes()).unwrap();
        prop_assert_eq!(&resumed, &log);
        let full = MerkleTree::<Xxh3>::from_leaves((0..n + more).map(leaf));
        for i in n..n + more {
            resumed.push(&leaf(i));
            prop_assert_eq!(resumed.root(), full.root_at(i + 1).unwrap());
        }
    }
}

/// Which sides the path's hashes go on, the proof's "shape".
fn shape(index: u64, size: u64) -> Vec<bool> {
    let (mut start, mut end, mut sides) = (0, size, Vec::new());
    while end - start > 1 {
        let k = 1 << (63 - (end - start - 1).leading_zeros());
        sides.push(index < start + k);
        if index < start + k {
            end = start + k
        } else {
            start += k
        }
    }
    sides.reverse();
    sides
}

#[test]
fn malformed_proofs_are_errors_not_panics() {
    let tree = tree(10);
    let root = tree.root();
    let leaf = tree.leaf_hash(3).unwrap();
    let proof = tree.inclusion_proof(3, 10).unwrap();
    let long = InclusionProof::<Sha256> {
        path: [proof.path.clone(), vec![[0; 32]; 70]].concat(),
        ..proof.clone()
    };
    assert!(matches!(
        long.verify(&leaf, &root),
        Err(Error::ProofLength { .. })
    ));
    let short = InclusionProof::<Sha256> {
        path: proof.path[..1].to_vec(),
        ..proof.clone()
    };
    assert!(matches!(
        short.verify(&leaf, &root),
        Err(Error::ProofLength { .. })
    ));
    let out = InclusionProof::<Sha256> {
        leaf_index: 10,
        ..proof.clone()
    };
    assert!(matches!(
        out.verify(&leaf, &root),
        Err(Error::IndexOutOfRange {
            index: 10,
            tree_size: 10
        })
    ));
    let zero = InclusionProof::<Sha256> {
        leaf_index: 0,
        tree_size: 0,
        path: vec![],
    };
    assert!(zero.verify(&leaf, &root).is_err());
    assert!(matches!(
        tree.inclusion_proof(3, 11),
        Err(Error::InvalidSize { .. })
    ));
    assert!(matches!(
        tree.inclusion_proof(10, 10),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        tree.multi_proof(&[3, 3], 10),
        Err(Error::UnsortedIndices {
            previous: 3,
            got: 3
        })
    ));
    let huge = ConsistencyProof::<Sha256> {
        old_size: 1,
        new_size: u64::MAX,
        path: vec![[0; 32]; 65],
    };
    assert!(huge.verify(&root, &root).is_err());
    let equal = ConsistencyProof::<Sha256> {
        old_size: 4,
        new_size: 4,
        path: vec![[0; 32]],
    };
    assert!(matches!(
        equal.verify(&root, &root),
        Err(Error::ProofLength { .. })
    ));
}
