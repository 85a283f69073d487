//! `RemoteStore`: a [`Store`] over any [`object_store::ObjectStore`] (S3,
//! GCS, Azure, a local directory, memory), under a prefix.
//!
//! # What crosses the network, and what is retried
//!
//! Each [`Store`] call is one request (a multipart upload: one per part and
//! two more), run with a per-request timeout on the store's own runtime.
//! A request that fails with a timeout, a transport or server error, or
//! (for reads) a body shorter than asked for, is retried with exponential
//! backoff when it is idempotent: `get`, `get_range`, `head`, `list`,
//! `delete`, and `put` with [`PutMode::Overwrite`] (immutable objects are
//! uploaded whole under names never reused, so a second upload writes the
//! same bytes). Server errors (5xx), 408 (request timeout) and 429 (too
//! many requests) are transient too. `NotFound`, precondition, permission
//! and bad-path answers, and every other 4xx status, are final: asking
//! again gets the same answer.
//!
//! A conditional put ([`PutMode::Create`], [`PutMode::Update`]) is never
//! blindly retried. If it fails in a way that leaves its outcome unknown (a
//! timeout, a lost connection, a server error), the object is read back:
//! holding our bytes, the put was ours and returns `Ok`; still as it was
//! before (absent for `Create`, at the named version for `Update`), the put
//! did not happen and is tried again, still conditional; holding other
//! bytes, another writer won and the put fails with
//! [`Error::Precondition`]. If reading back fails too, the put fails with
//! [`Error::OutcomeUnknown`].

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload,
    UpdateVersion,
};

use crate::{Error, ObjectMeta, PutMode, Result, Store, check_name};

/// How a [`RemoteStore`] talks to its object store.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// How long one request may take before it is abandoned (and retried,
    /// if idempotent). Default 30 s. A multipart upload gets this per part.
    pub request_timeout: Duration,
    /// Tries after the first for an idempotent request. Default 5.
    pub retries_max: u32,
    /// The wait before the first retry; each later one waits twice as long,
    /// up to [`RemoteOptions::backoff_max`]. Default 100 ms.
    pub backoff_base: Duration,
    /// The longest wait between tries. Default 5 s.
    pub backoff_max: Duration,
    /// Objects at least this large are uploaded in parts. Default 16 MiB.
    pub multipart_threshold_bytes: usize,
    /// The size of each part but the last. Default 8 MiB; S3 wants at least
    /// 5 MiB.
    pub part_bytes: usize,
    /// Worker threads of the store's runtime. Default 2.
    pub worker_threads: usize,
}

impl Default for RemoteOptions {
    fn default() -> RemoteOptions {
        RemoteOptions {
            request_timeout: Duration::from_secs(30),
            retries_max: 5,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            multipart_threshold_bytes: 16 << 20,
            part_bytes: 8 << 20,
            worker_threads: 2,
        }
    }
}

/// A [`Store`] over an [`object_store::ObjectStore`], every name under a
/// prefix.
///
/// Its methods block; requests run on a small tokio runtime the store owns,
/// so callers need none, and calling from inside another runtime's task is
/// allowed (the caller's thread waits on a channel, it does not `block_on`;
/// as with any blocking call, an async caller should prefer
/// `spawn_blocking`).
///
/// Versions are the store's `ETag`s: [`PutMode::Update`] sends `If-Match`
/// with the version, [`PutMode::Create`] sends `If-None-Match: *`.
///
/// # Concurrency
///
/// Every method may be called from any number of threads at once; each call
/// is its own request(s). Conditional puts are as atomic as the object
/// store makes them (S3, GCS, Azure and `object_store`'s in-memory store:
/// atomic).
pub struct RemoteStore {
    inner: Arc<dyn ObjectStore>,
    prefix: String,
    options: RemoteOptions,
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteStore")
            .field("inner", &self.inner.to_string())
            .field("prefix", &self.prefix)
            .field("options", &self.options)
            .finish()
    }
}

impl Drop for RemoteStore {
    fn drop(&mut self) {
        // Dropping a runtime from inside another one's task panics; this
        // does not wait for the workers, so it never does.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Whether a failed request may have been applied, and whether trying it
/// again is allowed.
enum Failure {
    /// A final answer: not found, precondition, permission, bad path.
    Final(Error),
    /// A timeout, a transport or server error, a short body: the request
    /// may or may not have been applied.
    Transient(Error),
}

impl RemoteStore {
    /// A store of the objects under `prefix` (`""` for the whole bucket;
    /// `/`-separated, no leading or trailing `/`) in `inner`, with default
    /// [`RemoteOptions`].
    ///
    /// # Errors
    ///
    /// [`Error::BadName`] for a bad prefix, [`Error::Remote`] if the runtime
    /// cannot be started.
    pub fn new(inner: Arc<dyn ObjectStore>, prefix: &str) -> Result<RemoteStore> {
        RemoteStore::with_options(inner, prefix, RemoteOptions::default())
    }

    /// [`RemoteStore::new`] with chosen options.
    ///
    /// # Errors
    ///
    /// As [`RemoteStore::new`].
    pub fn with_options(
        inner: Arc<dyn ObjectStore>,
        prefix: &str,
        options: RemoteOptions,
    ) -> Result<RemoteStore> {
        if !prefix.is_empty() {
            check_name(prefix)?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.worker_threads.max(1))
            .thread_name("objstore-remote")
            .enable_all()
            .build()
            .map_err(|e| Error::Remote {
                op: "start",
                name: prefix.to_owned(),
                cause: format!("cannot start the runtime: {e}"),
            })?;
        Ok(RemoteStore {
            inner,
            prefix: prefix.to_owned(),
            options,
            runtime: Some(runtime),
        })
    }

    /// The object store under this one.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    fn path(&self, name: &str) -> Result<Path> {
        check_name(name)?;
        let full = if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        };
        Path::parse(&full).map_err(|_| Error::BadName {
            name: name.to_owned(),
        })
    }

    /// Runs `future` on the store's runtime and waits for it on this
    /// thread, through a channel: never `block_on`, so this works on a
    /// thread of any runtime.
    fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> std::result::Result<T, String> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| "the store is shut down".to_owned())?;
        let (send, recv) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = send.send(future.await);
        });
        recv.recv()
            .map_err(|_| "the store's runtime dropped the request".to_owned())
    }

    /// One try of `request`, bounded by the request timeout, its error
    /// sorted into final or transient.
    async fn try_once<T, F>(
        op: &'static str,
        name: &str,
        timeout: Duration,
        request: F,
    ) -> std::result::Result<T, Failure>
    where
        F: Future<Output = std::result::Result<T, Failure>>,
    {
        match tokio::time::timeout(timeout, request).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Transient(Error::Timeout {
                op,
                name: name.to_owned(),
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            })),
        }
    }

    /// Runs an idempotent request, retrying transient failures with
    /// backoff.
    fn idempotent<T, F, Fut>(&self, op: &'static str, name: &str, request: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, Failure>> + Send,
    {
        self.idempotent_with(self.options.clone(), op, name, request)
    }

    /// [`RemoteStore::idempotent`] with other options, for one call.
    fn idempotent_with<T, F, Fut>(
        &self,
        options: RemoteOptions,
        op: &'static str,
        name: &str,
        request: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, Failure>> + Send,
    {
        let owned = name.to_owned();
        let outcome = self.run(async move {
            let mut wait = options.backoff_base;
            let mut tries = 0;
            loop {
                match Self::try_once(op, &owned, options.request_timeout, request()).await {
                    Ok(value) => return Ok(value),
                    Err(Failure::Final(e)) => return Err(e),
                    Err(Failure::Transient(e)) if tries >= options.retries_max => return Err(e),
                    Err(Failure::Transient(_)) => {
                        tries += 1;
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(options.backoff_max);
                    }
                }
            }
        });
        outcome.map_err(|cause| Error::Remote {
            op,
            name: name.to_owned(),
            cause,
        })?
    }

    fn conditional_put(
        &self,
        name: &str,
        path: Path,
        data: Bytes,
        mode: PutMode,
    ) -> Result<ObjectMeta> {
        let inner = self.inner.clone();
        let options = self.options.clone();
        let owned = name.to_owned();
        let outcome = self.run(async move {
            let mut wait = options.backoff_base;
            let mut tries = 0;
            loop {
                let put = put_once(&inner, &path, &owned, data.clone(), &mode);
                let failure =
                    match Self::try_once("put", &owned, options.request_timeout, put).await {
                        Ok(meta) => return Ok(meta),
                        Err(Failure::Final(Error::Precondition { name, reason })) if tries > 0 => {
                            // A precondition failure after an unknown outcome
                            // may be our own earlier try, landed late.
                            match read_back(&inner, &path, &owned, &data, &mode, &options).await {
                                ReadBack::Ours(meta) => return Ok(meta),
                                _ => return Err(Error::Precondition { name, reason }),
                            }
                        }
                        Err(Failure::Final(e)) => return Err(e),
                        Err(Failure::Transient(e)) => e,
                    };
                match read_back(&inner, &path, &owned, &data, &mode, &options).await {
                    ReadBack::Ours(meta) => return Ok(meta),
                    ReadBack::Other(reason) => {
                        return Err(Error::Precondition {
                            name: owned,
                            reason: format!(
                                "{reason} (after our put failed with an unknown outcome: {failure})"
                            ),
                        });
                    }
                    ReadBack::Unknown(cause) => {
                        return Err(Error::OutcomeUnknown {
                            name: owned,
                            cause: format!("put failed: {failure}; reading back failed: {cause}"),
                        });
                    }
                    ReadBack::Untouched if tries >= options.retries_max => return Err(failure),
                    ReadBack::Untouched => {
                        tries += 1;
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(options.backoff_max);
                    }
                }
            }
        });
        outcome.map_err(|cause| Error::Remote {
            op: "put",
            name: name.to_owned(),
            cause,
        })?
    }
}

/// What reading an object back after a put of unknown outcome found.
enum ReadBack {
    /// Our bytes: the put happened.
    Ours(ObjectMeta),
    /// The object as the precondition wanted it: the put did not happen.
    Untouched,
    /// Another writer's object.
    Other(String),
    /// The read failed too.
    Unknown(String),
}

async fn read_back(
    inner: &Arc<dyn ObjectStore>,
    path: &Path,
    name: &str,
    data: &Bytes,
    mode: &PutMode,
    options: &RemoteOptions,
) -> ReadBack {
    let mut wait = options.backoff_base;
    for tries in 0..=options.retries_max {
        if tries > 0 {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(options.backoff_max);
        }
        let get = async {
            let result = inner.get(path).await?;
            let meta = result.meta.clone();
            let bytes = result.bytes().await?;
            Ok::<_, object_store::Error>((bytes, meta))
        };
        let found = match tokio::time::timeout(options.request_timeout, get).await {
            Ok(Ok((bytes, meta))) => Some((bytes, meta)),
            Ok(Err(object_store::Error::NotFound { .. })) => None,
            Ok(Err(e)) if is_final(&e) => return ReadBack::Unknown(e.to_string()),
            Ok(Err(_)) | Err(_) => continue,
        };
        return match (found, mode) {
            (Some((bytes, meta)), _) if bytes == *data => {
                ReadBack::Ours(object_meta(name, meta.size, meta.e_tag))
            }
            (None, PutMode::Create) => ReadBack::Untouched,
            (None, _) => ReadBack::Other("the object does not exist".to_owned()),
            (Some((_, meta)), PutMode::Update { version })
                if meta.e_tag.as_deref() == Some(version.as_str()) =>
            {
                ReadBack::Untouched
            }
            (Some((_, meta)), _) => ReadBack::Other(format!(
                "it holds another writer's bytes (version {:?})",
                meta.e_tag
            )),
        };
    }
    ReadBack::Unknown(format!(
        "{} reads failed or timed out",
        options.retries_max + 1
    ))
}

async fn put_once(
    inner: &Arc<dyn ObjectStore>,
    path: &Path,
    name: &str,
    data: Bytes,
    mode: &PutMode,
) -> std::result::Result<ObjectMeta, Failure> {
    let size = data.len() as u64;
    let mode = match mode {
        PutMode::Overwrite => object_store::PutMode::Overwrite,
        PutMode::Create => object_store::PutMode::Create,
        PutMode::Update { version } => object_store::PutMode::Update(UpdateVersion {
            e_tag: Some(version.clone()),
            version: None,
        }),
    };
    let result = inner
        .put_opts(path, PutPayload::from_bytes(data), PutOptions::from(mode))
        .await
        .map_err(|e| failure("put", name, e))?;
    Ok(object_meta(name, size, result.e_tag))
}

async fn put_multipart(
    inner: &Arc<dyn ObjectStore>,
    path: &Path,
    name: &str,
    data: Bytes,
    part_bytes: usize,
    part_timeout: Duration,
) -> std::result::Result<ObjectMeta, Failure> {
    let size = data.len() as u64;
    let mut upload = inner
        .put_multipart_opts(path, PutMultipartOptions::default())
        .await
        .map_err(|e| failure("put", name, e))?;
    let mut start = 0;
    let result = async {
        while start < data.len() {
            let end = (start + part_bytes.max(1)).min(data.len());
            let part = upload.put_part(PutPayload::from_bytes(data.slice(start..end)));
            match tokio::time::timeout(part_timeout, part).await {
                Ok(result) => result.map_err(|e| failure("put", name, e))?,
                Err(_) => {
                    return Err(Failure::Transient(Error::Timeout {
                        op: "put",
                        name: name.to_owned(),
                        timeout_ms: u64::try_from(part_timeout.as_millis()).unwrap_or(u64::MAX),
                    }));
                }
            }
            start = end;
        }
        upload.complete().await.map_err(|e| failure("put", name, e))
    }
    .await;
    match result {
        Ok(result) => Ok(object_meta(name, size, result.e_tag)),
        Err(e) => {
            // Best effort: parts of an abandoned upload cost storage.
            let _ = upload.abort().await;
            Err(e)
        }
    }
}

fn object_meta(name: &str, size: u64, e_tag: Option<String>) -> ObjectMeta {
    ObjectMeta {
        name: name.to_owned(),
        size,
        version: e_tag,
    }
}

/// Whether an `object_store` error is an answer (trying again gets the same
/// one), not a failure to get one: a final variant, or an HTTP status that
/// is a client error other than 408 (request timeout) and 429 (too many
/// requests). Server errors (5xx), 408, 429, timeouts and transport
/// failures are transient.
fn is_final(e: &object_store::Error) -> bool {
    use object_store::Error as E;
    let final_variant = matches!(
        e,
        E::NotFound { .. }
            | E::AlreadyExists { .. }
            | E::Precondition { .. }
            | E::NotModified { .. }
            | E::InvalidPath { .. }
            | E::NotSupported { .. }
            | E::NotImplemented { .. }
            | E::PermissionDenied { .. }
            | E::Unauthenticated { .. }
            | E::UnknownConfigurationKey { .. }
    );
    final_variant || http_status(e).is_some_and(is_final_status)
}

/// Whether an HTTP status is a final answer: a 4xx but 408 and 429.
fn is_final_status(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

/// The HTTP status an `object_store` error carries, if any.
///
/// Its HTTP clients (S3, GCS, Azure) map 404, 409, 412, 304, 403 and 401 to
/// variants and leave every other status in a `Generic` error around a
/// private type, whose message is "Server returned non-2xx status code:
/// <status> <reason>: <body>" (object_store 0.14). The type cannot be named
/// outside the crate, so the status is read from that message, in the
/// error or one of its sources.
fn http_status(e: &object_store::Error) -> Option<u16> {
    const MARK: &str = "Server returned non-2xx status code: ";
    // Bounded: a source chain is a few errors deep.
    const DEPTH_MAX: usize = 16;
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    for _ in 0..DEPTH_MAX {
        let error = current?;
        let text = error.to_string();
        if let Some(at) = text.find(MARK) {
            let digits = text.get(at + MARK.len()..at + MARK.len() + 3)?;
            return digits.parse().ok();
        }
        current = error.source();
    }
    None
}

fn failure(op: &'static str, name: &str, e: object_store::Error) -> Failure {
    use object_store::Error as E;
    let name = name.to_owned();
    match e {
        E::NotFound { .. } => Failure::Final(Error::NotFound { name }),
        E::AlreadyExists { source, .. } => Failure::Final(Error::Precondition {
            name,
            reason: format!("it exists ({source})"),
        }),
        E::Precondition { source, .. } => Failure::Final(Error::Precondition {
            name,
            reason: source.to_string(),
        }),
        E::NotSupported { .. } | E::NotImplemented { .. } => Failure::Final(Error::Unsupported {
            op,
            name,
            cause: e.to_string(),
        }),
        e if is_final(&e) => Failure::Final(Error::Remote {
            op,
            name,
            cause: e.to_string(),
        }),
        e => Failure::Transient(Error::Remote {
            op,
            name,
            cause: e.to_string(),
        }),
    }
}

/// Reads `range` of `path`, checking the body is as long as asked.
async fn get_range_once(
    inner: &Arc<dyn ObjectStore>,
    path: &Path,
    name: &str,
    range: Range<u64>,
) -> std::result::Result<Bytes, Failure> {
    // A head first would cost a round trip; ask for the range and read the
    // object's size from the answer instead.
    let options = GetOptions {
        range: Some(GetRange::Bounded(range.clone())),
        ..GetOptions::default()
    };
    let result = match inner.get_opts(path, options).await {
        Ok(result) => result,
        Err(e) => {
            // A range past the end: S3 answers 416, object_store a
            // generic error; find the size to say which.
            if let Ok(meta) = inner.head(path).await
                && range.end > meta.size
            {
                return Err(Failure::Final(Error::OutOfRange {
                    name: name.to_owned(),
                    size: meta.size,
                    range,
                }));
            }
            return Err(failure("get_range", name, e));
        }
    };
    if range.end > result.meta.size {
        return Err(Failure::Final(Error::OutOfRange {
            name: name.to_owned(),
            size: result.meta.size,
            range,
        }));
    }
    let bytes = result
        .bytes()
        .await
        .map_err(|e| failure("get_range", name, e))?;
    let want = range.end - range.start;
    if bytes.len() as u64 != want {
        return Err(Failure::Transient(Error::Remote {
            op: "get_range",
            name: name.to_owned(),
            cause: format!(
                "asked for bytes {}..{} ({want} bytes), got {} bytes",
                range.start,
                range.end,
                bytes.len()
            ),
        }));
    }
    Ok(bytes)
}

impl Store for RemoteStore {
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> Result<ObjectMeta> {
        let path = self.path(name)?;
        if mode != PutMode::Overwrite {
            return self.conditional_put(name, path, data, mode);
        }
        let inner = self.inner.clone();
        let owned = name.to_owned();
        let multipart = data.len() >= self.options.multipart_threshold_bytes;
        let part_bytes = self.options.part_bytes;
        let part_timeout = self.options.request_timeout;
        if multipart {
            // The timeout is per part, inside; bound the whole upload by
            // its parts' timeouts and two more requests.
            let parts = data.len().div_ceil(part_bytes.max(1)) as u32;
            let mut options = self.options.clone();
            options.request_timeout = part_timeout.saturating_mul(parts.saturating_add(2));
            return self.idempotent_with(options, "put", name, move || {
                let (inner, path, owned, data) =
                    (inner.clone(), path.clone(), owned.clone(), data.clone());
                async move {
                    put_multipart(&inner, &path, &owned, data, part_bytes, part_timeout).await
                }
            });
        }
        self.idempotent("put", name, move || {
            let (inner, path, owned, data) =
                (inner.clone(), path.clone(), owned.clone(), data.clone());
            async move { put_once(&inner, &path, &owned, data, &PutMode::Overwrite).await }
        })
    }

    fn get(&self, name: &str) -> Result<(Bytes, ObjectMeta)> {
        let path = self.path(name)?;
        let inner = self.inner.clone();
        let owned = name.to_owned();
        self.idempotent("get", name, move || {
            let (inner, path, owned) = (inner.clone(), path.clone(), owned.clone());
            async move {
                let result = inner
                    .get(&path)
                    .await
                    .map_err(|e| failure("get", &owned, e))?;
                let meta = result.meta.clone();
                let bytes = result
                    .bytes()
                    .await
                    .map_err(|e| failure("get", &owned, e))?;
                if bytes.len() as u64 != meta.size {
                    return Err(Failure::Transient(Error::Remote {
                        op: "get",
                        name: owned,
                        cause: format!("object is {} bytes, got {}", meta.size, bytes.len()),
                    }));
                }
                let meta = object_meta(&owned, meta.size, meta.e_tag);
                Ok((bytes, meta))
            }
        })
    }

    fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        let path = self.path(name)?;
        if range.start > range.end {
            return Err(Error::OutOfRange {
                name: name.to_owned(),
                size: self.head(name)?.size,
                range,
            });
        }
        if range.start == range.end {
            // No request can ask for nothing; the object must exist and be
            // long enough.
            let size = self.head(name)?.size;
            if range.end > size {
                return Err(Error::OutOfRange {
                    name: name.to_owned(),
                    size,
                    range,
                });
            }
            return Ok(Bytes::new());
        }
        let inner = self.inner.clone();
        let owned = name.to_owned();
        self.idempotent("get_range", name, move || {
            let (inner, path, owned, range) =
                (inner.clone(), path.clone(), owned.clone(), range.clone());
            async move { get_range_once(&inner, &path, &owned, range).await }
        })
    }

    fn head(&self, name: &str) -> Result<ObjectMeta> {
        let path = self.path(name)?;
        let inner = self.inner.clone();
        let owned = name.to_owned();
        self.idempotent("head", name, move || {
            let (inner, path, owned) = (inner.clone(), path.clone(), owned.clone());
            async move {
                let meta = inner
                    .head(&path)
                    .await
                    .map_err(|e| failure("head", &owned, e))?;
                Ok(object_meta(&owned, meta.size, meta.e_tag))
            }
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        // object_store lists whole path segments: list the directory the
        // prefix names, and keep the names that start with the prefix.
        let (dir, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let dir = match (self.prefix.is_empty(), dir.is_empty()) {
            (true, true) => None,
            (false, true) => Some(self.prefix.clone()),
            (true, false) => Some(dir.to_owned()),
            (false, false) => Some(format!("{}/{dir}", self.prefix)),
        };
        let dir = match dir.map(|d| Path::parse(&d)) {
            None => None,
            Some(Ok(path)) => Some(path),
            // A prefix no valid name can start with.
            Some(Err(_)) => return Ok(Vec::new()),
        };
        let inner = self.inner.clone();
        let store_prefix = self.prefix.clone();
        let wanted = prefix.to_owned();
        let mut found = self.idempotent("list", prefix, move || {
            let (inner, dir, store_prefix, wanted) = (
                inner.clone(),
                dir.clone(),
                store_prefix.clone(),
                wanted.clone(),
            );
            async move {
                let metas: Vec<object_store::ObjectMeta> = inner
                    .list(dir.as_ref())
                    .try_collect()
                    .await
                    .map_err(|e| failure("list", &wanted, e))?;
                Ok(metas
                    .into_iter()
                    .filter_map(|meta| {
                        let location = meta.location.as_ref();
                        let name = if store_prefix.is_empty() {
                            location
                        } else {
                            location
                                .strip_prefix(store_prefix.as_str())?
                                .strip_prefix('/')?
                        };
                        name.starts_with(wanted.as_str())
                            .then(|| object_meta(name, meta.size, meta.e_tag))
                    })
                    .collect::<Vec<_>>())
            }
        })?;
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    fn delete(&self, name: &str) -> Result<()> {
        let path = self.path(name)?;
        let inner = self.inner.clone();
        let owned = name.to_owned();
        self.idempotent("delete", name, move || {
            let (inner, path, owned) = (inner.clone(), path.clone(), owned.clone());
            async move {
                match inner.delete(&path).await {
                    Ok(()) => Ok(()),
                    Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(failure("delete", &owned, e)),
                }
            }
        })
    }

    fn location(&self) -> String {
        if self.prefix.is_empty() {
            self.inner.to_string()
        } else {
            format!("{}/{}", self.inner, self.prefix)
        }
    }
}
