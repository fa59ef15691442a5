//! Typed ids: one newtype over a v7 UUID per aggregate, so a `UserId` can never be
//! passed where a `GroupId` is expected.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[macro_export]
#[doc(hidden)]
macro_rules! for_each_id {
    ($m:ident) => {
        $m!(
            TenantId,
            UserId,
            GroupId,
            CatalogId,
            RoleAssignmentId,
            TokenId,
            AuditEventId,
            OutboxId,
            ResourceId,
            ResourceRoleId,
            PackageId,
            PolicyId,
            RequestId,
            AssignmentId,
            AccessReviewId,
            ReviewItemId,
            ScimTokenId,
            ExtensionId,
            CallbackId
        );
    };
}

macro_rules! id_type {
    ($($name:ident),* $(,)?) => {$(
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

for_each_id!(id_type);
