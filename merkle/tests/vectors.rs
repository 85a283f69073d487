//! The RFC 6962/9162 reference vectors (`tests/data/vectors.json`, see
//! `tests/data/VECTORS.md` for their provenance), byte for byte.

use larder_merkle::{ConsistencyProof, Hasher, InclusionProof, MerkleTree, Sha256};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex(s: &Value) -> Vec<u8> {
    let s = s.as_str().unwrap();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn digest(s: &Value) -> [u8; 32] {
    hex(s).try_into().unwrap()
}

fn tree(v: &Value) -> MerkleTree<Sha256> {
    MerkleTree::from_leaves(
        v["leaves"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| hex(&l["data"])),
    )
}

#[test]
fn leaf_hashes_and_empty_root_match() {
    let v = vectors();
    assert_eq!(Sha256::empty_root(), digest(&v["empty_root"]));
    for leaf in v["leaves"].as_array().unwrap() {
        assert_eq!(
            Sha256::hash_leaf(&hex(&leaf["data"])),
            digest(&leaf["leaf_hash"])
        );
    }
}

#[test]
fn roots_match_for_every_size() {
    let v = vectors();
    let tree = tree(&v);
    for root in v["roots"].as_array().unwrap() {
        let size = root["tree_size"].as_u64().unwrap();
        assert_eq!(
            tree.root_at(size).unwrap(),
            digest(&root["root"]),
            "size {size}"
        );
        // Built incrementally, the same.
        let prefix = MerkleTree::<Sha256>::from_leaves(
            v["leaves"].as_array().unwrap()[..size as usize]
                .iter()
                .map(|l| hex(&l["data"])),
        );
        assert_eq!(prefix.root(), digest(&root["root"]));
    }
}

#[test]
fn inclusion_proofs_match_and_verify() {
    let v = vectors();
    let tree = tree(&v);
    let cases = v["inclusion_proofs"].as_array().unwrap();
    assert_eq!(cases.len(), 36);
    for case in cases {
        let (index, size) = (
            case["leaf_index"].as_u64().unwrap(),
            case["tree_size"].as_u64().unwrap(),
        );
        let proof = tree.inclusion_proof(index, size).unwrap();
        let expected: Vec<[u8; 32]> = case["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(digest)
            .collect();
        assert_eq!(proof.path, expected, "({index}, {size})");
        proof
            .verify(&digest(&case["leaf_hash"]), &digest(&case["root"]))
            .unwrap();
        // The published proof, verified on its own.
        let published = InclusionProof::<Sha256> {
            leaf_index: index,
            tree_size: size,
            path: expected,
        };
        published
            .verify(&digest(&case["leaf_hash"]), &digest(&case["root"]))
            .unwrap();
    }
}

#[test]
fn consistency_proofs_match_and_verify() {
    let v = vectors();
    let tree = tree(&v);
    let cases = v["consistency_proofs"].as_array().unwrap();
    assert_eq!(cases.len(), 36);
    for case in cases {
        let (old, new) = (
            case["old_size"].as_u64().unwrap(),
            case["new_size"].as_u64().unwrap(),
        );
        let proof = tree.consistency_proof(old, new).unwrap();
        let expected: Vec<[u8; 32]> = case["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(digest)
            .collect();
        assert_eq!(proof.path, expected, "({old}, {new})");
        let published = ConsistencyProof::<Sha256> {
            old_size: old,
            new_size: new,
            path: expected,
        };
        published
            .verify(&digest(&case["old_root"]), &digest(&case["new_root"]))
            .unwrap();
    }
}

#[test]
fn consistency_from_size_zero_is_refused() {
    let v = vectors();
    let tree = tree(&v);
    assert!(matches!(
        tree.consistency_proof(0, 3),
        Err(larder_merkle::Error::InvalidSize { .. })
    ));
    let proof = ConsistencyProof::<Sha256> {
        old_size: 0,
        new_size: 3,
        path: vec![],
    };
    assert!(
        proof
            .verify(&Sha256::empty_root(), &tree.root_at(3).unwrap())
            .is_err()
    );
    assert!(matches!(
        tree.consistency_proof(5, 3),
        Err(larder_merkle::Error::InvalidSize { .. })
    ));
}
