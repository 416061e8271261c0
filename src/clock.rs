//! Wall-clock time for envelopes and presence: milliseconds since the Unix epoch, and their
//! ISO-8601 form (`2026-11-28T07:02:37.123Z`, as JS `Date#toISOString`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

thread_local! {
    /// The last millisecond [`with_now_iso8601`] formatted on this thread, and its text.
    static LAST_ISO: std::cell::RefCell<(u64, String)> =
        const { std::cell::RefCell::new((u64::MAX, String::new())) };
}

/// Calls `f` with the current time in ISO-8601 form. The text is formatted once per
/// millisecond per thread: the emitters stamp every envelope, often thousands per millisecond.
pub fn with_now_iso8601<R>(f: impl FnOnce(&str) -> R) -> R {
    let now = now_ms();
    LAST_ISO.with(|cell| {
        let mut last = cell.borrow_mut();
        if last.0 != now {
            *last = (now, iso8601(now));
        }
        f(&last.1)
    })
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let millis = ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_to_iso_string() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        // new Date(1795850557123).toISOString()
        assert_eq!(iso8601(1_795_850_557_123), "2026-11-28T07:22:37.123Z");
        // a leap day
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn the_cached_now_is_the_current_millisecond() {
        for _ in 0..1000 {
            let before = now_ms();
            let text = with_now_iso8601(str::to_owned);
            let after = now_ms();
            assert!(
                text == iso8601(before) || text == iso8601(after) || before < after,
                "{text} not between {before} and {after}"
            );
        }
    }
}
