//! What the in-process S3 server (s3s-fs) does with conditional writes,
//! checked through object_store's own S3 client, so the rest of the suite
//! knows what it can rely on.

use std::sync::Arc;

use bytes::Bytes;
use larder_objstore::testing::S3Server;
use larder_objstore::{Error, PutMode, RemoteStore, Store};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutOptions, PutPayload, UpdateVersion};

#[test]
fn s3_server_refuses_a_second_create_and_a_stale_update() {
    let server = S3Server::start().unwrap();
    let bucket = server.bucket("fencing").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let path = Path::from("MANIFEST");
    let put = |bucket: &Arc<dyn ObjectStore>, bytes: &'static [u8], mode| {
        rt.block_on(bucket.put_opts(
            &path,
            PutPayload::from_static(bytes),
            PutOptions::from(mode),
        ))
    };
    // If-None-Match: * on a free name, then on a taken one.
    let first = put(&bucket, b"one", object_store::PutMode::Create).unwrap();
    let second = put(&bucket, b"two", object_store::PutMode::Create);
    assert!(
        matches!(
            second,
            Err(object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. })
        ),
        "If-None-Match ignored: {second:?}"
    );
    // If-Match on the current ETag, then on the stale one.
    let stale = UpdateVersion::from(first);
    let updated = put(
        &bucket,
        b"three",
        object_store::PutMode::Update(stale.clone()),
    )
    .unwrap();
    let lost = put(&bucket, b"four", object_store::PutMode::Update(stale));
    assert!(
        matches!(lost, Err(object_store::Error::Precondition { .. })),
        "If-Match ignored: {lost:?}"
    );
    let got = rt
        .block_on(async { bucket.get(&path).await?.bytes().await })
        .unwrap();
    assert_eq!(got, "three");
    assert_ne!(updated.e_tag, None);
}

#[test]
fn remote_store_on_the_s3_server_fences_a_stale_writer() {
    let server = S3Server::start().unwrap();
    let store = RemoteStore::new(server.bucket("fence").unwrap(), "one").unwrap();
    let a = store
        .put("MANIFEST", Bytes::from_static(b"epoch 1"), PutMode::Create)
        .unwrap();
    store
        .put(
            "MANIFEST",
            Bytes::from_static(b"epoch 2"),
            PutMode::Update {
                version: a.version.clone().unwrap(),
            },
        )
        .unwrap();
    let stale = store.put(
        "MANIFEST",
        Bytes::from_static(b"epoch 1, again"),
        PutMode::Update {
            version: a.version.unwrap(),
        },
    );
    assert!(
        matches!(stale, Err(Error::Precondition { .. })),
        "{stale:?}"
    );
    assert_eq!(store.get("MANIFEST").unwrap().0, "epoch 2");
}
