//! The clock behind `:today`, run timestamps and document properties. Production uses
//! the system time; tests fix it so that reports are reproducible.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// A source of the current time.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Always this instant.
    Fixed(DateTime<Utc>),
    /// Always this date, in every time zone (`quire render --today`): the instant is
    /// midday UTC of it.
    Day(NaiveDate),
}

impl Clock {
    /// A clock on `date` wherever it is read: a tenant in any time zone sees that day.
    pub fn fixed_on(date: NaiveDate) -> Clock {
        Clock::Day(date)
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(instant) => *instant,
            Clock::Day(date) => date.and_hms_opt(12, 0, 0).expect("midday exists").and_utc(),
        }
    }

    /// Today's date in UTC.
    pub fn today(&self) -> NaiveDate {
        self.today_in(Tz::UTC)
    }

    /// Today's date in the time zone `zone`.
    pub fn today_in(&self, zone: Tz) -> NaiveDate {
        match self {
            Clock::Day(date) => *date,
            _ => self.now().with_timezone(&zone).date_naive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_the_same_everywhere_and_an_instant_is_a_different_day_across_the_date_line() {
        let day = Clock::fixed_on(NaiveDate::from_ymd_opt(2026, 6, 30).unwrap());
        assert_eq!(day.today_in(chrono_tz::Pacific::Auckland), day.today());
        let late: DateTime<Utc> = "2026-01-31T23:30:00Z".parse().unwrap();
        let clock = Clock::Fixed(late);
        let on = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(clock.today(), on(2026, 1, 31));
        assert_eq!(clock.today_in(chrono_tz::Pacific::Auckland), on(2026, 2, 1));
        assert_eq!(
            clock.today_in(chrono_tz::America::Los_Angeles),
            on(2026, 1, 31)
        );
    }
}
