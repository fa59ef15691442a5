//! The per-token API rate limit, kept in this process's memory.

use std::num::NonZeroU32;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::domain::ids::TokenId;

/// Forgetting idle tokens' state once this many are tracked keeps memory flat.
const TRACKED_TOKENS: usize = 10_000;

/// The per-token API rate (`PORTICO_API_RATE_PER_SECOND`, bursts of
/// `PORTICO_API_BURST`). It lives in this process's memory: every replica counts on
/// its own, so behind N replicas a token may make up to N times the rate.
pub struct ApiRateLimit {
    limiter: DefaultKeyedRateLimiter<TokenId>,
}

impl ApiRateLimit {
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
        }
    }

    /// `Err(seconds)` when `token` is over its rate and may call again after that long.
    pub fn check(&self, token: TokenId) -> Result<(), u64> {
        // Only authenticated tokens get here, so the map is bounded by the tokens that
        // exist; trimming is for long-running processes with many short-lived ones.
        if self.limiter.len() > TRACKED_TOKENS {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&token).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.limiter.clock().now());
            // Whole seconds, rounded up: Retry-After has no fractions, and 0 would
            // invite an immediate retry that fails again.
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_over_its_burst_waits_whole_seconds_and_others_are_unaffected() {
        let one = NonZeroU32::MIN;
        let two = NonZeroU32::new(2).expect("nonzero");
        let limit = ApiRateLimit::new(one, two);
        let busy = TokenId::new();
        let quiet = TokenId::new();
        assert_eq!(limit.check(busy), Ok(()));
        assert_eq!(limit.check(busy), Ok(()));
        assert_eq!(limit.check(busy), Err(1), "one call per second refills");
        assert_eq!(limit.check(quiet), Ok(()));
    }
}
