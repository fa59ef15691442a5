//! Granting and revoking a package's resource roles for its current assignees.
//!
//! Stand-in until delivery lands (it is replaced on merge): it refuses a change of
//! resource roles while the package has active assignments, rather than pretending the
//! assignees' access changed.

use chrono::{DateTime, Utc};

use super::{Actor, ServiceResult};
use crate::db::{self, Conn};
use crate::domain::DomainError;
use crate::domain::ids::{PackageId, ResourceRoleId, TenantId};

/// Called in the transaction that changes the resource roles of `package`.
pub async fn package_roles_changed(
    conn: &mut Conn,
    tenant: TenantId,
    package: PackageId,
    _added: &[ResourceRoleId],
    _removed: &[ResourceRoleId],
    _actor: Actor,
    _now: DateTime<Utc>,
) -> ServiceResult<()> {
    let (active, _) = db::packages::open_work(conn, tenant, package, None).await?;
    if active > 0 {
        return Err(DomainError::conflict(format!(
            "This access package has {active} active assignment(s), and granting or revoking roles for current \
             assignees is not available yet; remove those assignments first or create a new access package."
        ))
        .into());
    }
    Ok(())
}
