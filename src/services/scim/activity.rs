//! The tenant's SCIM activity (last call, counts of what the directory changed), kept
//! cheap: a directory's sync is thousands of calls a minute, and one upsert of the
//! tenant's single activity row per call would serialise them all on that row.
//!
//! Calls are gathered in memory per tenant and written as one upsert at most once per
//! `FLUSH_EVERY`: the first call after a quiet spell is written at once; the calls
//! after it wait for a write scheduled `FLUSH_EVERY` after the previous one. So the
//! row is at most `FLUSH_EVERY` behind this process (each replica adds its own calls);
//! what a process had gathered and not yet written when it stops is not counted.
//!
//! The same gatherer keeps the planner's statistics up with a first sync: a tenant that
//! grows by thousands of users a minute outruns autovacuum's analyze, and with
//! statistics that say the tenant is empty the planner may answer a primary-key lookup
//! by reading every row of the tenant through another index on `tenant_id`. So each
//! time a tenant's directory writes in this process double (from `ANALYZE_FIRST`), the
//! directory's tables are analyzed, one analyze at a time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::PgPool;
use tokio::time::Instant;

use crate::db::scim_directory;
use crate::db::scim_tokens::{self, LastCall, ScimCounts};
use crate::domain::ids::TenantId;

/// How far the activity row may lag behind the calls of one process.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// How many directory writes (users and groups created, groups changed) of one tenant
/// in this process lead to the first refresh of the statistics; the next come at twice
/// the count of the previous one.
pub const ANALYZE_FIRST: i64 = 1_000;

/// What one tenant's calls added since its row was last written.
#[derive(Debug, Default)]
struct Pending {
    last: Option<LastCall>,
    calls: i64,
    counts: ScimCounts,
    written_at: Option<Instant>,
    flush_scheduled: bool,
    /// Directory writes seen in this process, and the count at which to analyze next.
    writes: i64,
    analyze_at: i64,
}

impl Pending {
    /// Counts the directory writes of one call; true when the statistics are due.
    fn count_writes(&mut self, counts: ScimCounts) -> bool {
        self.writes += counts.users_created + counts.groups_created + counts.groups_updated;
        let due = self.writes >= self.analyze_at.max(ANALYZE_FIRST);
        if due {
            self.analyze_at = self.writes * 2;
        }
        due
    }

    fn take(&mut self, at: Instant) -> Option<(LastCall, i64, ScimCounts)> {
        let last = self.last.take()?;
        let batch = (last, self.calls, self.counts);
        self.calls = 0;
        self.counts = ScimCounts::default();
        self.written_at = Some(at);
        Some(batch)
    }
}

/// The per-tenant gatherer of SCIM calls of one running application.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    pending: Arc<Mutex<HashMap<TenantId, Pending>>>,
    analyzing: Arc<AtomicBool>,
}

enum Next {
    WriteNow(LastCall, i64, ScimCounts),
    FlushAt(Instant),
    Nothing,
}

impl Recorder {
    /// Counts one call: written now when the tenant's row was not written within
    /// `FLUSH_EVERY`, else by a write scheduled for then.
    pub async fn record(
        &self,
        pool: &PgPool,
        tenant: TenantId,
        call: LastCall,
        counts: ScimCounts,
    ) {
        let now = Instant::now();
        let (next, analyze) = {
            let mut all = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let p = all.entry(tenant).or_default();
            p.last = Some(call);
            p.calls += 1;
            p.counts += counts;
            let analyze = p.count_writes(counts);
            let next = match p.written_at {
                _ if p.flush_scheduled => Next::Nothing,
                Some(w) if now < w + FLUSH_EVERY => {
                    p.flush_scheduled = true;
                    Next::FlushAt(w + FLUSH_EVERY)
                }
                _ => match p.take(now) {
                    Some((last, calls, counts)) => Next::WriteNow(last, calls, counts),
                    None => Next::Nothing,
                },
            };
            (next, analyze)
        };
        if analyze {
            self.refresh_statistics(pool);
        }
        match next {
            Next::WriteNow(last, calls, counts) => write(pool, tenant, &last, calls, counts).await,
            Next::FlushAt(at) => {
                let (recorder, pool) = (self.clone(), pool.clone());
                tokio::spawn(async move {
                    tokio::time::sleep_until(at).await;
                    recorder.flush(&pool, tenant).await;
                });
            }
            Next::Nothing => {}
        }
    }

    /// Analyzes the directory's tables in the background unless an analyze of this
    /// process is still running (the next doubling asks again).
    fn refresh_statistics(&self, pool: &PgPool) {
        if self.analyzing.swap(true, Ordering::AcqRel) {
            return;
        }
        let (analyzing, pool) = (self.analyzing.clone(), pool.clone());
        tokio::spawn(async move {
            let done = match pool.acquire().await {
                Ok(mut conn) => scim_directory::refresh_statistics(&mut conn)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, "could not refresh the directory's statistics");
            }
            analyzing.store(false, Ordering::Release);
        });
    }

    /// Writes what the tenant's calls gathered since the last write.
    async fn flush(&self, pool: &PgPool, tenant: TenantId) {
        let batch = {
            let mut all = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(p) = all.get_mut(&tenant) else {
                return;
            };
            p.flush_scheduled = false;
            p.take(Instant::now())
        };
        if let Some((last, calls, counts)) = batch {
            write(pool, tenant, &last, calls, counts).await;
        }
    }
}

async fn write(pool: &PgPool, tenant: TenantId, last: &LastCall, calls: i64, counts: ScimCounts) {
    let done = match pool.acquire().await {
        Ok(mut conn) => scim_tokens::record_calls(&mut conn, tenant, last, calls, counts)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = done {
        tracing::warn!(error = %e, %tenant, calls, "could not record the SCIM calls");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_refreshed_each_time_the_directory_writes_double() {
        let mut p = Pending::default();
        let user = ScimCounts {
            users_created: 1,
            ..ScimCounts::default()
        };
        let mut due = Vec::new();
        for _ in 0..8_000 {
            if p.count_writes(user) {
                due.push(p.writes);
            }
        }
        assert_eq!(due, [1_000, 2_000, 4_000, 8_000]);
        let reads = ScimCounts::default();
        assert!(
            !p.count_writes(reads),
            "a call that writes nothing never analyzes"
        );
    }
}
