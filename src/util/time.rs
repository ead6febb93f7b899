//! Civil time in UTC without a time-zone crate: RFC 3339 stamps, run-id stamps and whole days
//! between dates (Howard Hinnant's days-from-civil algorithms).

use std::time::{Duration, SystemTime};

/// `d` times `factor`, never panicking: a factor that is not a positive finite number (zero, a
/// negative, NaN) gives zero, infinity or a product past what a [`Duration`] holds gives
/// [`Duration::MAX`]. `Duration::mul_f64` panics on the last two.
pub fn scaled(d: Duration, factor: f64) -> Duration {
    if factor.is_nan() || factor <= 0.0 || d.is_zero() {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(d.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

/// Days since 1970-01-01 for a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(t: SystemTime) -> String {
    let u = Utc::of(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        u.year, u.month, u.day, u.hour, u.minute, u.second
    )
}

/// Whole days from a `YYYY-MM-DD…` date to `now`, or `None` when the date does not parse.
pub fn age_days(date: &str, now: SystemTime) -> Option<i64> {
    let d = date.get(..10)?;
    let mut parts = d.split('-');
    let (y, m, day) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    let today = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs() as i64 / 86_400;
    Some(today - days_from_civil(y, m, day))
}

/// A moment in UTC, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
}

impl Utc {
    /// The moment `t` (before 1970: the epoch).
    pub fn of(t: SystemTime) -> Utc {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as i64;
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400);
        Utc {
            year,
            month,
            day,
            hour: s / 3600,
            minute: s / 60 % 60,
            second: s % 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_a_wait_never_panics() {
        let s = Duration::from_secs(2);
        assert_eq!(scaled(s, 0.5), Duration::from_secs(1));
        assert_eq!(scaled(s, 1000.0), Duration::from_secs(2000));
        for f in [0.0, -1.0, f64::NAN, f64::NEG_INFINITY] {
            assert_eq!(scaled(s, f), Duration::ZERO, "{f}");
        }
        assert_eq!(scaled(s, f64::INFINITY), Duration::MAX);
        assert_eq!(scaled(Duration::MAX, 2.0), Duration::MAX);
        assert_eq!(scaled(Duration::ZERO, f64::INFINITY), Duration::ZERO);
    }
    use std::time::Duration;

    #[test]
    fn dates_round_trip() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_219_200); // 2026-11-21
        assert_eq!(&rfc3339(t)[..10], "2026-11-21");
        assert_eq!(age_days("2026-11-01", t), Some(20));
        assert_eq!(age_days("2026-11-21T10:00:00Z", t), Some(0));
        assert_eq!(age_days("soon", t), None);
    }

    #[test]
    fn utc_parts() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_219_200 + 3_723);
        let u = Utc::of(t);
        assert_eq!((u.year, u.month, u.day), (2026, 11, 21));
        assert_eq!((u.hour, u.minute, u.second), (1, 2, 3));
    }
}
