//! Master-key expiry values as KeePass reads them (`KeyUtil.HasKeyExpired`): after trimming, a
//! value starting with `P` or `-P` (any case) is an xs:duration counted from the last change
//! (.NET `XmlConvert.ToTimeSpan`: a year is 365 days, a month 30 days); anything else is an
//! xs:date or xs:dateTime (no zone = UTC), and the key has expired when it was last changed
//! before that instant.

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A parsed expiry value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryRule {
    /// Expired once `changed + duration < now`.
    After(Duration),
    /// Expired when the key was changed before this instant.
    ChangedBefore(OffsetDateTime),
}

/// What the policy says about a master key's age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryStatus {
    /// No change needed.
    Current,
    /// A change is recommended (the message says why).
    Recommended(String),
    /// A change is required (the message says why).
    Forced(String),
}

impl ExpiryRule {
    /// Whether a key changed at `changed` has expired at `now`.
    pub fn expired(&self, changed: OffsetDateTime, now: OffsetDateTime) -> bool {
        match self {
            ExpiryRule::After(d) => changed.checked_add(*d).is_some_and(|t| t < now),
            ExpiryRule::ChangedBefore(t) => changed < *t,
        }
    }

    /// A human description.
    pub fn describe(&self) -> String {
        match self {
            ExpiryRule::After(d) => format!(
                "master keys expire {} days after they are changed",
                d.whole_days()
            ),
            ExpiryRule::ChangedBefore(t) => format!("master keys changed before {t} have expired"),
        }
    }
}

/// Parses an expiry value (see the module documentation).
pub fn parse_expiry(value: &str) -> Result<ExpiryRule, String> {
    let v = value.trim();
    let upper = v.to_ascii_uppercase();
    if upper.starts_with('P') || upper.starts_with("-P") {
        parse_duration(&upper).map(ExpiryRule::After)
    } else {
        parse_date_time(v).map(ExpiryRule::ChangedBefore)
    }
}

/// The longest duration .NET's `TimeSpan` holds (`TimeSpan.MaxValue`: `i64::MAX` ticks of
/// 100 ns, about 10,675,199 days); longer values fail as `XmlConvert.ToTimeSpan` fails.
const MAX_DURATION: Duration = Duration::new(922_337_203_685, 477_580_700);

const DAY: i64 = 86_400;
/// The units of the date part, in order, with their length in seconds.
const DATE_UNITS: &[(char, i64)] = &[('Y', 365 * DAY), ('M', 30 * DAY), ('D', DAY)];
/// The units of the time part, in order, with their length in seconds.
const TIME_UNITS: &[(char, i64)] = &[('H', 3600), ('M', 60), ('S', 1)];

/// xs:duration `-?PnYnMnDTnHnMn(.n)S` with .NET's 365-day years and 30-day months. Integer
/// arithmetic throughout (checked): a value longer than .NET's `TimeSpan` is an error naming
/// it; fractional seconds beyond nanoseconds are truncated.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let rest = rest.strip_prefix('P').ok_or("a duration starts with P")?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, "")) => return Err(format!("nothing after T in {d}T")),
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let out_of_range = || {
        format!(
            "{s} is out of range: .NET durations hold at most {} days",
            MAX_DURATION.whole_days()
        )
    };
    let mut total = Duration::ZERO;
    let date_parts =
        add_parts(date_part, DATE_UNITS, &mut total).map_err(|e| e.unwrap_or_else(out_of_range))?;
    let time_parts =
        add_parts(time_part, TIME_UNITS, &mut total).map_err(|e| e.unwrap_or_else(out_of_range))?;
    if date_parts + time_parts == 0 {
        return Err("the duration has no parts".to_string());
    }
    Ok(if negative { -total } else { total })
}

/// Adds the `nU` components of one part of a duration to `total`, units in the order of
/// `units`, and returns how many there were. `Err(None)` means the total went out of range.
fn add_parts(
    part: &str,
    units: &[(char, i64)],
    total: &mut Duration,
) -> Result<usize, Option<String>> {
    let (mut rest, mut next_unit, mut count) = (part, 0, 0);
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int, after) = rest.split_at(int_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(f) => {
                let n = f.bytes().take_while(u8::is_ascii_digit).count();
                (Some(&f[..n]), &f[n..])
            }
            None => (None, after),
        };
        let unit = after
            .chars()
            .next()
            .ok_or_else(|| format!("{rest:?} has no unit"))?;
        let pos = units[next_unit..]
            .iter()
            .position(|(u, _)| *u == unit)
            .ok_or_else(|| format!("unexpected {unit:?}"))?;
        let (_, unit_seconds) = units[next_unit + pos];
        next_unit += pos + 1;
        if int.is_empty() {
            return Err(Some(format!("no number before {unit:?}")));
        }
        let nanos = match frac {
            None => 0,
            Some(_) if unit != 'S' => {
                return Err(Some("only seconds may have a fraction".to_string()))
            }
            Some("") => return Err(Some(format!("no digits after the point in {int}.{unit}"))),
            // At most 9 digits, scaled to nanoseconds: always below 10^9.
            Some(f) => f
                .bytes()
                .chain(std::iter::repeat(b'0'))
                .take(9)
                .fold(0i32, |acc, c| acc * 10 + i32::from(c - b'0')),
        };
        // `int` is all digits, so parsing fails only when it does not fit.
        let seconds = int
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(unit_seconds))
            .ok_or(None)?;
        *total = total
            .checked_add(Duration::new(seconds, nanos))
            .filter(|t| *t <= MAX_DURATION)
            .ok_or(None)?;
        rest = &after[unit.len_utf8()..];
        count += 1;
    }
    Ok(count)
}

fn digits(s: &str, n: usize) -> Result<(u32, &str), String> {
    if s.len() < n || !s.as_bytes()[..n].iter().all(u8::is_ascii_digit) {
        return Err(format!("expected {n} digits at {s:?}"));
    }
    Ok((s[..n].parse().map_err(|_| "bad number")?, &s[n..]))
}

/// xs:date `YYYY-MM-DD[zone]` or xs:dateTime `YYYY-MM-DDThh:mm:ss[.f][zone]`; zone `Z` or
/// `±hh:mm`; no zone means UTC.
fn parse_date_time(s: &str) -> Result<OffsetDateTime, String> {
    let (year, rest) = digits(s, 4)?;
    let rest = rest.strip_prefix('-').ok_or("expected - after the year")?;
    let (month, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix('-').ok_or("expected - after the month")?;
    let (day, rest) = digits(rest, 2)?;
    let month = Month::try_from(month as u8).map_err(|e| e.to_string())?;
    let date =
        Date::from_calendar_date(year as i32, month, day as u8).map_err(|e| e.to_string())?;
    let (time, rest) = match rest.strip_prefix('T') {
        Some(t) => {
            let (h, t) = digits(t, 2)?;
            let t = t.strip_prefix(':').ok_or("expected : in the time")?;
            let (m, t) = digits(t, 2)?;
            let t = t.strip_prefix(':').ok_or("expected : in the time")?;
            let (sec, mut t) = digits(t, 2)?;
            let mut nanos = 0u32;
            if let Some(f) = t.strip_prefix('.') {
                let end = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
                if end == 0 {
                    return Err("no digits after the decimal point".to_string());
                }
                let frac = &f[..end.min(9)];
                nanos = frac.parse::<u32>().map_err(|_| "bad fraction")?
                    * 10u32.pow(9 - frac.len() as u32);
                t = &f[end..];
            }
            let time = Time::from_hms_nano(h as u8, m as u8, sec as u8, nanos)
                .map_err(|e| e.to_string())?;
            (time, t)
        }
        None => (Time::MIDNIGHT, rest),
    };
    let offset = match rest {
        "" | "Z" => UtcOffset::UTC,
        zone => {
            let (sign, z) = match zone.as_bytes()[0] {
                b'+' => (1i8, &zone[1..]),
                b'-' => (-1i8, &zone[1..]),
                _ => return Err(format!("unexpected {zone:?} after the date")),
            };
            let (h, z) = digits(z, 2)?;
            let z = z.strip_prefix(':').ok_or("expected ±hh:mm")?;
            let (m, z) = digits(z, 2)?;
            if !z.is_empty() {
                return Err(format!("unexpected {z:?} after the zone"));
            }
            UtcOffset::from_hms(sign * h as i8, sign * m as i8, 0).map_err(|e| e.to_string())?
        }
    };
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_are_an_error_naming_the_value() {
        // Regression: `P99999999999999999999Y` overflowed (a panic in `Duration::seconds_f64`).
        for v in [
            "P99999999999999999999Y",
            "P99999999999Y",
            "PT9223372036854775807S",
            "P10675199DT2H48M5.4775808S",
            "-P99999999999999999999D",
            "P9999999999999999Y9999999999999999M",
        ] {
            let e = parse_expiry(v).unwrap_err();
            assert!(e.contains(v) && e.contains("out of range"), "{v}: {e}");
        }
        // .NET's TimeSpan.MaxValue itself is fine.
        assert_eq!(
            parse_expiry("P10675199DT2H48M5.4775807S").unwrap(),
            ExpiryRule::After(MAX_DURATION)
        );
    }

    #[test]
    fn durations_are_exact_integers() {
        let d = |v: &str| match parse_expiry(v).unwrap() {
            ExpiryRule::After(d) => d,
            other => panic!("{other:?}"),
        };
        assert_eq!(d("P10000Y"), Duration::days(3_650_000));
        assert_eq!(d("PT0.123456789123S"), Duration::nanoseconds(123_456_789));
        assert_eq!(
            d("p1y2m3dt4h5m6.5s"),
            Duration::seconds(365 * DAY + 2 * 30 * DAY + 3 * DAY + 4 * 3600 + 5 * 60 + 6)
                + Duration::milliseconds(500)
        );
        for bad in [
            "P1.D", "P.5D", "PT.5S", "PT1.S", "P1Dé", "Pé", "P1Y1Y", "PT1S1M", "P1..5S",
        ] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn non_ascii_dates_are_errors() {
        for bad in [
            "2026-01-0é",
            "2026-01-01Té",
            "2026-01-01T00:00:00+0é:00",
            "2026-01-01T00:00:00.é",
        ] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }
}
