//! Pure rules of the product: no axum, no sqlx, no I/O and no clock (time is a
//! parameter). Everything here is plain data and plain functions with unit tests.

pub mod assignment;
pub mod audit;
pub mod authz;
pub mod chat;
pub mod connector;
pub mod error;
pub mod extension;
pub mod identity;
pub mod ids;
pub mod lifecycle;
pub mod outbox;
pub mod policy;
pub mod request;
pub mod review;
pub mod scim;
pub mod values;

pub use error::{DomainError, FieldErrors};

/// An enum of named values kept as text (a state, a decision, a kind): `as_str` and
/// `parse` map it to its stored and JSON spelling, `ALL` lists every value (the schema
/// test compares it with the column's CHECK). `db` decodes an unknown value as an
/// error, never as a default.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$variant_meta:meta])* $variant:ident = $text:literal),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$variant_meta])* #[serde(rename = $text)] $variant),*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),*
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use super::assignment::{AssignmentState, Delivery, GrantState, RemovalReason};
    use super::connector::ConnectorType;
    use super::outbox::{OutboxKind, OutboxState};
    use super::policy::DecisionRule;
    use super::request::{Decision, RequestState, RequestType, StageState};
    use super::review::{AppliedResult, IfNoResponseValue, ItemDecision, ReviewState};

    /// Every value parses back from its text and serialises to the same text; the
    /// texts are distinct and anything else parses to nothing.
    macro_rules! round_trips {
        ($($name:ty),*) => {$({
            let all = <$name>::ALL;
            assert!(!all.is_empty(), stringify!($name));
            for v in all {
                assert_eq!(<$name>::parse(v.as_str()), Some(*v), stringify!($name));
                assert_eq!(v.to_string(), v.as_str());
                assert_eq!(serde_json::to_value(v).ok(), Some(serde_json::json!(v.as_str())));
                assert_eq!(serde_json::from_value::<$name>(serde_json::json!(v.as_str())).ok(), Some(*v));
                assert_eq!(<$name>::parse(&v.as_str().to_uppercase()), None, "case matters");
            }
            let mut texts: Vec<&str> = all.iter().map(|v| v.as_str()).collect();
            texts.sort_unstable();
            texts.dedup();
            assert_eq!(texts.len(), all.len(), stringify!($name));
            for raw in ["", "bogus", " pending"] {
                assert_eq!(<$name>::parse(raw), None, "{} '{raw}'", stringify!($name));
            }
            assert!(serde_json::from_value::<$name>(serde_json::json!("bogus")).is_err());
        })*};
    }

    #[test]
    fn every_state_round_trips_through_its_text() {
        round_trips!(
            RequestType,
            RequestState,
            StageState,
            Decision,
            DecisionRule,
            AssignmentState,
            RemovalReason,
            GrantState,
            Delivery,
            ReviewState,
            ItemDecision,
            AppliedResult,
            IfNoResponseValue,
            OutboxState,
            OutboxKind,
            ConnectorType
        );
    }
}
