//! `--db s3://bucket/prefix`: an lsm store whose tables live on S3 (or any
//! S3-compatible server).
//!
//! The client is `object_store`'s `AmazonS3Builder::from_env()`: credentials,
//! region and endpoint come from the usual `AWS_*` environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL` or `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`).
//! The client's own retries are off: [`objstore::RemoteStore`] retries
//! idempotent requests with backoff, and the two would stack.
//!
//! Reading commands open an [`lsm::Reader`] on the prefix (nothing local,
//! nothing written); writing commands keep the write-ahead log and the
//! manifest in a local `--wal-dir` and publish the manifest on the prefix.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use objstore::{ObjectMeta, PutMode, Store};

use crate::{Error, Result};

/// The URL scheme of a remote store.
pub const SCHEME: &str = "s3://";

/// A parsed `s3://bucket/prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// The prefix inside it, without leading or trailing `/` (`""`: the
    /// whole bucket).
    pub prefix: String,
}

impl S3Url {
    /// `Some` if `db` names a remote store (starts with `s3://`), with the
    /// parsed URL or why it is malformed.
    ///
    /// # Errors
    ///
    /// [`Error::BadArgument`] for a URL without a bucket, with an empty,
    /// `.` or `..` path part, or that is not UTF-8.
    pub fn parse(db: &Path) -> Option<Result<S3Url>> {
        let text = db.to_str();
        let bytes = db.as_os_str().as_encoded_bytes();
        if !bytes.starts_with(SCHEME.as_bytes()) {
            return None;
        }
        let Some(text) = text else {
            return Some(Err(Error::BadArgument(format!(
                "--db {}: an s3:// URL must be UTF-8",
                db.display()
            ))));
        };
        Some(S3Url::parse_str(text))
    }

    fn parse_str(text: &str) -> Result<S3Url> {
        let bad = |why: &str| {
            Error::BadArgument(format!(
                "--db {text}: {why} (expected s3://BUCKET or s3://BUCKET/PREFIX)"
            ))
        };
        let rest = text.strip_prefix(SCHEME).unwrap_or(text);
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket"));
        }
        if bucket.contains(['?', '#']) || prefix.contains(['?', '#']) {
            return Err(bad("no query or fragment is allowed"));
        }
        if !prefix.is_empty() && objstore::check_name(prefix).is_err() {
            return Err(bad("the prefix has an empty, `.` or `..` part"));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// Opens the objects under the prefix: an S3 client from the `AWS_*`
    /// environment, under a [`objstore::RemoteStore`] (retries, timeouts),
    /// whose [`Store::location`] is this URL.
    ///
    /// # Errors
    ///
    /// [`Error::Remote`] if the client cannot be built (a bad `AWS_*`
    /// value).
    pub fn open(&self) -> Result<Arc<dyn Store>> {
        let client = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            // `RemoteStore` retries with backoff; the client's own retries
            // (10 tries over 3 minutes by default) would stack under them.
            .with_retry(object_store::RetryConfig {
                max_retries: 0,
                ..object_store::RetryConfig::default()
            })
            .build()
            .map_err(|e| Error::Remote(format!("{self}: cannot make an S3 client: {e}")))?;
        let store = objstore::RemoteStore::new(Arc::new(client), &self.prefix)
            .map_err(|e| Error::Remote(format!("{self}: {e}")))?;
        Ok(Arc::new(Located {
            inner: store,
            location: self.to_string(),
        }))
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "{SCHEME}{}", self.bucket)
        } else {
            write!(f, "{SCHEME}{}/{}", self.bucket, self.prefix)
        }
    }
}

/// A store that names itself by its URL (`s3://bucket/prefix`), so table
/// locations in `inspect` and in error messages are URLs a user can paste.
#[derive(Debug)]
struct Located<S> {
    inner: S,
    location: String,
}

impl<S: Store> Store for Located<S> {
    fn put(&self, name: &str, data: Bytes, mode: PutMode) -> objstore::Result<ObjectMeta> {
        self.inner.put(name, data, mode)
    }

    fn get(&self, name: &str) -> objstore::Result<(Bytes, ObjectMeta)> {
        self.inner.get(name)
    }

    fn get_range(&self, name: &str, range: Range<u64>) -> objstore::Result<Bytes> {
        self.inner.get_range(name, range)
    }

    fn head(&self, name: &str) -> objstore::Result<ObjectMeta> {
        self.inner.head(name)
    }

    fn list(&self, prefix: &str) -> objstore::Result<Vec<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn delete(&self, name: &str) -> objstore::Result<()> {
        self.inner.delete(name)
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Option<Result<S3Url>> {
        S3Url::parse(Path::new(s))
    }

    #[test]
    fn urls_parse_into_bucket_and_prefix() {
        assert!(parse("./data").is_none());
        assert!(parse("s3:/x").is_none());
        let u = parse("s3://b/some/prefix/").unwrap().unwrap();
        assert_eq!((u.bucket.as_str(), u.prefix.as_str()), ("b", "some/prefix"));
        assert_eq!(u.to_string(), "s3://b/some/prefix");
        let u = parse("s3://b").unwrap().unwrap();
        assert_eq!((u.bucket.as_str(), u.prefix.as_str()), ("b", ""));
        assert_eq!(u.to_string(), "s3://b");
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for bad in [
            "s3://",
            "s3:///p",
            "s3://b//p",
            "s3://b/../p",
            "s3://b/p?x=1",
        ] {
            let e = parse(bad).unwrap().unwrap_err();
            assert!(matches!(e, Error::BadArgument(_)), "{bad}: {e}");
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
