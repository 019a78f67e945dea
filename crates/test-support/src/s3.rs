//! Whether the object-storage suites run, skip or fail, and a fresh bucket per test.
//!
//! The rule of [`crate::required`], as for PostgreSQL: suites that need an S3-compatible server read its endpoint from
//! [`TEST_S3_ENDPOINT`] (`scripts/s3-server.sh start` runs moto on `http://127.0.0.1:5055`).
//! Locally the variable is often unset, and those tests then skip (saying so once per test
//! binary). In CI (`CI` set, as `.ci/run` does) or with [`REQUIRE_S3`] set, an unset endpoint
//! fails the test: a skipped suite would pass while testing nothing. An endpoint that is set but
//! does not answer always fails.
//!
//! [`S3Bucket`] creates its bucket with a plain unsigned `PUT /{bucket}` and lists and removes it
//! the same way: moto accepts any (or no) credentials, and the tests should see the bucket
//! through raw HTTP, not through the client under test.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::required::RequiredService;

/// The endpoint of the S3-compatible server for tests, e.g. `http://127.0.0.1:5055`.
pub const TEST_S3_ENDPOINT: &str = "TEST_S3_ENDPOINT";

/// Set to `1` to require the S3 server outside CI (like `TEST_REQUIRE_POSTGRES`).
pub const REQUIRE_S3: &str = "TEST_REQUIRE_S3";

/// The access key id the tests configure (moto accepts any).
pub const TEST_ACCESS_KEY_ID: &str = "tw-test-access-key";
/// The secret the tests configure; the tests check that it never shows in errors or logs.
pub const TEST_SECRET_ACCESS_KEY: &str = "tw-test-SECRET-do-not-print-0123456789";

static S3_SERVER: RequiredService = RequiredService::new(
    "the S3 server",
    TEST_S3_ENDPOINT,
    REQUIRE_S3,
    "object-storage tests",
    "run `scripts/s3-server.sh start` and set TEST_S3_ENDPOINT=http://127.0.0.1:5055",
);

/// True when S3 suites must run: `CI` or [`REQUIRE_S3`] is set to anything but empty, `0` or
/// `false`.
pub fn s3_required() -> bool {
    S3_SERVER.required()
}

/// The endpoint for tests: `Some` when [`TEST_S3_ENDPOINT`] is set; `None` (skip the test) when
/// it is not, after telling stderr once per test binary.
///
/// # Panics
/// When the S3 server is [required](s3_required) and the endpoint is not set.
pub fn s3_endpoint() -> Option<String> {
    S3_SERVER.value().map(|endpoint| endpoint.trim_end_matches('/').to_owned())
}

/// A bucket of its own for one test (`tw-{prefix}-{pid}-{n}`), so tests running at once never
/// see each other's objects.
pub struct S3Bucket {
    endpoint: String,
    name: String,
}

impl S3Bucket {
    /// Creates the bucket; `None` (skip) as [`s3_endpoint`] says.
    ///
    /// # Panics
    /// When the server is required but not set, or does not create the bucket.
    pub async fn create(prefix: &str) -> Option<Self> {
        let bucket = Self::unique(prefix)?;
        let (status, body) = bucket.request("PUT", &format!("/{}", bucket.name)).await;
        assert!(status == 200, "cannot create bucket {}: {status} {body}", bucket.name);
        Some(bucket)
    }

    /// A unique bucket name on the server, not created (for "the bucket does not exist").
    pub fn unique(prefix: &str) -> Option<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let endpoint = s3_endpoint()?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let prefix: String = prefix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .take(30)
            .collect();
        let name = format!("tw-{prefix}-{}-{n}", std::process::id());
        Some(Self { endpoint, name })
    }

    /// The server's endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The keys of every object in the bucket, sorted (up to 1000: a test's handful).
    ///
    /// # Panics
    /// When the server does not answer with a listing.
    pub async fn keys(&self) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{}?list-type=2", self.name)).await;
        assert!(status == 200, "cannot list bucket {}: {status} {body}", self.name);
        let mut keys: Vec<String> = body
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>").map(|(key, _)| key.to_owned()))
            .collect();
        keys.sort();
        keys
    }

    /// The ids of the multipart uploads started in the bucket and neither completed nor
    /// aborted.
    ///
    /// # Panics
    /// When the server does not answer with a listing.
    pub async fn pending_uploads(&self) -> Vec<String> {
        let (status, body) = self.request("GET", &format!("/{}?uploads", self.name)).await;
        assert!(status == 200, "cannot list the uploads of bucket {}: {status} {body}", self.name);
        body.split("<UploadId>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</UploadId>").map(|(id, _)| id.to_owned()))
            .collect()
    }

    /// Writes an object directly (a plain unsigned PUT), e.g. an orphan for the start-up sweep.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn put(&self, key: &str, body: &[u8]) {
        let (status, answer) = self.request_with_body("PUT", &format!("/{}/{key}", self.name), body).await;
        assert!(status == 200, "cannot put {key}: {status} {answer}");
    }

    /// Deletes every object, then the bucket; errors are ignored (the server is a test's own).
    pub async fn remove(self) {
        for key in self.keys().await {
            self.request("DELETE", &format!("/{}/{key}", self.name)).await;
        }
        self.request("DELETE", &format!("/{}", self.name)).await;
    }

    async fn request(&self, method: &str, path: &str) -> (u16, String) {
        self.request_with_body(method, path, &[]).await
    }

    /// One HTTP/1.1 request on its own connection (`Connection: close`), read to the end.
    async fn request_with_body(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let authority = self
            .endpoint
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("{TEST_S3_ENDPOINT} must be an http:// URL, got {}", self.endpoint));
        let mut stream = TcpStream::connect(authority).await.unwrap_or_else(|e| {
            panic!("{TEST_S3_ENDPOINT} is set but {} does not answer: {e}", self.endpoint)
        });
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("send the request");
        stream.write_all(body).await.expect("send the body");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read the answer");
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned();
        (status, body)
    }
}
