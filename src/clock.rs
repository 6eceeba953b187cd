//! The clock behind `:today`, run timestamps and document properties. Production uses
//! the system time; tests fix it so that reports are reproducible.

use chrono::{DateTime, NaiveDate, Utc};

/// A source of the current time.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Always this instant.
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// A clock stopped at midday UTC of `date`.
    pub fn fixed_on(date: NaiveDate) -> Clock {
        Clock::Fixed(date.and_hms_opt(12, 0, 0).expect("midday exists").and_utc())
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(instant) => *instant,
        }
    }

    /// Today's date in UTC.
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}
