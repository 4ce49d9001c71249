//! UTC calendar dates for SigV4 (`yyyymmddThhmmssZ`) and for readable `Debug` output.
//!
//! Days since the Unix epoch become a proleptic Gregorian date with the well-known
//! "civil from days" arithmetic: no allocation, no time-zone database.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The last second SigV4's four-digit years can express: 9999-12-31T23:59:59Z.
pub(crate) const MAX_UNIX_SECS: u64 = 253_402_300_799;

const SECS_PER_DAY: u64 = 86_400;

/// A UTC date and time of day, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UtcDateTime {
    pub(crate) year: u64,
    pub(crate) month: u8,
    pub(crate) day: u8,
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    pub(crate) second: u8,
}

impl UtcDateTime {
    /// The date and time `secs` seconds after 1970-01-01T00:00:00Z.
    pub(crate) const fn from_unix_secs(secs: u64) -> Self {
        let days = secs / SECS_PER_DAY;
        let rem = secs % SECS_PER_DAY;
        // Civil from days: shift the epoch to 0000-03-01 so that leap days end a year,
        // then split into 400-year eras of 146097 days.
        let z = days + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097; // day of era, 0..=146096
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
        let mp = (5 * doy + 2) / 153; // month from March, 0..=11
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
        Self {
            year,
            month: month as u8,
            day: day as u8,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// The SigV4 timestamp `yyyymmddThhmmssZ` (the first 8 bytes are the scope date).
    ///
    /// Years after 9999 are written modulo 10000; callers reject them first.
    pub(crate) fn amz_date(&self) -> [u8; 16] {
        let mut out = *b"00000000T000000Z";
        write_digits(&mut out[0..4], self.year);
        write_digits(&mut out[4..6], u64::from(self.month));
        write_digits(&mut out[6..8], u64::from(self.day));
        write_digits(&mut out[9..11], u64::from(self.hour));
        write_digits(&mut out[11..13], u64::from(self.minute));
        write_digits(&mut out[13..15], u64::from(self.second));
        out
    }
}

/// Fill `out` with the low decimal digits of `value`, zero-padded.
fn write_digits(out: &mut [u8], mut value: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Shows a [`SystemTime`] as RFC 3339 UTC (`2024-02-29T12:34:56Z`, sub-seconds dropped)
/// in `Debug` and `Display`; instants SigV4 cannot express fall back to `SystemTime`'s
/// own `Debug`.
#[derive(Clone, Copy)]
pub(crate) struct Rfc3339(pub(crate) SystemTime);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.duration_since(UNIX_EPOCH) {
            Ok(since) if since.as_secs() <= MAX_UNIX_SECS => {
                let t = UtcDateTime::from_unix_secs(since.as_secs());
                write!(
                    f,
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                    t.year, t.month, t.day, t.hour, t.minute, t.second
                )
            }
            _ => write!(f, "{:?}", self.0),
        }
    }
}

impl fmt::Debug for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn amz(secs: u64) -> String {
        String::from_utf8(UtcDateTime::from_unix_secs(secs).amz_date().to_vec()).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(amz(0), "19700101T000000Z");
        assert_eq!(amz(951_782_400), "20000229T000000Z");
        assert_eq!(amz(1_709_164_800), "20240229T000000Z");
        assert_eq!(amz(1_709_251_199), "20240229T235959Z");
        assert_eq!(amz(1_709_251_200), "20240301T000000Z");
        assert_eq!(amz(2_147_483_648), "20380119T031408Z");
        assert_eq!(amz(2_225_039_400), "20400704T183000Z");
        assert_eq!(amz(4_107_542_400), "21000301T000000Z");
        assert_eq!(amz(MAX_UNIX_SECS), "99991231T235959Z");
    }

    #[test]
    fn rfc3339_display() {
        let at = UNIX_EPOCH + Duration::new(1_709_210_096, 999_999_999);
        assert_eq!(Rfc3339(at).to_string(), "2024-02-29T12:34:56Z");
        assert_eq!(format!("{:?}", Rfc3339(UNIX_EPOCH)), "1970-01-01T00:00:00Z");
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(Rfc3339(before).to_string(), format!("{before:?}"));
    }

    /// Every day from 1970 to 9999 agrees with the `time` crate's calendar.
    #[test]
    fn every_day_matches_time_crate() {
        let mut date = time::Date::from_calendar_date(1970, time::Month::January, 1).unwrap();
        for days in 0..=MAX_UNIX_SECS / SECS_PER_DAY {
            let ours = UtcDateTime::from_unix_secs(days * SECS_PER_DAY + 43_200);
            assert_eq!(
                (ours.year, ours.month, ours.day, ours.hour),
                (date.year() as u64, u8::from(date.month()), date.day(), 12),
                "day {days}"
            );
            if let Some(next) = date.next_day() {
                date = next;
            }
        }
    }

    proptest! {
        /// Every second SigV4 can express agrees with the `time` crate's calendar.
        #[test]
        fn matches_time_crate(secs in 0..=MAX_UNIX_SECS) {
            let ours = UtcDateTime::from_unix_secs(secs);
            let theirs = time::OffsetDateTime::from_unix_timestamp(secs as i64).unwrap();
            prop_assert_eq!(ours.year, theirs.year() as u64);
            prop_assert_eq!(ours.month, u8::from(theirs.month()));
            prop_assert_eq!(ours.day, theirs.day());
            prop_assert_eq!(ours.hour, theirs.hour());
            prop_assert_eq!(ours.minute, theirs.minute());
            prop_assert_eq!(ours.second, theirs.second());
            let expected = format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                theirs.year(), u8::from(theirs.month()), theirs.day(),
                theirs.hour(), theirs.minute(), theirs.second()
            );
            prop_assert_eq!(amz(secs), expected);
        }
    }
}
