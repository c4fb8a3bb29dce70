//! UTC instants as .NET ticks (100 ns since 0001-01-01T00:00Z), with the xs:dateTime text form
//! ASP.NET writes in key XML (`XmlConvert`: 0–7 fractional digits, `Z` or an offset).

use std::fmt;

use super::error::{DataProtectionError, Result};

/// A UTC instant in .NET ticks (100 ns since 0001-01-01T00:00Z), as key XML and
/// time-limited payloads hold it. Spans are ticks too: [`minutes`], [`hours`], [`days`].
///
/// ```
/// use trousseau::{dataprotection::timestamp::days, Timestamp};
///
/// let t = Timestamp::parse("2026-03-01T12:30:00Z")?;
/// assert_eq!(t.unix_seconds(), 1_772_368_200);
/// assert_eq!(t.plus(days(1)).to_string(), "2026-03-02T12:30:00Z");
/// assert_eq!(Timestamp::parse("2026-03-01T14:30:00+02:00")?, t); // offsets are normalised
/// assert!(Timestamp::now() > t.plus(-days(365 * 10)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Ticks per second.
pub const TICKS_PER_SECOND: i64 = 10_000_000;
const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;
/// The last tick of 9999-12-31 (.NET `DateTime.MaxValue`).
const MAX_TICKS: i64 = 3_155_378_975_999_999_999;

/// `n` minutes in ticks.
pub const fn minutes(n: i64) -> i64 {
    n * 60 * TICKS_PER_SECOND
}

/// `n` hours in ticks.
pub const fn hours(n: i64) -> i64 {
    minutes(n * 60)
}

/// `n` days in ticks.
pub const fn days(n: i64) -> i64 {
    n * TICKS_PER_DAY
}

// Days since 0001-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil, shifted).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 306 // 0000-03-01 based → 0001-01-01 based
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 306;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Timestamp {
    /// The current time (the Unix epoch if the clock reads earlier).
    pub fn now() -> Timestamp {
        Timestamp::from_system_time(std::time::SystemTime::now())
            .unwrap_or(Timestamp(UNIX_EPOCH_TICKS))
    }

    /// The instant `t` (a file's modification time, say), to 100 ns; `None` before the Unix
    /// epoch or beyond what ticks can hold.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use trousseau::Timestamp;
    ///
    /// let t = Timestamp::from_system_time(UNIX_EPOCH + Duration::from_secs(1_796_000_022));
    /// assert_eq!(t.map(|t| t.to_string()), Some("2026-11-30T00:53:42Z".to_string()));
    /// ```
    pub fn from_system_time(t: std::time::SystemTime) -> Option<Timestamp> {
        let since = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos() / 100;
        Some(Timestamp(
            UNIX_EPOCH_TICKS.checked_add(i64::try_from(since).ok()?)?,
        ))
    }

    /// This instant plus `ticks` (saturating).
    #[must_use]
    pub fn plus(self, ticks: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ticks))
    }

    /// Parses xs:dateTime as .NET's `XmlConvert`: `yyyy-MM-ddTHH:mm:ss`, 0–7 fractional
    /// digits, then `Z`, `±hh:mm` (at most 14:00 either way) or nothing (taken as UTC). A date
    /// alone (`yyyy-MM-dd`) is midnight UTC. The instant must lie within .NET's `DateTime`
    /// range (years 0001–9999 in UTC).
    ///
    /// The text is read as bytes: any character that is not where the pattern expects it
    /// (including non-ASCII ones) is an error naming the text, never a panic.
    pub fn parse(text: &str) -> Result<Timestamp> {
        let bad = || {
            DataProtectionError::InvalidInput(format!(
                "invalid date {text:?}: expected yyyy-MM-ddTHH:mm:ss[.fffffff][Z|±hh:mm]"
            ))
        };
        let b = text.trim().as_bytes();
        // The decimal value of the ASCII digits b[at..at + n], `None` unless all are digits.
        let num = |at: usize, n: usize| -> Option<i64> {
            let digits = b.get(at..at.checked_add(n)?)?;
            digits.iter().try_fold(0i64, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
            })
        };
        let at = |i: usize, c: u8| b.get(i) == Some(&c);
        if !(at(4, b'-') && at(7, b'-')) {
            return Err(bad());
        }
        let (y, mo, d) = (
            num(0, 4).ok_or_else(bad)?,
            num(5, 2).ok_or_else(bad)?,
            num(8, 2).ok_or_else(bad)?,
        );
        let (mut secs, mut frac, mut pos) = (0i64, 0i64, 10usize);
        if at(10, b'T') {
            if !(at(13, b':') && at(16, b':')) {
                return Err(bad());
            }
            let (h, mi, s) = (
                num(11, 2).ok_or_else(bad)?,
                num(14, 2).ok_or_else(bad)?,
                num(17, 2).ok_or_else(bad)?,
            );
            if h > 23 || mi > 59 || s > 59 {
                return Err(bad());
            }
            secs = h * 3600 + mi * 60 + s;
            pos = 19;
            if at(pos, b'.') {
                let n = b[pos + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if n == 0 || n > 7 {
                    return Err(bad());
                }
                // n ≤ 7, so the shift fits a u32 exponent and the product fits i64.
                frac = num(pos + 1, n).ok_or_else(bad)? * 10i64.pow(7 - n as u32);
                pos += 1 + n;
            }
        }
        let offset = match &b[pos..] {
            b"" | b"Z" => 0,
            [sign @ (b'+' | b'-'), ..] if b.len() - pos == 6 && at(pos + 3, b':') => {
                let (oh, om) = (
                    num(pos + 1, 2).ok_or_else(bad)?,
                    num(pos + 4, 2).ok_or_else(bad)?,
                );
                if om > 59 || oh * 60 + om > 14 * 60 {
                    return Err(DataProtectionError::InvalidInput(format!(
                        "invalid date {text:?}: the zone offset is outside -14:00..+14:00"
                    )));
                }
                let v = oh * 3600 + om * 60;
                if *sign == b'-' {
                    -v
                } else {
                    v
                }
            }
            _ => return Err(bad()),
        };
        if !(1..=9999).contains(&y) || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo)
        {
            return Err(bad());
        }
        // Every part is range-checked above, so this cannot overflow (|ticks| < 2^62).
        let ticks =
            days_from_civil(y, mo, d) * TICKS_PER_DAY + (secs - offset) * TICKS_PER_SECOND + frac;
        if !(0..=MAX_TICKS).contains(&ticks) {
            return Err(DataProtectionError::InvalidInput(format!(
                "invalid date {text:?}: in UTC it falls outside years 0001–9999"
            )));
        }
        Ok(Timestamp(ticks))
    }

    fn parts(self) -> ((i64, i64, i64), i64, i64, i64, i64) {
        let days = self.0.div_euclid(TICKS_PER_DAY);
        let rem = self.0.rem_euclid(TICKS_PER_DAY);
        let secs = rem / TICKS_PER_SECOND;
        (
            civil_from_days(days),
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            rem % TICKS_PER_SECOND,
        )
    }

    /// The friendly-name form of a mass revocation: `yyyyMMddTHHmmssFFFFFFFZ`.
    pub fn compact(self) -> String {
        let ((y, mo, d), h, mi, s, f) = self.parts();
        format!(
            "{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}{}Z",
            trimmed_fraction(f)
        )
    }

    /// The same instant as a [`time::OffsetDateTime`] (UTC), e.g. for policy expiry; `None`
    /// outside `time`'s range.
    pub fn to_offset_date_time(self) -> Option<time::OffsetDateTime> {
        let nanos = (i128::from(self.0) - i128::from(UNIX_EPOCH_TICKS)) * 100;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
    }

    /// Unix seconds (for JSON output and other Unix-time consumers); saturates for instants
    /// near `i64::MIN` ticks.
    pub fn unix_seconds(self) -> i64 {
        self.0
            .saturating_sub(UNIX_EPOCH_TICKS)
            .div_euclid(TICKS_PER_SECOND)
    }
}

fn trimmed_fraction(f: i64) -> String {
    format!("{f:07}").trim_end_matches('0').to_string()
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for Timestamp {
    /// `yyyy-MM-ddTHH:mm:ss[.fffffff]Z`, trailing fractional zeros trimmed, as `XmlConvert`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ((y, mo, d), h, mi, s, frac) = self.parts();
        let fr = trimmed_fraction(frac);
        let dot = if fr.is_empty() { "" } else { "." };
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{dot}{fr}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 630822816000000000 ticks, the expiry in ASP.NET Core's time-limited protector tests.
    #[test]
    fn y2000_is_the_spec_tick_count() {
        assert_eq!(
            Timestamp::parse("2000-01-01T00:00:00Z").unwrap().0,
            0x08C1_2202_47E4_4000
        );
    }

    #[test]
    fn fractions_and_offsets() {
        let a = Timestamp::parse("2026-04-16T16:40:09.6237156Z").unwrap();
        assert_eq!(a.to_string(), "2026-04-16T16:40:09.6237156Z");
        let b = Timestamp::parse("2021-07-04T04:01:13.083377Z").unwrap();
        assert_eq!(b.to_string(), "2021-07-04T04:01:13.083377Z");
        let c = Timestamp::parse("2015-03-20T15:45:45.7366491-07:00").unwrap();
        assert_eq!(c.to_string(), "2015-03-20T22:45:45.7366491Z");
        assert_eq!(c.compact(), "20150320T2245457366491Z");
        let d = Timestamp::parse("2015-03-20T15:45:45").unwrap();
        assert_eq!(d.to_string(), "2015-03-20T15:45:45Z");
        assert_eq!(
            Timestamp::parse("2024-02-29").unwrap().to_string(),
            "2024-02-29T00:00:00Z"
        );
    }

    #[test]
    fn garbage_is_refused() {
        for t in [
            "",
            "2015",
            "2015-13-01T00:00:00Z",
            "2015-02-29T00:00:00Z",
            "2015-01-01T24:00:00Z",
            "2015-01-01T00:00:00.12345678Z",
            "2015-01-01T00:00:00+5",
            "x015-01-01",
        ] {
            assert!(Timestamp::parse(t).is_err(), "{t}");
        }
    }

    #[test]
    fn non_ascii_is_an_error_not_a_panic() {
        // Regression: byte-offset slicing panicked inside a multi-byte character, and one such
        // ring element made the whole ring unusable.
        for t in [
            "2026-01-0é",
            "2026-01-0éT00:00:00Z",
            "2026-01-01T00:00:0é",
            "2026-01-01T00:00:00.1é",
            "2026-01-01T00:00:00+0é:00",
            "2026-01-01T00:00:00é0:00",
            "é026-01-01",
            "2026-01-01Tó0:00:00Z",
        ] {
            let e = Timestamp::parse(t).unwrap_err();
            assert!(e.to_string().contains("invalid date"), "{t}: {e}");
        }
    }

    #[test]
    fn instants_outside_dotnet_range_and_wild_offsets_are_refused() {
        for t in [
            "0001-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-00:01",
            "2026-01-01T00:00:00+14:01",
            "2026-01-01T00:00:00+99:99",
            "2026-01-01T00:00:00+01:60",
        ] {
            let e = Timestamp::parse(t).unwrap_err();
            assert!(e.to_string().contains(t), "{t}: {e}");
        }
        assert_eq!(
            Timestamp::parse("9999-12-31T23:59:59.9999999Z").unwrap().0,
            MAX_TICKS
        );
        assert_eq!(Timestamp::parse("0001-01-01").unwrap().0, 0);
        assert!(Timestamp::parse("2026-01-01T00:00:00-14:00").is_ok());
    }

    #[test]
    fn conversions_of_extreme_ticks_do_not_overflow() {
        for t in [Timestamp(i64::MIN), Timestamp(i64::MAX)] {
            assert!(t.to_offset_date_time().is_none());
            let _ = (t.unix_seconds(), t.to_string(), t.compact());
        }
    }

    #[test]
    fn now_round_trips() {
        let n = Timestamp::now();
        assert_eq!(Timestamp::parse(&n.to_string()).unwrap(), n);
    }
}
