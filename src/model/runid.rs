//! Run identifiers: a UTC timestamp and a short random suffix (`20261121T223501Z-3fa9c1`). The run
//! id names the run's report directory (`reports/<run-id>/`) and is part of every client request
//! id the harness sends (`llmc-<run-id>-<n>`), so a request in a provider's logs leads back to the
//! run and the case.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::util::time::Utc;

/// The header every request carries. OpenAI documents `X-Client-Request-Id` (ASCII, at most 512
/// characters) as the caller's own id for a request, logged with it on their side.
pub const CLIENT_REQUEST_ID_HEADER: &str = "x-client-request-id";

/// One run's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunId {
    id: String,
    /// When the run started, as `2026-11-21T22:35:01Z`.
    started_at: String,
}

impl RunId {
    /// A fresh id from the clock and six random hex digits.
    pub fn new() -> RunId {
        RunId::at(SystemTime::now(), random_suffix())
    }

    /// The id for a given time and suffix (tests).
    pub fn at(time: SystemTime, suffix: impl Into<String>) -> RunId {
        let Utc {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
        } = Utc::of(time);
        RunId {
            id: format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z-{}", suffix.into()),
            started_at: format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The start time, RFC 3339 in UTC.
    pub fn started_at(&self) -> &str {
        &self.started_at
    }

    /// The client request id of the run's `n`-th case.
    pub fn client_request_id(&self, n: u64) -> String {
        format!("llmc-{}-{n}", self.id)
    }
}

impl Default for RunId {
    fn default() -> Self {
        RunId::new()
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// Six hex digits from the standard library's per-process random hash keys, a counter and the
/// clock: two runs started in the same second get different ids.
fn random_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:06x}", h.finish() & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_timestamps() {
        // 2026-11-21T22:35:01Z
        let t = UNIX_EPOCH + Duration::from_secs(1_795_300_501);
        let id = RunId::at(t, "abc123");
        assert_eq!(id.as_str(), "20261121T223501Z-abc123");
        assert_eq!(id.started_at(), "2026-11-21T22:35:01Z");
        assert_eq!(id.client_request_id(7), "llmc-20261121T223501Z-abc123-7");
        // A leap day and the epoch itself.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(RunId::at(leap, "x").as_str(), "20000229T000000Z-x");
        assert_eq!(RunId::at(UNIX_EPOCH, "x").as_str(), "19700101T000000Z-x");
    }

    #[test]
    fn fresh_ids_differ_and_have_the_documented_shape() {
        let a = RunId::new();
        let b = RunId::new();
        assert_ne!(a, b);
        let re = regex::Regex::new(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$").unwrap();
        assert!(re.is_match(a.as_str()), "{a}");
    }
}
