//! Custom extensions (INTEGRATIONS.md §4): outside systems a catalog's policies call at
//! stages of a request's life. An extension either is told and not waited for
//! (`fireAndForget`), or holds the request in `waitingForCallback` until the outside
//! system resumes it or its time runs out (`waitForCallback`). Only the two stages that
//! have a request to hold (`requestCreated`, `requestApproved`) may wait.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldErrors;
use super::string_enum;

string_enum!(
    /// Whether the request waits for the outside system.
    #[derive(ToSchema)] #[serde(rename_all = "camelCase")] ExtensionBehavior {
        FireAndForget = "fireAndForget",
        WaitForCallback = "waitForCallback",
    }
);

string_enum!(
    /// What a callback (or a time-out) does with the request it held.
    #[derive(ToSchema)] #[serde(rename_all = "camelCase")] CallbackOutcome {
        Continue = "continue",
        Deny = "deny",
    }
);

string_enum!(
    /// Where a request's life calls an extension.
    #[derive(ToSchema)] #[serde(rename_all = "camelCase")] ExtensionStage {
        RequestCreated = "requestCreated",
        RequestApproved = "requestApproved",
        AssignmentGranted = "assignmentGranted",
        AssignmentRemoved = "assignmentRemoved",
        AssignmentExpiringSoon = "assignmentExpiringSoon",
    }
);

string_enum!(
    /// Where a hold on a request stands: waiting, resumed by the callback, timed out,
    /// or closed because the request ended otherwise (canceled while waiting).
    #[derive(ToSchema)] #[serde(rename_all = "camelCase")] CallbackState {
        Waiting = "waiting",
        Resumed = "resumed",
        TimedOut = "timedOut",
        Closed = "closed",
    }
);

impl ExtensionStage {
    /// Whether a request exists at this stage that an extension could hold.
    pub fn can_wait(self) -> bool {
        matches!(self, Self::RequestCreated | Self::RequestApproved)
    }

    /// Words for pages and messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::RequestCreated => "Request created",
            Self::RequestApproved => "Request approved",
            Self::AssignmentGranted => "Assignment granted",
            Self::AssignmentRemoved => "Assignment removed",
            Self::AssignmentExpiringSoon => "Assignment expiring soon",
        }
    }
}

/// A policy's choice of an extension for one stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageExtension {
    pub stage: ExtensionStage,
    pub extension_id: Uuid,
}

pub const MIN_TIMEOUT_MINUTES: i32 = 1;
pub const MAX_TIMEOUT_MINUTES: i32 = 1440;

/// Checks a timeout in minutes (1–1440).
pub fn check_timeout(minutes: Option<i64>, errors: &mut FieldErrors) -> i32 {
    match minutes {
        None => {
            errors.add(
                "timeoutMinutes",
                "a timeout in minutes is required (1 to 1440)",
            );
            0
        }
        Some(m) if m < i64::from(MIN_TIMEOUT_MINUTES) || m > i64::from(MAX_TIMEOUT_MINUTES) => {
            errors.add(
                "timeoutMinutes",
                format!(
                    "the timeout is between {MIN_TIMEOUT_MINUTES} and {MAX_TIMEOUT_MINUTES} minutes (24 hours), not {m}"
                ),
            );
            0
        }
        Some(m) => i32::try_from(m).unwrap_or(0),
    }
}

/// The shape rules of a policy's `customExtensions`: one extension per stage. Whether
/// each extension exists in the package's catalog, and may wait at its stage, needs
/// the extensions and is checked by the service ([`check_stage_fit`]).
pub fn check_policy_extensions(list: &[StageExtension], errors: &mut FieldErrors) {
    for (i, item) in list.iter().enumerate() {
        if list[..i].iter().any(|other| other.stage == item.stage) {
            errors.add(
                format!("customExtensions[{i}].stage"),
                format!(
                    "the stage {} already has an extension; a stage calls at most one",
                    item.stage
                ),
            );
        }
    }
}

/// Whether an extension of `behavior` may be called at `stage`: a waiting one only
/// where there is a request to hold. The message names the rule.
pub fn check_stage_fit(stage: ExtensionStage, behavior: ExtensionBehavior) -> Result<(), String> {
    if behavior == ExtensionBehavior::WaitForCallback && !stage.can_wait() {
        return Err(format!(
            "a waitForCallback extension can only be called at requestCreated or requestApproved; at {stage} there is no request to hold (use a fireAndForget extension)"
        ));
    }
    Ok(())
}

/// Checks a callback's message: at most 1000 characters, no control characters but
/// line breaks.
pub fn parse_message(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(raw) = raw.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(None);
    };
    if raw.chars().count() > 1000 {
        return Err("a message has at most 1000 characters".into());
    }
    if raw
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err("a message has no control characters".into());
    }
    Ok(Some(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_request_stages_may_wait() {
        use ExtensionBehavior::*;
        for stage in ExtensionStage::ALL {
            assert!(check_stage_fit(*stage, FireAndForget).is_ok());
            assert_eq!(
                check_stage_fit(*stage, WaitForCallback).is_ok(),
                stage.can_wait(),
                "{stage}"
            );
        }
    }

    #[test]
    fn a_stage_calls_one_extension() {
        let id = Uuid::nil();
        let list = vec![
            StageExtension {
                stage: ExtensionStage::RequestCreated,
                extension_id: id,
            },
            StageExtension {
                stage: ExtensionStage::RequestCreated,
                extension_id: id,
            },
        ];
        let mut e = FieldErrors::new();
        check_policy_extensions(&list, &mut e);
        assert!(e.0.contains_key("customExtensions[1].stage"), "{e:?}");
    }

    #[test]
    fn timeouts_stay_within_a_day() {
        for (m, ok) in [
            (None, false),
            (Some(0), false),
            (Some(1), true),
            (Some(1440), true),
            (Some(1441), false),
        ] {
            let mut e = FieldErrors::new();
            check_timeout(m, &mut e);
            assert_eq!(e.is_empty(), ok, "{m:?}");
        }
    }

    #[test]
    fn messages_are_bounded() {
        assert_eq!(parse_message(Some("  ")), Ok(None));
        assert_eq!(parse_message(Some("ok")), Ok(Some("ok".into())));
        assert!(parse_message(Some(&"x".repeat(1001))).is_err());
        assert!(parse_message(Some("a\u{7}b")).is_err());
    }
}
