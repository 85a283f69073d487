//! `FaultObjectStore`: an [`ObjectStore`] wrapper that makes chosen requests
//! fail, hang, crawl or come back short, in the spirit of `vfs::FaultFs`.
//!
//! # Fault model
//!
//! A rule matches requests by [`ObjectOp`] and path, and fires on every
//! match or only the `n`-th. What it does is an [`ObjectFault`]:
//!
//! - [`ObjectFault::Error`]: the request fails before it reaches the inner
//!   store (nothing happened), with a generic, retryable-looking error, as a
//!   refused connection or a 503 would.
//! - [`ObjectFault::ErrorAfter`]: the request is applied by the inner store,
//!   then its answer is lost: the caller sees an error, though the put or
//!   delete happened. This is what makes a conditional put's outcome
//!   unknown.
//! - [`ObjectFault::Hang`]: the request never completes; only the caller's
//!   timeout ends it. Tests give the caller a timeout of a few milliseconds
//!   (`RemoteOptions::request_timeout`): no test waits on a wall clock for
//!   anything but that.
//! - [`ObjectFault::Slow`]: the request completes after a delay.
//! - [`ObjectFault::ShortBody`]: a get answers with only the first half of
//!   the bytes it claims to return, as a connection cut mid-body would.
//!
//! Every request is counted per [`ObjectOp`], so a test can run a workload
//! once to count its requests and then fault each in turn.
//!
//! For latency like S3's on every request, wrap the store in
//! `object_store::throttle::ThrottledStore`.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use parking_lot::Mutex;

/// A kind of request, as a [`FaultObjectStore`] rule matches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectOp {
    /// A single-request upload.
    Put,
    /// Starting a multipart upload.
    PutMultipart,
    /// A get of the whole object or of a range.
    Get,
    /// A get of the metadata only.
    Head,
    /// A listing.
    List,
    /// A delete of one object.
    Delete,
    /// A server-side copy.
    Copy,
}

/// What a matching rule does to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectFault {
    /// Fail without reaching the inner store.
    Error,
    /// Apply the request, then fail: the caller cannot tell it happened.
    ErrorAfter,
    /// Never complete.
    Hang,
    /// Complete after this delay.
    Slow(Duration),
    /// For a get: return half of the body (at least one byte less). Other
    /// requests fail as with [`ObjectFault::Error`].
    ShortBody,
}

type Matcher = Box<dyn Fn(ObjectOp, &Path) -> bool + Send + Sync>;

struct Rule {
    matches: Matcher,
    /// Fire only on the n-th match (1-based), or on every match.
    nth: Option<u64>,
    seen: u64,
    fault: ObjectFault,
}

#[derive(Default)]
struct Shared {
    rules: Vec<Rule>,
    counts: HashMap<ObjectOp, u64>,
    injected: u64,
}

/// Wraps an [`ObjectStore`] and injects faults. Clones share rules and
/// counters.
///
/// # Concurrency
///
/// Any number of requests may run at once; rules and counters sit behind
/// one lock, taken only to decide a request's fate, never across an await.
#[derive(Clone)]
pub struct FaultObjectStore {
    inner: Arc<dyn ObjectStore>,
    shared: Arc<Mutex<Shared>>,
}

impl fmt::Debug for FaultObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = self.shared.lock();
        f.debug_struct("FaultObjectStore")
            .field("inner", &self.inner.to_string())
            .field("rules", &shared.rules.len())
            .field("injected", &shared.injected)
            .finish()
    }
}

impl fmt::Display for FaultObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultObjectStore({})", self.inner)
    }
}

impl FaultObjectStore {
    /// Wraps `inner`, with no faults yet.
    pub fn new(inner: Arc<dyn ObjectStore>) -> FaultObjectStore {
        FaultObjectStore {
            inner,
            shared: Arc::default(),
        }
    }

    /// Faults the `n`-th (1-based) request of kind `op` from now on.
    pub fn fail_nth(&self, op: ObjectOp, n: u64, fault: ObjectFault) {
        self.fail_nth_when(move |o, _| o == op, n, fault);
    }

    /// Faults every request of kind `op`.
    pub fn fail_every(&self, op: ObjectOp, fault: ObjectFault) {
        self.fail_when(move |o, _| o == op, fault);
    }

    /// Faults every request `matches` accepts.
    pub fn fail_when(
        &self,
        matches: impl Fn(ObjectOp, &Path) -> bool + Send + Sync + 'static,
        fault: ObjectFault,
    ) {
        self.add(Box::new(matches), None, fault);
    }

    /// Faults the `n`-th (1-based) request `matches` accepts.
    pub fn fail_nth_when(
        &self,
        matches: impl Fn(ObjectOp, &Path) -> bool + Send + Sync + 'static,
        n: u64,
        fault: ObjectFault,
    ) {
        self.add(Box::new(matches), Some(n), fault);
    }

    fn add(&self, matches: Matcher, nth: Option<u64>, fault: ObjectFault) {
        self.shared.lock().rules.push(Rule {
            matches,
            nth,
            seen: 0,
            fault,
        });
    }

    /// Removes every rule; counters are kept.
    pub fn clear_faults(&self) {
        self.shared.lock().rules.clear();
    }

    /// Requests of kind `op` seen so far, faulted or not.
    pub fn op_count(&self, op: ObjectOp) -> u64 {
        self.shared.lock().counts.get(&op).copied().unwrap_or(0)
    }

    /// Faults injected so far.
    pub fn injected(&self) -> u64 {
        self.shared.lock().injected
    }

    /// Counts the request and returns the fault of the first rule that
    /// fires on it.
    fn fault_for(&self, op: ObjectOp, path: &Path) -> Option<ObjectFault> {
        let mut shared = self.shared.lock();
        *shared.counts.entry(op).or_default() += 1;
        let mut fired = None;
        for rule in &mut shared.rules {
            if !(rule.matches)(op, path) {
                continue;
            }
            rule.seen += 1;
            if fired.is_none() && rule.nth.is_none_or(|n| n == rule.seen) {
                fired = Some(rule.fault);
            }
        }
        if fired.is_some() {
            shared.injected += 1;
        }
        fired
    }
}

fn injected(op: ObjectOp, path: &Path, when: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "FaultObjectStore",
        source: format!("injected fault: {op:?} of {path} failed {when}").into(),
    }
}

/// Runs `request` under `fault`.
async fn faulted<T>(
    op: ObjectOp,
    path: &Path,
    fault: Option<ObjectFault>,
    request: impl Future<Output = object_store::Result<T>>,
) -> object_store::Result<T> {
    match fault {
        None => request.await,
        Some(ObjectFault::Error | ObjectFault::ShortBody) => {
            Err(injected(op, path, "before reaching the store"))
        }
        Some(ObjectFault::ErrorAfter) => {
            let _ = request.await;
            Err(injected(op, path, "after the store applied it"))
        }
        Some(ObjectFault::Hang) => std::future::pending().await,
        Some(ObjectFault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            request.await
        }
    }
}

#[async_trait]
impl ObjectStore for FaultObjectStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let fault = self.fault_for(ObjectOp::Put, location);
        faulted(
            ObjectOp::Put,
            location,
            fault,
            self.inner.put_opts(location, payload, opts),
        )
        .await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let fault = self.fault_for(ObjectOp::PutMultipart, location);
        faulted(
            ObjectOp::PutMultipart,
            location,
            fault,
            self.inner.put_multipart_opts(location, opts),
        )
        .await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let op = if options.head {
            ObjectOp::Head
        } else {
            ObjectOp::Get
        };
        let fault = self.fault_for(op, location);
        if fault == Some(ObjectFault::ShortBody) && op == ObjectOp::Get {
            let result = self.inner.get_opts(location, options).await?;
            let (meta, range, attributes, extensions) = (
                result.meta.clone(),
                result.range.clone(),
                result.attributes.clone(),
                result.extensions.clone(),
            );
            let bytes = result.bytes().await?;
            let short = bytes.slice(..bytes.len() / 2);
            let body: BoxStream<'static, object_store::Result<Bytes>> =
                futures::stream::once(async move { Ok(short) }).boxed();
            return Ok(GetResult {
                payload: GetResultPayload::Stream(body),
                meta,
                range,
                attributes,
                extensions,
            });
        }
        faulted(op, location, fault, self.inner.get_opts(location, options)).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            let options = GetOptions {
                range: Some(range.clone().into()),
                ..GetOptions::default()
            };
            out.push(self.get_opts(location, options).await?.bytes().await?);
        }
        Ok(out)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let this = self.clone();
        locations
            .and_then(move |path| {
                let this = this.clone();
                async move {
                    let fault = this.fault_for(ObjectOp::Delete, &path);
                    let inner = this.inner.clone();
                    let request = {
                        let path = path.clone();
                        async move {
                            let mut done = inner
                                .delete_stream(futures::stream::once(async { Ok(path) }).boxed());
                            done.try_next().await.map(|_| ())
                        }
                    };
                    faulted(ObjectOp::Delete, &path, fault, request).await?;
                    Ok(path)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let root = Path::default();
        let path = prefix.unwrap_or(&root).clone();
        let fault = self.fault_for(ObjectOp::List, &path);
        let inner = self.inner.list(prefix);
        match fault {
            None => inner,
            Some(ObjectFault::Hang) => futures::stream::pending().boxed(),
            Some(ObjectFault::Slow(delay)) => {
                futures::stream::once(tokio::time::sleep(delay).map(|()| inner))
                    .flatten()
                    .boxed()
            }
            Some(ObjectFault::Error | ObjectFault::ErrorAfter | ObjectFault::ShortBody) => {
                let error = injected(ObjectOp::List, &path, "mid-listing");
                futures::stream::once(async move { Err(error) }).boxed()
            }
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let root = Path::default();
        let path = prefix.unwrap_or(&root).clone();
        let fault = self.fault_for(ObjectOp::List, &path);
        faulted(
            ObjectOp::List,
            &path,
            fault,
            self.inner.list_with_delimiter(prefix),
        )
        .await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let fault = self.fault_for(ObjectOp::Copy, to);
        faulted(
            ObjectOp::Copy,
            to,
            fault,
            self.inner.copy_opts(from, to, options),
        )
        .await
    }
}
