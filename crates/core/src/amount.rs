//! Decimal quantities (effort, value, weights).
//!
//! In the ledger an amount is written as a JSON *string* holding the shortest decimal that
//! reads back to the same `f64` ("2.5", "3", "0.125"). Floating-point numbers in JSON are
//! where canonical encodings of different tools disagree (`3` vs `3.0`, exponents), so keeping
//! them out of the hashed bytes makes the chain re-verifiable by any JSON tool.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Default)]
pub struct Amount(pub f64);

impl Amount {
    pub fn value(self) -> f64 {
        self.0
    }

    /// Parses a decimal as written in a CSV cell or a ledger payload.
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        let trimmed = text.trim();
        let value: f64 = trimmed
            .parse()
            .map_err(|_| AmountError::NotANumber(trimmed.to_string()))?;
        if !value.is_finite() {
            return Err(AmountError::NotFinite(trimmed.to_string()));
        }
        // -0 and 0 must hash the same.
        Ok(Amount(if value == 0.0 { 0.0 } else { value }))
    }
}

/// Why a text is not an amount.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("`{0}` is not a number")]
    NotANumber(String),
    #[error("`{0}` is not a finite number")]
    NotFinite(String),
}

impl std::str::FromStr for Amount {
    type Err = AmountError;
    fn from_str(text: &str) -> Result<Amount, AmountError> {
        Amount::parse(text)
    }
}

impl Amount {
    /// Appends the text `Display` writes, with a shortcut for whole numbers (most efforts),
    /// which `Display` writes as plain integers.
    pub fn push_text(self, out: &mut String) {
        let value = self.0;
        if value.fract() == 0.0 && value.abs() < 1e15 && !(value == 0.0 && value.is_sign_negative())
        {
            crate::push_integer(out, value as i64);
        } else {
            use std::fmt::Write as _;
            let _ = write!(out, "{self}");
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rust's `Display` for f64 is the shortest string that round-trips, without exponent.
        write!(f, "{}", self.0)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(f64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) => Amount::parse(&text).map_err(serde::de::Error::custom),
            Raw::Number(n) if n.is_finite() => Ok(Amount(n)),
            Raw::Number(_) => Err(serde::de::Error::custom("amount is not finite")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn push_text_writes_what_display_writes(
            value in prop_oneof![
                any::<f64>(),
                (-1_000_000i64..1_000_000).prop_map(|n| n as f64),
                Just(-0.0), Just(0.0), Just(1e15), Just(1e15 - 1.0), Just(-1e15), Just(1e16),
                Just(9_007_199_254_740_993.0), Just(0.5), Just(f64::MAX), Just(f64::MIN_POSITIVE),
            ]
        ) {
            let mut out = String::from("x");
            Amount(value).push_text(&mut out);
            prop_assert_eq!(out, format!("x{}", Amount(value)));
        }
    }

    #[test]
    fn shortest_round_trip_text() {
        assert_eq!(Amount(3.0).to_string(), "3");
        assert_eq!(Amount(2.5).to_string(), "2.5");
        assert_eq!(Amount(0.1).to_string(), "0.1");
        assert_eq!(Amount::parse("-0").map(|a| a.to_string()), Ok("0".into()));
        assert!(Amount::parse("nan").is_err());
        assert!(Amount::parse("abc").is_err());
    }
}
