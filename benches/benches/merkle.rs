//! Merkle tree benchmarks: build over 1M leaves, inclusion proof generation
//! and verification, consistency proofs, `CompactTree` appends; `rs_merkle`
//! under `--features peers`.
//!
//! Builds start from leaf hashes for both crates (rs_merkle takes only
//! those), so the work compared is the interior nodes: 1M - 1 SHA-256 node
//! hashes. Both use `sha2`, which uses the CPU's SHA extensions here.
//!
//! `cargo bench -p benches --bench merkle [--features peers]`

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use merkle::{CompactTree, Hasher, MerkleTree, Sha256};

const LEAVES: u64 = 1_000_000;

fn leaf_hashes() -> Vec<[u8; 32]> {
    (0..LEAVES)
        .map(|i| Sha256::hash_leaf(&i.to_le_bytes()))
        .collect()
}

fn bench(c: &mut Criterion) {
    let hashes = leaf_hashes();

    let mut group = c.benchmark_group("merkle/build");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("merkle", LEAVES), |b| {
        b.iter_batched(
            || hashes.clone(),
            |h| black_box(MerkleTree::<Sha256>::from_leaf_hashes(h).root()),
            BatchSize::LargeInput,
        )
    });
    group.bench_function(BenchmarkId::new("merkle_1_thread", LEAVES), |b| {
        b.iter_batched(
            || hashes.clone(),
            |h| black_box(MerkleTree::<Sha256>::from_leaf_hashes_on(h, 1).root()),
            BatchSize::LargeInput,
        )
    });
    #[cfg(feature = "peers")]
    group.bench_function(BenchmarkId::new("rs_merkle", LEAVES), |b| {
        b.iter(|| {
            black_box(
                rs_merkle::MerkleTree::<rs_merkle::algorithms::Sha256>::from_leaves(&hashes).root(),
            )
        })
    });
    group.finish();

    let tree = MerkleTree::<Sha256>::from_leaf_hashes(hashes.clone());
    let root = tree.root();
    let mut group = c.benchmark_group("merkle/inclusion_prove_verify");
    group.bench_function(BenchmarkId::new("merkle", LEAVES), |b| {
        let mut i = 0u64;
        b.iter(|| {
            i = (i + 7919) % LEAVES;
            let proof = tree.inclusion_proof(i, LEAVES).unwrap();
            proof.verify(&hashes[i as usize], &root).unwrap();
        })
    });
    #[cfg(feature = "peers")]
    {
        let peer = rs_merkle::MerkleTree::<rs_merkle::algorithms::Sha256>::from_leaves(&hashes);
        let peer_root = peer.root().unwrap();
        group.bench_function(BenchmarkId::new("rs_merkle", LEAVES), |b| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 7919) % LEAVES as usize;
                let proof = peer.proof(&[i]);
                assert!(proof.verify(peer_root, &[i], &[hashes[i]], LEAVES as usize));
            })
        });
    }
    group.finish();

    // The floor under any inclusion verification over 1M leaves: 20 node
    // hashes, each waiting for the one before.
    let mut group = c.benchmark_group("merkle/node_hash_chain_20");
    group.bench_function("sha256", |b| {
        let sibling = hashes[1];
        b.iter(|| {
            let mut r = black_box(hashes[0]);
            for _ in 0..20 {
                r = Sha256::hash_children(&r, &sibling);
            }
            r
        })
    });
    group.finish();

    let mut group = c.benchmark_group("merkle/consistency_prove_verify");
    group.bench_function(BenchmarkId::new("merkle", LEAVES), |b| {
        let mut old = 1u64;
        b.iter(|| {
            old = (old + 7919) % (LEAVES - 1) + 1;
            let proof = tree.consistency_proof(old, LEAVES).unwrap();
            proof.verify(&tree.root_at(old).unwrap(), &root).unwrap();
        })
    });
    group.finish();

    let mut group = c.benchmark_group("merkle/compact_append");
    group.throughput(criterion::Throughput::Elements(1));
    group.bench_function("merkle", |b| {
        let mut log = CompactTree::<Sha256>::new();
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % hashes.len();
            log.push_hash(hashes[i]);
            black_box(log.root())
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = benches::criterion(3);
    targets = bench
}
criterion_main!(benches);
