//! What a client has done lately, for health reports and budget planning: requests today (UTC
//! day) against an optional daily budget, requests in the current minute against the tightest
//! per-minute rate of the client-side limits, the last success, the last error (redacted) and
//! whether the client is backing off after a server's wait.
//!
//! Why here: every request of a vendor passes through its one [`crate::Client`], so counting in
//! the client cannot miss a path (the chain, the monitor, the crew's tools, the CLI). The state is
//! a fixed set of fields behind one uncontended mutex, taken a few times per attempt: memory does
//! not grow with requests.
//!
//! Why a "not yet persisted" count: the daily count must survive a restart (Alpha Vantage's free
//! key has 25 requests a day), but this crate knows no database. Whoever holds the storage takes
//! the unpersisted requests ([`Usage::take_unflushed`]), adds them to the stored day and hands the
//! stored total back ([`Usage::observe_total`]), so requests made by another process on the same
//! database count too; at start the stored count seeds the client ([`Usage::seed`]).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::RateLimit;

const SECS_PER_DAY: u64 = 86_400;
const MINUTE: Duration = Duration::from_secs(60);
/// Error messages are cut to this many characters: a health report needs the gist, not a body.
const MAX_ERROR_CHARS: usize = 300;

/// A UTC day as days since 1970-01-01 (the unit the stored counts are keyed by).
pub type UnixDay = i64;

/// The UTC day `time` falls on.
pub fn unix_day(time: SystemTime) -> UnixDay {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(secs / SECS_PER_DAY).unwrap_or(i64::MAX)
}

/// The next UTC midnight after `time`, when a daily budget starts again.
pub fn next_utc_midnight(time: SystemTime) -> SystemTime {
    let day = u64::try_from(unix_day(time)).unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs((day + 1) * SECS_PER_DAY)
}

/// The last failed call of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub at: SystemTime,
    /// Redacted, at most a few hundred characters.
    pub message: String,
}

/// A copy of a client's usage at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSnapshot {
    /// The UTC day `requests_today` counts.
    pub day: UnixDay,
    /// Requests sent today (every attempt, retries included), seeded from storage at start.
    pub requests_today: u64,
    /// Requests allowed per UTC day, when configured.
    pub daily_budget: Option<u32>,
    /// `daily_budget` minus `requests_today`, never below 0.
    pub daily_left: Option<u64>,
    /// The tightest per-minute rate the client-side limits allow.
    pub per_minute: Option<u32>,
    /// What is left of `per_minute` in the current minute (a fixed window from its first
    /// request, so an estimate).
    pub minute_left: Option<u32>,
    pub last_success: Option<SystemTime>,
    pub last_error: Option<LastError>,
    /// The client holds requests back until then: a server asked for a wait (`Retry-After`, a
    /// used-up window) or the daily budget is spent.
    pub backing_off_until: Option<SystemTime>,
}

impl UsageSnapshot {
    /// True while `backing_off_until` is after `now`.
    pub fn is_backing_off(&self, now: SystemTime) -> bool {
        self.backing_off_until.is_some_and(|until| until > now)
    }
}

#[derive(Debug, Default)]
struct State {
    day: UnixDay,
    today: u64,
    /// Requests of `day` not yet handed to storage.
    unflushed: u64,
    /// Requests of the previous day not yet handed to storage when the day rolled over.
    carried: Option<(UnixDay, u64)>,
    minute_started: Option<Instant>,
    minute_count: u32,
    last_success: Option<SystemTime>,
    last_error: Option<LastError>,
    backing_off_until: Option<SystemTime>,
}

impl State {
    fn roll_over(&mut self, today: UnixDay) {
        if today > self.day {
            if self.unflushed > 0 {
                self.carried = Some((self.day, self.unflushed));
            }
            self.day = today;
            self.today = 0;
            self.unflushed = 0;
        }
    }
}

/// A client's usage counters; see the module docs.
#[derive(Debug)]
pub struct Usage {
    daily_budget: Option<u32>,
    per_minute: Option<u32>,
    state: Mutex<State>,
}

impl Usage {
    /// Counters for a client with these limits. `per_minute` is the tightest rate of
    /// `rate_limits` over a minute, counting only limits whose period is a minute or less (a
    /// longer period lets its whole burst through in one minute).
    pub fn new(rate_limits: &[RateLimit], daily_budget: Option<u32>) -> Self {
        let per_minute = rate_limits
            .iter()
            .filter(|l| l.per_secs > 0 && l.per_secs <= 60)
            .map(|l| u32::try_from(u64::from(l.requests) * 60 / l.per_secs).unwrap_or(u32::MAX))
            .min();
        let state = State { day: unix_day(SystemTime::now()), ..State::default() };
        Self { daily_budget, per_minute, state: Mutex::new(state) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The configured daily budget.
    pub fn daily_budget(&self) -> Option<u32> {
        self.daily_budget
    }

    /// `Err(wait until the next UTC midnight)` when today's budget is spent.
    pub(crate) fn check_daily(&self, now: SystemTime) -> Result<(), Duration> {
        let Some(budget) = self.daily_budget else { return Ok(()) };
        let mut state = self.state();
        state.roll_over(unix_day(now));
        if state.today < u64::from(budget) {
            return Ok(());
        }
        let reset = next_utc_midnight(now);
        state.backing_off_until = Some(reset);
        Err(reset.duration_since(now).unwrap_or_default())
    }

    /// One request is about to be sent.
    pub(crate) fn record_attempt(&self, now: SystemTime, instant: Instant) {
        let mut state = self.state();
        state.roll_over(unix_day(now));
        state.today += 1;
        state.unflushed += 1;
        match state.minute_started {
            Some(started) if instant.duration_since(started) < MINUTE => state.minute_count += 1,
            _ => {
                state.minute_started = Some(instant);
                state.minute_count = 1;
            }
        }
    }

    /// A call succeeded: the server answers again, so any back-off is over.
    pub(crate) fn record_success(&self, now: SystemTime) {
        let mut state = self.state();
        state.last_success = Some(now);
        state.backing_off_until = None;
    }

    /// A call failed with `message` (already redacted).
    pub(crate) fn record_error(&self, now: SystemTime, message: &str) {
        let message = match message.char_indices().nth(MAX_ERROR_CHARS) {
            Some((cut, _)) => format!("{}…", &message[..cut]),
            None => message.to_owned(),
        };
        self.state().last_error = Some(LastError { at: now, message });
    }

    /// A server (or a limit) asked for `wait` before the next request.
    pub(crate) fn record_backoff(&self, now: SystemTime, wait: Duration) {
        let until = now.checked_add(wait);
        let mut state = self.state();
        state.backing_off_until = state.backing_off_until.max(until);
    }

    /// Seeds today's count from storage (`requests` stored for `day`); a count for another day
    /// is ignored, and a larger count already held stays.
    pub fn seed(&self, day: UnixDay, requests: u64) {
        self.observe_total(day, requests);
    }

    /// The stored total of `day` after a flush (it includes other processes' requests).
    pub fn observe_total(&self, day: UnixDay, total: u64) {
        let mut state = self.state();
        state.roll_over(unix_day(SystemTime::now()));
        if day == state.day {
            state.today = state.today.max(total);
        }
    }

    /// Takes the requests not yet persisted, per day (at most two days: today and, after a day
    /// rolled over unflushed, yesterday). A caller that fails to store them should
    /// [`give_back`](Self::give_back) them.
    pub fn take_unflushed(&self) -> Vec<(UnixDay, u64)> {
        let mut state = self.state();
        let mut taken: Vec<_> = state.carried.take().into_iter().collect();
        if state.unflushed > 0 {
            taken.push((state.day, std::mem::take(&mut state.unflushed)));
        }
        taken
    }

    /// Returns counts taken by [`take_unflushed`](Self::take_unflushed) that could not be stored,
    /// so the next flush tries again. Counts of a day older than the one kept are dropped
    /// (memory stays bounded; the day is over and its budget with it).
    pub fn give_back(&self, counts: &[(UnixDay, u64)]) {
        let mut state = self.state();
        for &(day, n) in counts {
            if day == state.day {
                state.unflushed += n;
            } else if day < state.day {
                match &mut state.carried {
                    Some((carried_day, carried)) if *carried_day == day => *carried += n,
                    None => state.carried = Some((day, n)),
                    Some(_) => {}
                }
            }
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> UsageSnapshot {
        let now = SystemTime::now();
        let instant = Instant::now();
        let mut state = self.state();
        state.roll_over(unix_day(now));
        let minute_used = match state.minute_started {
            Some(started) if instant.duration_since(started) < MINUTE => state.minute_count,
            _ => 0,
        };
        UsageSnapshot {
            day: state.day,
            requests_today: state.today,
            daily_budget: self.daily_budget,
            daily_left: self.daily_budget.map(|b| u64::from(b).saturating_sub(state.today)),
            per_minute: self.per_minute,
            minute_left: self.per_minute.map(|p| p.saturating_sub(minute_used)),
            last_success: state.last_success,
            last_error: state.last_error.clone(),
            backing_off_until: state.backing_off_until.filter(|until| *until > now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u64, secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(day * SECS_PER_DAY + secs)
    }

    #[test]
    fn per_minute_is_the_tightest_rate_of_limits_up_to_a_minute() {
        let limits = [RateLimit { requests: 1, per_secs: 1 }, RateLimit { requests: 5, per_secs: 60 }];
        assert_eq!(Usage::new(&limits, Some(25)).snapshot().per_minute, Some(5));
        let yahoo = [RateLimit { requests: 5, per_secs: 1 }, RateLimit { requests: 2000, per_secs: 3600 }];
        assert_eq!(Usage::new(&yahoo, None).snapshot().per_minute, Some(300));
        assert_eq!(
            Usage::new(&[RateLimit { requests: 25, per_secs: 86_400 }], None).snapshot().per_minute,
            None
        );
    }

    #[test]
    fn the_daily_budget_is_spent_and_resets_at_utc_midnight() {
        let usage = Usage::new(&[], Some(2));
        let day = u64::try_from(unix_day(SystemTime::now())).unwrap();
        let noon = at(day, 43_200);
        usage.record_attempt(noon, Instant::now());
        assert!(usage.check_daily(noon).is_ok());
        usage.record_attempt(noon, Instant::now());
        assert_eq!(usage.check_daily(noon), Err(Duration::from_secs(43_200)));
        assert_eq!(usage.snapshot().daily_left, Some(0));
        assert!(usage.check_daily(at(day + 1, 1)).is_ok(), "a new day, a new budget");
    }

    #[test]
    fn unflushed_requests_are_taken_once_and_given_back_on_failure() {
        let usage = Usage::new(&[], None);
        let now = SystemTime::now();
        let today = unix_day(now);
        usage.seed(today, 20);
        usage.seed(today - 1, 99);
        for _ in 0..3 {
            usage.record_attempt(now, Instant::now());
        }
        assert_eq!(usage.snapshot().requests_today, 23);
        let taken = usage.take_unflushed();
        assert_eq!(taken, [(today, 3)]);
        assert!(usage.take_unflushed().is_empty());
        usage.give_back(&taken);
        assert_eq!(usage.take_unflushed(), [(today, 3)]);
        usage.observe_total(today, 30);
        assert_eq!(usage.snapshot().requests_today, 30, "another process's requests count");
    }

    #[test]
    fn errors_are_cut_and_backoff_ends_with_a_success() {
        let usage = Usage::new(&[], None);
        let now = SystemTime::now();
        usage.record_error(now, &"x".repeat(1_000));
        usage.record_backoff(now, Duration::from_secs(30));
        let snapshot = usage.snapshot();
        assert!(snapshot.last_error.as_ref().unwrap().message.chars().count() <= MAX_ERROR_CHARS + 1);
        assert!(snapshot.is_backing_off(now));
        usage.record_success(now);
        assert_eq!(usage.snapshot().backing_off_until, None);
    }
}
