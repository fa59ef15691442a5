//! Records kept in `portal`: what `db::portal` reads and writes and services hand out.

use crate::db::packages::AccessPackage;
use crate::domain::ids::AssignmentId;
use sqlx::FromRow;

/// A package of the portal's list with the name of its catalog.
#[derive(Clone, Debug, FromRow)]
pub struct ListedPackage {
    #[sqlx(flatten)]
    pub package: AccessPackage,
    pub catalog_name: String,
    /// The caller's active assignment of the package, when they hold it.
    pub held: Option<AssignmentId>,
}

/// What the portal's home page counts for a user.
#[derive(Clone, Debug, Default, FromRow)]
pub struct Counts {
    pub pending_approvals: i64,
    pub open_requests: i64,
    pub pending_reviews: i64,
}
