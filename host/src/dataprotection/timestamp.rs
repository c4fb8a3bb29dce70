//! UTC instants as .NET ticks (100 ns since 0001-01-01T00:00Z), with the xs:dateTime text form
//! ASP.NET writes in key XML (spec §3.5).

use std::fmt;

use super::error::{DataProtectionError, Result};

/// A UTC instant in .NET ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Ticks per second.
pub const TICKS_PER_SECOND: i64 = 10_000_000;
const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;
const UNIX_EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// A span of time in ticks.
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
    /// The current time.
    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() / 100)
            .unwrap_or(0);
        Timestamp(UNIX_EPOCH_TICKS + i64::try_from(since).unwrap_or(0))
    }

    /// This instant plus `ticks` (saturating).
    #[must_use]
    pub fn plus(self, ticks: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ticks))
    }

    /// Parses xs:dateTime as .NET's `XmlConvert`: `yyyy-MM-ddTHH:mm:ss`, 0–7 fractional
    /// digits, then `Z`, `±hh:mm` or nothing (taken as UTC). A date alone (`yyyy-MM-dd`) is
    /// midnight UTC.
    pub fn parse(text: &str) -> Result<Timestamp> {
        let bad = || {
            DataProtectionError::InvalidInput(format!(
                "invalid date {text:?}: expected yyyy-MM-ddTHH:mm:ss[.fffffff][Z|±hh:mm]"
            ))
        };
        let t = text.trim();
        let b = t.as_bytes();
        let num = |s: &str| -> Result<i64> {
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse::<i64>().map_err(|_| bad())
        };
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let (y, mo, d) = (num(&t[0..4])?, num(&t[5..7])?, num(&t[8..10])?);
        let (mut secs, mut rest) = (0i64, &t[10..]);
        let mut frac = 0i64;
        if let Some(r) = rest.strip_prefix('T') {
            if r.len() < 8 || r.as_bytes()[2] != b':' || r.as_bytes()[5] != b':' {
                return Err(bad());
            }
            let (h, mi, s) = (num(&r[0..2])?, num(&r[3..5])?, num(&r[6..8])?);
            if h > 23 || mi > 59 || s > 59 {
                return Err(bad());
            }
            secs = h * 3600 + mi * 60 + s;
            rest = &r[8..];
            if let Some(f) = rest.strip_prefix('.') {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                if n == 0 || n > 7 {
                    return Err(bad());
                }
                frac = num(&f[..n])? * 10i64.pow(7 - n as u32);
                rest = &f[n..];
            }
        }
        let offset = match rest {
            "" | "Z" => 0,
            o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
                let v = num(&o[1..3])? * 3600 + num(&o[4..6])? * 60;
                if o.starts_with('-') {
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
        let days = days_from_civil(y, mo, d);
        Ok(Timestamp(
            days * TICKS_PER_DAY + (secs - offset) * TICKS_PER_SECOND + frac,
        ))
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
        let nanos = i128::from(self.0 - UNIX_EPOCH_TICKS) * 100;
        time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
    }

    /// Unix seconds (for `--json` consumers).
    pub fn unix_seconds(self) -> i64 {
        (self.0 - UNIX_EPOCH_TICKS).div_euclid(TICKS_PER_SECOND)
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
    fn now_round_trips() {
        let n = Timestamp::now();
        assert_eq!(Timestamp::parse(&n.to_string()).unwrap(), n);
    }
}
