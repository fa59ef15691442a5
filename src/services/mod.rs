//! Use cases. Each public function is one transaction: load (tenant-scoped), decide in
//! `domain`, persist, write the audit event and any outbox rows, commit. The web
//! portals, the JSON API, the CLI and the scheduler all call these same functions.

pub mod approval_links;
pub mod assignments;
pub mod audit;
pub mod audit_stream;
pub mod backlog;
pub mod bulk;
pub mod catalogs;
pub mod chat;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod dev_mail;
pub mod extensions;
pub mod grants;
pub mod groups;
pub mod health;
pub mod lifecycle;
pub mod links;
pub mod mail;
pub mod notify;
pub mod oidc;
pub mod outbox;
pub mod packages;
pub mod principals;
pub mod profile;
pub mod reports;
pub mod requests;
pub mod reviews;
pub mod roles;
pub mod scim;
pub mod scope;
pub mod sessions;
pub mod tenants;
pub mod tokens;
pub mod tx;
pub mod users;
pub mod versions;
pub mod views;

use crate::db::DbError;
use crate::db::tenants::Tenant;
use crate::db::users::User;
use crate::domain::authz::{Action, Permit, Roles};
use crate::domain::ids::{ScimTokenId, TenantId, TokenId, UserId};
use crate::domain::{DomainError, FieldErrors};

/// Why a use case did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// No valid credentials (401).
    #[error("{0}")]
    Unauthenticated(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl From<DbError> for ServiceError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => Self::Domain(DomainError::NotFound("object")),
            DbError::Unique(ref c) | DbError::ForeignKey(ref c) | DbError::Check(ref c) => {
                match constraint_error(c) {
                    Some(domain) => Self::Domain(domain),
                    None => Self::Internal(anyhow::Error::new(e)),
                }
            }
            // The edge refuses control characters in what people send; this is the
            // safety net for any path that missed it.
            DbError::UnstorableText => Self::Domain(DomainError::field(
                "input",
                crate::domain::values::NO_CONTROL_CHARACTERS,
            )),
            DbError::Other(e) => Self::Internal(anyhow::Error::new(e)),
        }
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        DbError::from(e).into()
    }
}

/// Whether `cause` is PostgreSQL refusing a character it cannot store in text
/// (SQLSTATE 22021 `character_not_in_repertoire`: NUL in text; 22P05
/// `untranslatable_character`: `\u0000` in jsonb).
pub fn unstorable_text(cause: &anyhow::Error) -> bool {
    cause.chain().any(|e| {
        e.downcast_ref::<sqlx::Error>()
            .is_some_and(crate::db::is_unstorable_text)
            || matches!(e.downcast_ref::<DbError>(), Some(DbError::UnstorableText))
    })
}

/// Constraint violations that a person can cause, as the message they should see.
/// Services check these rules first; the constraints make them hold under races.
fn constraint_error(constraint: &str) -> Option<DomainError> {
    let field = |f: &str, m: &str| Some(DomainError::field(f, m));
    match constraint {
        "users_email_key" => field("email", "a user with this email address already exists"),
        "tenants_slug_key" => Some(DomainError::conflict(
            "a tenant with this slug already exists",
        )),
        "catalogs_name_key" => field("displayName", "a catalog with this name already exists"),
        "role_assignments_key" => Some(DomainError::conflict(
            "this principal already holds this role here",
        )),
        "assignment_requests_open_add_key" => Some(DomainError::conflict(
            "There is already an open request for this access package and user; wait for it or cancel it.",
        )),
        "assignment_requests_open_update_key" => Some(DomainError::conflict(
            "There is already an open extension request for this assignment.",
        )),
        _ => None,
    }
}

/// Who acts: a user (through a session or an API token) or Portico itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    User {
        id: UserId,
        token: Option<TokenId>,
    },
    System,
    /// The tenant's identity provider pushing its directory (SCIM).
    Directory {
        token: ScimTokenId,
    },
}

/// The authenticated caller of a use case, resolved once per HTTP request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: Tenant,
    pub user: User,
    pub roles: Roles,
    pub token: Option<TokenId>,
}

impl Caller {
    pub fn tenant_id(&self) -> TenantId {
        self.tenant.id
    }

    pub fn user_id(&self) -> UserId {
        self.user.id
    }

    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.user.id,
            token: self.token,
        }
    }

    pub fn require(&self, action: Action) -> Result<Permit, DomainError> {
        self.roles.require(action)
    }
}

/// Turns collected field errors into a validation error, or passes.
pub fn validated(errors: FieldErrors) -> Result<(), ServiceError> {
    errors.into_result().map_err(ServiceError::from)
}

/// Moves a field error from one field name to another (a form names a field
/// differently from the API).
pub(crate) fn rename_field(e: ServiceError, from: &str, to: &str) -> ServiceError {
    match e {
        ServiceError::Domain(DomainError::Validation(errors)) => {
            let mut renamed = FieldErrors::new();
            for (k, v) in errors.0 {
                renamed.add(if k == from { to.to_string() } else { k }, v);
            }
            DomainError::Validation(renamed).into()
        }
        other => other,
    }
}
