//! Whether Portico can serve: the database answers.

use sqlx::PgPool;

use super::ServiceResult;

/// Ok when the database answers a trivial query.
pub async fn database_ready(pool: &PgPool) -> ServiceResult<()> {
    crate::db::ping(pool).await?;
    Ok(())
}
