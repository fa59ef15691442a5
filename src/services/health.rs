//! Whether Portico can serve: the database answers.

use sqlx::PgPool;

use super::ServiceResult;

/// Ok when the database answers a trivial query.
#[tracing::instrument(skip_all)]
pub async fn database_ready(pool: &PgPool) -> ServiceResult<()> {
    crate::db::ping(pool).await?;
    Ok(())
}
