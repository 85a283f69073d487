//! A real S3 server for tests: `s3s-fs` (S3 over a local directory, on the
//! `s3s` protocol crate) started in-process on `127.0.0.1`, reached through
//! `object_store`'s own S3 client. Behind the `test-server` feature; other
//! crates enable it for their dev-dependency.
//!
//! ```
//! use std::sync::Arc;
//! use bytes::Bytes;
//! use larder_objstore::testing::S3Server;
//! use larder_objstore::{PutMode, RemoteStore, Store};
//!
//! # fn main() -> Result<(), larder_objstore::testing::BoxError> {
//! let server = S3Server::start()?;
//! let bucket = server.bucket("tables")?;
//! let store = RemoteStore::new(bucket, "db")?;
//! store.put("000001.sst", Bytes::from_static(b"hello"), PutMode::Overwrite)?;
//! assert_eq!(store.get_range("000001.sst", 1..3)?, "el");
//! # Ok(())
//! # }
//! ```
//!
//! # Conditional writes
//!
//! `s3s-fs` 0.14 honours `If-None-Match: *` and `If-Match` on PUT, but
//! checks then writes without a lock: two conditional puts racing on one
//! name can both succeed. Its `ETag` is the MD5 of the content, so a put of
//! the same bytes keeps the version. Test fencing against
//! `object_store::memory::InMemory`, whose conditional puts are atomic.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

/// The access key the server accepts.
pub const ACCESS_KEY: &str = "larder-test";
/// The secret key the server accepts.
pub const SECRET_KEY: &str = "larder-test-secret";
/// The region clients sign for.
pub const REGION: &str = "us-east-1";

/// Errors starting the server or a bucket.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An S3 server over a temporary directory, on an ephemeral port of
/// `127.0.0.1`, for as long as this value lives.
///
/// # Concurrency
///
/// The server runs on its own runtime; any number of clients may use it at
/// once. Dropping it stops the server and removes its directory.
pub struct S3Server {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for S3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Server")
            .field("endpoint", &self.endpoint())
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl S3Server {
    /// Starts a server with no buckets.
    ///
    /// # Errors
    ///
    /// If the directory, the runtime or the listening socket cannot be
    /// made.
    pub fn start() -> Result<S3Server, BoxError> {
        let dir = tempfile::Builder::new().prefix("larder-s3-").tempdir()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("s3-test-server")
            .enable_all()
            .build()?;
        let fs = s3s_fs::FileSystem::new(dir.path()).map_err(|e| format!("s3s-fs: {e:?}"))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                // Without it, a small answer waits for the client's
                // delayed ACK (Nagle): some 40 ms a request on loopback.
                let _ = socket.set_nodelay(true);
                let connection = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        Ok(S3Server {
            addr,
            dir,
            runtime: Some(runtime),
        })
    }

    /// The server's URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The directory the server keeps its buckets in, one subdirectory
    /// each, for tests that damage or remove a bucket behind its back.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Creates the bucket `name` (if missing) and returns an
    /// `object_store` S3 client for it: path-style requests over plain
    /// HTTP, signed with the server's static credentials, with the client's
    /// own retries off (a `RemoteStore` over it does the retrying).
    ///
    /// # Errors
    ///
    /// If the bucket's directory cannot be made or the client cannot be
    /// built.
    pub fn bucket(&self, name: &str) -> Result<Arc<dyn ObjectStore>, BoxError> {
        std::fs::create_dir_all(self.dir.path().join(name))?;
        let store = AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_bucket_name(name)
            .with_region(REGION)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            // `RemoteStore` retries; the client's own retries would only
            // stack under them.
            .with_retry(object_store::RetryConfig {
                max_retries: 0,
                ..object_store::RetryConfig::default()
            })
            .build()?;
        Ok(Arc::new(store))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
