//! Retry arithmetic: which waits a transient failure earns, and the run's request budget.
//!
//! Backoff is exponential with full jitter (a uniform wait between zero and
//! `min(max, base × 2^retry)`), unless the server named its own wait with `retry-after-ms` or
//! `Retry-After` (seconds or an HTTP date), which is honoured as long as it fits in the time the
//! case has left. Only the `retry` class is ever retried (see `Class::retryable`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::model::plan::RetryPolicy;

/// Where a wait came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitSource {
    Backoff,
    RetryAfter,
}

/// The longest wait a server's hint can name. Anything longer (an absurd number, one that does
/// not fit in a [`Duration`], infinity, NaN, an HTTP date decades away) is taken as this cap,
/// which is far past any case's deadline, so the retry is declined rather than waited for.
pub const MAX_HINT: Duration = Duration::from_secs(24 * 60 * 60);

/// The server's own hint, from `retry-after-ms` (milliseconds) or `Retry-After` (seconds or an
/// HTTP date, relative to `now`). A negative number is no hint; a non-finite or absurd one is
/// [`MAX_HINT`].
pub fn server_hint(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok()) {
        if let Some(d) = from_secs(ms / 1000.0) {
            return Some(d);
        }
    }
    let v = retry_after?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return from_secs(secs);
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_HINT))
}

/// A wait of `secs` seconds, at most [`MAX_HINT`]; `None` when negative. Never panics.
fn from_secs(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs == f64::INFINITY {
        return Some(MAX_HINT);
    }
    if secs < 0.0 {
        return None;
    }
    if secs == 0.0 {
        return Some(Duration::ZERO);
    }
    Some(Duration::try_from_secs_f64(secs).map_or(MAX_HINT, |d| d.min(MAX_HINT)))
}

/// The random source of the jitter: a seedable [`fastrand::Rng`] behind a lock, so retries
/// running at once each take their own draw (one update at a time); no cryptographic use.
#[derive(Debug)]
pub struct Jitter(Mutex<fastrand::Rng>);

impl Jitter {
 #[cfg(test)]
    /// A jitter that draws the same sequence for the same seed (tests).
    pub fn new(seed: u64) -> Self {
        Jitter(Mutex::new(fastrand::Rng::with_seed(seed)))
    }

    /// A jitter seeded once from fastrand's own (randomly seeded) generator.
    pub fn from_clock() -> Self {
        Jitter(Mutex::new(fastrand::Rng::new()))
    }

    /// A uniform value in [0, 1).
    pub fn unit(&self) -> f64 {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).f64()
    }
}

/// The backoff ceiling before retry number `retry` (0-based): `min(max, base × 2^retry)`.
pub fn ceiling(policy: &RetryPolicy, retry: u32) -> Duration {
    let base = Duration::from_millis(policy.base_ms);
    let factor = 2u32.saturating_pow(retry.min(30));
    base.saturating_mul(factor)
        .min(Duration::from_millis(policy.max_ms))
}

/// The wait before retry number `retry`: the server's hint when it gave one, else full jitter.
pub fn wait(
    policy: &RetryPolicy,
    retry: u32,
    hint: Option<Duration>,
    jitter: &Jitter,
) -> (Duration, WaitSource) {
    match hint {
        Some(h) => (h, WaitSource::RetryAfter),
        None => (
            ceiling(policy, retry).mul_f64(jitter.unit()),
            WaitSource::Backoff,
        ),
    }
}

/// A cap on the requests a run may send, retries included.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
}

impl Budget {
    pub fn new(limit: usize) -> Self {
        Budget {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// Takes one request from the budget; false when it is spent.
    pub fn take(&self) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                (u < self.limit).then_some(u + 1)
            })
            .is_ok()
    }

    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            base_ms: 100,
            max_ms: 1000,
            deadline_ms: 10_000,
        }
    }

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let p = policy();
        let got: Vec<u128> = (0..6).map(|r| ceiling(&p, r).as_millis()).collect();
        assert_eq!(got, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn full_jitter_stays_under_the_ceiling_and_varies() {
        let p = policy();
        let j = Jitter::new(42);
        let waits: Vec<Duration> = (0..200).map(|_| wait(&p, 2, None, &j).0).collect();
        assert!(waits.iter().all(|w| *w < Duration::from_millis(400)));
        let distinct: std::collections::BTreeSet<u128> =
            waits.iter().map(Duration::as_micros).collect();
        assert!(
            distinct.len() > 150,
            "jitter should spread waits: {}",
            distinct.len()
        );
        assert!(waits.iter().any(|w| *w < Duration::from_millis(100)));
        assert!(waits.iter().any(|w| *w > Duration::from_millis(300)));
    }

    #[test]
    fn jitter_is_seedable_uniform_and_shared() {
        let (a, b) = (Jitter::new(7), Jitter::new(7));
        let xs: Vec<f64> = (0..50).map(|_| a.unit()).collect();
        let ys: Vec<f64> = (0..50).map(|_| b.unit()).collect();
        assert_eq!(xs, ys, "the same seed draws the same sequence");
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = (0..10_000).map(|_| a.unit()).sum::<f64>() / 10_000.0;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
        // Shared by concurrent retries: every draw is its own (no two threads read one state).
        let shared = Jitter::from_clock();
        let draws: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..500)
                            .map(|_| shared.unit().to_bits())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        let distinct: std::collections::BTreeSet<u64> = draws.iter().copied().collect();
        assert_eq!(distinct.len(), draws.len());
    }

    #[test]
    fn server_hints_win() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            server_hint(None, Some("2"), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            server_hint(Some("1500"), Some("9"), now),
            Some(Duration::from_millis(1500))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            server_hint(None, Some(&date), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(server_hint(None, Some("soon"), now), None);
        assert_eq!(server_hint(None, Some("-3"), now), None);
        let (w, src) = wait(&policy(), 0, Some(Duration::from_secs(2)), &Jitter::new(1));
        assert_eq!((w, src), (Duration::from_secs(2), WaitSource::RetryAfter));
    }

    #[test]
    fn absurd_server_hints_are_capped_not_a_panic() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        for (ms, secs) in [
            (None, Some("99999999999999999999")),
            (None, Some("1e300")),
            (None, Some("inf")),
            (Some("1e30"), None),
            (Some("inf"), Some("2")),
            (Some("NaN"), Some("2")),
        ] {
            assert_eq!(server_hint(ms, secs, now), Some(MAX_HINT), "{ms:?} {secs:?}");
        }
        // An HTTP date far ahead is capped too; a wait just under the cap is kept.
        let far = httpdate::fmt_http_date(now + Duration::from_secs(50 * 365 * 86_400));
        assert_eq!(server_hint(None, Some(&far), now), Some(MAX_HINT));
        assert_eq!(
            server_hint(Some("1000"), None, now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(server_hint(None, Some("-3"), now), None);
        assert_eq!(server_hint(Some("-1"), None, now), None);
    }

    #[test]
    fn the_budget_is_shared_and_bounded() {
        let b = Budget::new(3);
        assert!(b.take() && b.take() && b.take());
        assert!(!b.take());
        assert_eq!(b.used(), 3);
    }
}
