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

/// xs:duration `-?PnYnMnDTnHnMn(.n)S` with .NET's 365-day years and 30-day months.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (negative, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let rest = rest.strip_prefix('P').ok_or("a duration starts with P")?;
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, "")) => return Err(format!("nothing after T in {d}T")),
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = Duration::ZERO;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, f64)]| -> Result<(), String> {
        let mut number = String::new();
        let mut next_unit = 0;
        for ch in part.chars() {
            if ch.is_ascii_digit() || ch == '.' {
                number.push(ch);
                continue;
            }
            let pos = units[next_unit..]
                .iter()
                .position(|(u, _)| *u == ch)
                .ok_or(format!("unexpected {ch:?}"))?;
            let (_, seconds) = units[next_unit + pos];
            next_unit += pos + 1;
            if number.is_empty() {
                return Err(format!("no number before {ch:?}"));
            }
            if number.contains('.') && ch != 'S' {
                return Err("only seconds may have a fraction".to_string());
            }
            let n: f64 = number
                .parse()
                .map_err(|_| format!("bad number {number:?}"))?;
            total = total
                .checked_add(Duration::seconds_f64(n * seconds))
                .ok_or("the duration is too long")?;
            number.clear();
            any = true;
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(format!("{number:?} has no unit"))
        }
    };
    const DAY: f64 = 86_400.0;
    take(
        date_part,
        &[('Y', 365.0 * DAY), ('M', 30.0 * DAY), ('D', DAY)],
    )?;
    if let Some(t) = time_part {
        take(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    if !any {
        return Err("the duration has no parts".to_string());
    }
    Ok(if negative { -total } else { total })
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
