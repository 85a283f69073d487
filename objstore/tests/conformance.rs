//! The conformance suite (`common/mod.rs`) against every store: in memory,
//! on a simulated and a real disk, and over `object_store` backends.

mod common;

use std::sync::Arc;

use larder_objstore::{FsStore, MemStore};
use vfs::{MemFs, OsFs};

#[test]
fn mem_store_conforms() {
    common::conformance(&MemStore::new(), "", 1 << 20, common::Caps::ALL);
}

#[test]
fn fs_store_over_mem_fs_conforms() {
    let store = FsStore::open(Arc::new(MemFs::new()), "/store").unwrap();
    common::conformance(&store, "", 1 << 20, common::Caps::ALL);
}

#[test]
fn fs_store_over_os_fs_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(Arc::new(OsFs::new()), dir.path().join("store")).unwrap();
    common::conformance(&store, "", 1 << 20, common::Caps::ALL);
}

mod remote {
    use std::sync::Arc;

    use larder_objstore::{RemoteOptions, RemoteStore};
    use object_store::local::LocalFileSystem;
    use object_store::memory::InMemory;

    use crate::common::{self, Caps};

    /// Small parts, so the large object of the suite (11 MiB) is uploaded
    /// in three.
    pub(crate) fn options() -> RemoteOptions {
        RemoteOptions {
            multipart_threshold_bytes: 6 << 20,
            part_bytes: 5 << 20,
            backoff_base: std::time::Duration::from_millis(1),
            ..RemoteOptions::default()
        }
    }

    #[test]
    fn remote_store_over_in_memory_conforms() {
        let store =
            RemoteStore::with_options(Arc::new(InMemory::new()), "db/one", options()).unwrap();
        common::conformance(&store, "", 11 << 20, Caps::ALL);
    }

    #[test]
    fn remote_store_over_local_file_system_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let store = RemoteStore::with_options(Arc::new(local), "db", options()).unwrap();
        // Its puts have no `If-Match`.
        let caps = Caps {
            update: false,
            atomic_create: true,
        };
        common::conformance(&store, "", 11 << 20, caps);
    }

    #[test]
    fn remote_store_over_s3_server_conforms() {
        let server = larder_objstore::testing::S3Server::start().unwrap();
        let bucket = server.bucket("conformance").unwrap();
        let store = RemoteStore::with_options(bucket, "db", options()).unwrap();
        // s3s-fs checks `If-None-Match` then writes, without a lock.
        let caps = Caps {
            update: true,
            atomic_create: false,
        };
        common::conformance(&store, "", 11 << 20, caps);
    }
}
