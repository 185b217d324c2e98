//! Dates as HTTP and token endpoints write them, to epoch milliseconds (UTC).
//!
//! `Expires` and `Date` are HTTP-dates (RFC 9110 §5.6.7: IMF-fixdate, and the obsolete
//! RFC 850 and asctime forms a recipient must still accept); an OAuth `expires_at` is often
//! an RFC 3339 timestamp (`2016-07-11T22:14:10Z`).

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn epoch_ms(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h as i64) * 60 + mi as i64) * 60_000 + s as i64 * 1000)
}

fn hms(t: &str) -> Option<(u32, u32, u32)> {
    let mut it = t.split(':');
    let h = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let s = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Some((h, m, s))
}

/// An HTTP-date in any of its three forms, as epoch ms; `None` when it is not one (a
/// recipient then treats an `Expires` as already past).
pub fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split([' ', ',', '-']).filter(|p| !p.is_empty()).collect();
    let month = |p: &str| {
        MONTHS
            .iter()
            .position(|m| p.eq_ignore_ascii_case(m))
            .map(|i| i as u32 + 1)
    };
    match parts.as_slice() {
        // IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT" and RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT"
        [_, d, mo, y, t, "GMT"] => {
            let mut y: i64 = y.parse().ok()?;
            if y < 100 {
                // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
                y += if y >= 70 { 1900 } else { 2000 };
            }
            let (h, mi, sec) = hms(t)?;
            epoch_ms(y, month(mo)?, d.parse().ok()?, h, mi, sec)
        }
        // asctime "Sun Nov  6 08:49:37 1994"
        [_, mo, d, t, y] => {
            let (h, mi, sec) = hms(t)?;
            epoch_ms(y.parse().ok()?, month(mo)?, d.parse().ok()?, h, mi, sec)
        }
        _ => None,
    }
}

/// An RFC 3339 timestamp (`2016-07-11T22:14:10Z`, `...10.5+02:00`) as epoch ms.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (num(0..4)? as i64, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut frac_ms = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let ms: String = r[..digits].chars().chain("000".chars()).take(3).collect();
        frac_ms = ms.parse().ok()?;
        rest = &r[digits..];
    }
    let offset_ms = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = rest[1..].split_once(':')?;
            if oh.len() != 2 || om.len() != 2 {
                return None;
            }
            sign * (oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?) * 60_000
        }
    };
    Some(epoch_ms(y, mo, d, h, mi, sec)? + frac_ms - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_6_1994: i64 = 784_111_777_000;

    #[test]
    fn the_three_http_date_forms_agree() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(NOV_6_1994)
        );
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(NOV_6_1994)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(NOV_6_1994)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        for bad in [
            "0",
            "",
            "-1",
            "Sun, 06 Nov 1994 08:49:37 PST",
            "Sun, 32 Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_with_fractions_and_offsets() {
        assert_eq!(parse_rfc3339("1994-11-06T08:49:37Z"), Some(NOV_6_1994));
        assert_eq!(
            parse_rfc3339("1994-11-06T08:49:37.25Z"),
            Some(NOV_6_1994 + 250)
        );
        assert_eq!(parse_rfc3339("1994-11-06T09:49:37+01:00"), Some(NOV_6_1994));
        assert_eq!(parse_rfc3339("1994-11-06T07:49:37-01:00"), Some(NOV_6_1994));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        for bad in [
            "1994-11-06",
            "1994-11-06T08:49:37",
            "soon",
            "1994-13-06T08:49:37Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
