//! Whole numbers given by hosts whose numbers are floats (JavaScript), read by one rule:
//! a fraction, NaN or infinity is the wrong type (as a float is in Python, where an int is
//! wanted); a whole number out of range is an invalid argument.

use crate::error::{Error, Result};

/// A whole number in the range of an `i64` (`incr`'s `by`).
pub fn whole_number(name: &str, n: f64) -> Result<i64> {
    if !n.is_finite() || n.fract() != 0.0 {
        return Err(Error::WrongType(format!(
            "{name} must be a whole number, got {n}"
        )));
    }
    // i64::MAX as f64 rounds up to 2^63, which is out of range.
    if n < i64::MIN as f64 || n >= i64::MAX as f64 {
        return Err(Error::invalid(format!(
            "{name} must fit in a 64-bit integer, got {n}"
        )));
    }
    Ok(n as i64)
}

/// A whole number >= 0 (a bound or a size).
pub fn count(name: &str, n: f64) -> Result<u64> {
    if !n.is_finite() || n.fract() != 0.0 {
        return Err(Error::WrongType(format!(
            "{name} must be a whole number, got {n}"
        )));
    }
    if n < 0.0 || n >= u64::MAX as f64 {
        return Err(Error::invalid(format!(
            "{name} must be a whole number >= 0, got {n}"
        )));
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_the_wrong_type_and_ranges_are_checked() {
        assert_eq!(whole_number("by", 3.0).unwrap(), 3);
        assert_eq!(whole_number("by", -3.0).unwrap(), -3);
        assert_eq!(whole_number("by", 1.5).unwrap_err().kind(), "wrong_type");
        assert_eq!(
            whole_number("by", f64::NAN).unwrap_err().kind(),
            "wrong_type"
        );
        assert_eq!(
            whole_number("by", 9.3e18).unwrap_err().kind(),
            "invalid_argument"
        );
        assert_eq!(count("max_entries", 10.0).unwrap(), 10);
        assert_eq!(count("max_entries", 1.5).unwrap_err().kind(), "wrong_type");
        let e = count("max_entries", -1.0).unwrap_err();
        assert_eq!(e.kind(), "invalid_argument");
        assert!(e.to_string().contains("max_entries"), "{e}");
    }
}
