//! Rate limits for [`super::Queue::take_token`], written as `N/s`, `N/m` or `N/h`.

use std::str::FromStr;

/// At most `burst` calls at once, refilled at `per_second`: `120/m` is a burst of 120
/// and two tokens a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens a full bucket holds.
    pub burst: u32,
    /// Tokens added per second.
    pub per_second: f64,
}

/// A rate limit that does not read as `N/s`, `N/m` or `N/h` with N > 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a rate such as 120/m, 10/s or 1000/h")]
pub struct InvalidRate(String);

impl FromStr for RateLimit {
    type Err = InvalidRate;

    fn from_str(text: &str) -> Result<RateLimit, InvalidRate> {
        let invalid = || InvalidRate(text.to_owned());
        let (count, unit) = text.trim().split_once('/').ok_or_else(invalid)?;
        let burst: u32 = count.trim().parse().map_err(|_| invalid())?;
        let seconds = match unit.trim() {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        if burst == 0 {
            return Err(invalid());
        }
        Ok(RateLimit {
            burst,
            per_second: f64::from(burst) / seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_per_second_minute_and_hour() {
        assert_eq!(
            "120/m".parse::<RateLimit>().unwrap(),
            RateLimit {
                burst: 120,
                per_second: 2.0
            }
        );
        assert_eq!("5/s".parse::<RateLimit>().unwrap().per_second, 5.0);
        assert_eq!("3600/h".parse::<RateLimit>().unwrap().per_second, 1.0);
        for bad in ["", "10", "0/s", "-1/s", "ten/m", "10/d"] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad}");
        }
    }
}
