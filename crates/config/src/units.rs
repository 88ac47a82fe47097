//! Human-readable durations and sizes: the grammar the config file uses, and its inverse.
//!
//! Durations: one or more `<digits><unit>` parts, largest unit first, each unit at most once,
//! no spaces. Units: `h`, `m`, `s`, `ms`, `us`, `ns`. Examples: `250ms`, `2s`, `5m`, `1h`,
//! `1m30s`, `2s500ms`, `100us`. A bare number is rejected (is `30` seconds or milliseconds?).
//!
//! Sizes: `<digits>` (bytes) or `<digits><unit>`, no space. Units: `B`; decimal `KB`, `MB`,
//! `GB` (powers of 1000); binary `KiB`, `MiB`, `GiB` (powers of 1024). Units are case-sensitive.
//! Examples: `65536`, `64KiB`, `64KB` (= 64000), `1MiB`.
//!
//! [`format_duration`] and [`format_size`] produce strings that parse back to the same value.

use std::fmt;
use std::time::Duration;

/// Why a duration or size string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    /// Completes "expected ...": [`DURATION_GRAMMAR`] or [`SIZE_GRAMMAR`].
    pub expected: &'static str,
    /// What in particular is wrong, when that is clear.
    pub hint: Option<&'static str>,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}", self.expected)?;
        if let Some(hint) = self.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnitError {}

/// What a duration looks like, for error messages.
pub const DURATION_GRAMMAR: &str =
    "a duration like \"30s\", \"250ms\" or \"1m30s\" (units h, m, s, ms, us, ns)";

/// What a size looks like, for error messages.
pub const SIZE_GRAMMAR: &str =
    "a size like 65536, \"64KiB\" or \"64KB\" (units B, KB, MB, GB, KiB, MiB, GiB)";

fn duration_error(hint: Option<&'static str>) -> UnitError {
    UnitError {
        expected: DURATION_GRAMMAR,
        hint,
    }
}

fn size_error(hint: Option<&'static str>) -> UnitError {
    UnitError {
        expected: SIZE_GRAMMAR,
        hint,
    }
}

/// A hint for the usual mistakes: spaces, fractions, signs, case.
fn common_hint(text: &str) -> Option<&'static str> {
    if text.contains(char::is_whitespace) {
        Some("write it without spaces")
    } else if text.contains('.') {
        Some("fractions are not allowed; use a smaller unit")
    } else if text.starts_with('-') {
        Some("it cannot be negative")
    } else {
        None
    }
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Duration units, largest first, with their length in nanoseconds.
const DURATION_UNITS: [(&str, u128); 6] = [
    ("h", 3600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Size units, preferred (for formatting) first.
const SIZE_UNITS: [(&str, u64); 7] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("B", 1),
];

/// Parses a duration such as `"1m30s"`. See the module doc for the grammar.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let bad = || duration_error(common_hint(text));
    if text.is_empty() {
        return Err(bad());
    }
    let mut rest = text;
    let mut total: u128 = 0;
    // Index into DURATION_UNITS of the last unit seen; the next must be strictly smaller.
    let mut last: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        if unit.is_empty() && tail.is_empty() {
            return Err(duration_error(Some("a number needs a unit")));
        }
        let Some(index) = DURATION_UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(bad());
        };
        if last.is_some_and(|l| index <= l) {
            return Err(duration_error(Some("give units largest first, each once")));
        }
        last = Some(index);
        let n: u128 = number.parse().map_err(|_| too_large())?;
        total = n
            .checked_mul(DURATION_UNITS[index].1)
            .and_then(|v| v.checked_add(total))
            .ok_or_else(too_large)?;
        rest = tail;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| too_large())?;
    // The remainder is below 10^9 and so fits in u32.
    let nanos = (total % NANOS_PER_SEC) as u32;
    Ok(Duration::new(secs, nanos))
}

fn too_large() -> UnitError {
    duration_error(Some("it is too large"))
}

/// Formats a duration in the grammar [`parse_duration`] reads: `"2s"`, `"1m30s"`, `"0s"`.
pub fn format_duration(d: Duration) -> String {
    let mut left = d.as_nanos();
    if left == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, len) in DURATION_UNITS {
        let n = left / len;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            left -= n * len;
        }
    }
    out
}

/// Parses a size such as `"64KiB"` or `"65536"` into bytes. See the module doc for the grammar.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let bad = || size_error(common_hint(text));
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad());
    }
    let (number, unit) = text.split_at(digits);
    let scale = if unit.is_empty() {
        1
    } else {
        SIZE_UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(
                || match SIZE_UNITS.iter().any(|(u, _)| u.eq_ignore_ascii_case(unit)) {
                    true => size_error(Some("units are case-sensitive: B, KB, KiB, ...")),
                    false => bad(),
                },
            )?
    };
    let too_large = || size_error(Some("it is too large"));
    let n: u64 = number.parse().map_err(|_| too_large())?;
    n.checked_mul(scale).ok_or_else(too_large)
}

/// Formats a size in the largest unit that divides it exactly: `"64KiB"`, `"64KB"`, `"1000001"`.
pub fn format_size(bytes: u64) -> String {
    if bytes == 0 {
        return "0".to_owned();
    }
    for (unit, scale) in SIZE_UNITS {
        if scale > 1 && bytes.is_multiple_of(scale) {
            return format!("{}{unit}", bytes / scale);
        }
    }
    bytes.to_string()
}

/// `#[serde(serialize_with)]` helper: a [`Duration`] as a human string (`"2s"`).
pub mod serde_duration {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }
}

/// `#[serde(serialize_with)]` helper: an `Option<Duration>` as a human string or `null`.
pub mod serde_opt_duration {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::format_duration(*d)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("2s"), Ok(ms(2000)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2s500ms"), Ok(ms(2500)));
        assert_eq!(parse_duration("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn durations_reject() {
        for bad in [
            "", "30", "s", "1.5s", "1 s", " 1s", "1s ", "-1s", "1d", "1S", "1s1m", "1s1s", "1m30",
            "10sec",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(parse_duration("99999999999999999999999h").is_err());
        assert!(parse_duration(&format!("{}s", u64::MAX)).is_ok());
        assert!(parse_duration(&format!("{}s1s", u64::MAX)).is_err());
    }

    #[test]
    fn durations_format() {
        assert_eq!(format_duration(ms(250)), "250ms");
        assert_eq!(format_duration(ms(2000)), "2s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::new(1, 1)), "1s1ns");
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("16KiB"), Ok(16 * 1024));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("64KB"), Ok(64_000));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("10B"), Ok(10));
        for bad in ["", "KiB", "64kib", "64 KiB", "1.5MiB", "-1", "64K", "1TiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(parse_size("17179869184GiB").is_err());
    }

    #[test]
    fn sizes_format() {
        assert_eq!(format_size(65536), "64KiB");
        assert_eq!(format_size(64_000), "64KB");
        assert_eq!(format_size(1 << 20), "1MiB");
        assert_eq!(format_size(1001), "1001");
        assert_eq!(format_size(0), "0");
    }

    #[test]
    fn serde_helpers() {
        #[derive(serde::Serialize)]
        struct T {
            #[serde(with = "serde_duration")]
            a: Duration,
            #[serde(with = "serde_opt_duration")]
            b: Option<Duration>,
            #[serde(with = "serde_opt_duration")]
            c: Option<Duration>,
        }
        let t = T {
            a: ms(250),
            b: Some(ms(60_000)),
            c: None,
        };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"a":"250ms","b":"1m","c":null}"#);
    }

    proptest! {
        #[test]
        fn duration_round_trips(secs in any::<u64>(), nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn small_duration_round_trips(millis in 0u64..10_000_000) {
            let d = Duration::from_millis(millis);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn size_round_trips(bytes in any::<u64>()) {
            prop_assert_eq!(parse_size(&format_size(bytes)), Ok(bytes));
        }

        #[test]
        fn binary_size_round_trips(kib in 0u64..1 << 24) {
            prop_assert_eq!(parse_size(&format_size(kib * 1024)), Ok(kib * 1024));
        }

        #[test]
        fn duration_parser_never_panics(s in "[0-9hmsun.]{0,12}") {
            let _ = parse_duration(&s);
        }
    }
}
