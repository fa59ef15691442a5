//! The SCIM 2.0 server's use cases (INTEGRATIONS.md §2): the tenant's identity provider
//! pushes people (`users`) and groups (`groups`) in, authenticated by a SCIM token
//! (`tokens`). `represent` turns Portico's records into SCIM resources and SCIM
//! documents into Portico's fields.
//!
//! The directory is trusted like a tenant admin for what it pushes: every change is
//! committed with the directory's own authority (`Authority::directory`) and audited
//! with `Actor::Directory`. What the directory pushes it owns: the admin portal shows
//! those attributes read-only and Portico's services refuse to change them.

pub mod activity;
pub mod groups;
pub mod patching;
pub mod represent;
pub mod tokens;
pub mod users;

use crate::db::DbError;
use crate::db::tenants::Tenant;
use crate::domain::DomainError;
use crate::domain::ids::{ScimTokenId, TenantId};
use crate::domain::scim::{ScimError, ScimType};
use crate::services::ServiceError;
use crate::services::tx::Authority;

pub use crate::db::scim_directory::Kind as ResourceKind;
pub use crate::db::scim_tokens::{LastCall, ScimActivity, ScimCounts, ScimToken};

/// The tenant's directory, as proven by a SCIM token (`tokens::authenticate`).
#[derive(Clone, Debug)]
pub struct Directory {
    pub tenant: Tenant,
    pub token: ScimTokenId,
}

impl Directory {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant.id
    }

    fn authority(&self) -> Authority {
        Authority::directory(self.token)
    }
}

/// Why a SCIM call failed: a protocol error with its status and `scimType`, or a
/// service error that the edge maps (RFC 7644 §3.12).
#[derive(Debug)]
pub enum Fail {
    Scim {
        status: u16,
        scim_type: Option<&'static str>,
        detail: String,
    },
    Service(ServiceError),
}

pub type ScimResult<T> = Result<T, Fail>;

impl Fail {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self::Scim {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 with a `scimType` (invalidValue, invalidPath, invalidFilter, …).
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(404, None, format!("There is no {what} with id '{id}'."))
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }
}

impl From<ServiceError> for Fail {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Domain(DomainError::Validation(errors)) => Self::bad(
                "invalidValue",
                errors
                    .0
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            other => Self::Service(other),
        }
    }
}

impl From<DbError> for Fail {
    fn from(e: DbError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<ScimError> for Fail {
    fn from(e: ScimError) -> Self {
        Self::Scim {
            status: e.status,
            scim_type: e.scim_type.map(ScimType::as_str),
            detail: e.detail,
        }
    }
}

impl From<DomainError> for Fail {
    fn from(e: DomainError) -> Self {
        ServiceError::from(e).into()
    }
}

/// Whether `filter` names only attributes the resources of `kind` can be filtered on
/// (a search at the root runs it on each kind it fits).
pub fn filter_fits(kind: ResourceKind, filter: &crate::domain::scim::filter::Filter) -> bool {
    crate::db::scim_directory::check_filter(kind, filter).is_ok()
}
