//! Deciding in chat (INTEGRATIONS.md §5): the tenant's chat settings as a tenant admin
//! sends them, parsed once into what is stored; where a Slack message to an approver
//! stands; and what a Slack button carries.
//!
//! Invariants: a button names only the request and the stage (never a secret, never the
//! approver: who clicked is what Slack says, checked against the portal's rules); a
//! secret left out of an update is kept, and a bot token without its signing secret
//! (or the other way round) is never stored.

use uuid::Uuid;

use super::FieldErrors;
use super::ids::RequestId;
use super::request::Decision;
use super::string_enum;
use super::values::has_control_characters;

string_enum!(
    /// Where the Slack message to one approver of one stage stands.
    #[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] ChatMessageState {
        /// Queued with the stage; not posted yet.
        Queued = "queued",
        /// Posted; its channel and ts are kept so it can be updated.
        Posted = "posted",
        /// Slack knows nobody with the approver's email address.
        NotFound = "notFound",
        /// The stage no longer waited for a decision when its turn came.
        Skipped = "skipped",
        /// Slack refused it for good (the error is kept).
        Failed = "failed",
    }
);

/// Slack settings as sent: either secret may be left out when one is kept.
#[derive(Clone, Debug, Default)]
pub struct SlackInput {
    pub bot_token: Option<String>,
    pub signing_secret: Option<String>,
}

/// Teams settings as sent.
#[derive(Clone, Debug, Default)]
pub struct TeamsInput {
    pub webhook_url: Option<String>,
}

/// `PUT /tenant/chat`: each channel set, or `None` to have none.
#[derive(Clone, Debug, Default)]
pub struct ChatInput {
    pub slack: Option<SlackInput>,
    pub teams: Option<TeamsInput>,
}

/// A secret of the new settings: sent anew, or the stored one kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretChange {
    Keep,
    New(String),
}

impl SecretChange {
    pub fn is_new(&self) -> bool {
        matches!(self, Self::New(_))
    }
}

/// The settings to store, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatChange {
    /// `(bot token, signing secret)`, or no Slack.
    pub slack: Option<(SecretChange, SecretChange)>,
    /// The webhook URL, or no Teams.
    pub teams: Option<SecretChange>,
}

/// What is stored already, so a left-out secret can be kept.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stored {
    pub slack: bool,
    pub teams: bool,
}

const MAX_SECRET: usize = 256;
const MAX_URL: usize = 2048;

fn secret(
    raw: Option<&str>,
    kept: bool,
    field: &str,
    what: &str,
    errors: &mut FieldErrors,
) -> Option<SecretChange> {
    let value = raw.map(str::trim).filter(|v| !v.is_empty());
    match value {
        None if kept => Some(SecretChange::Keep),
        None => {
            errors.add(field, format!("{what} is required"));
            None
        }
        Some(v) if v.len() > MAX_SECRET => {
            errors.add(field, format!("{what} is at most {MAX_SECRET} characters"));
            None
        }
        Some(v) if v.contains(char::is_whitespace) || has_control_characters(v, false) => {
            errors.add(field, format!("{what} has no spaces or control characters"));
            None
        }
        Some(v) => Some(SecretChange::New(v.to_string())),
    }
}

/// Checks the whole input (every bad field named at once) against what is stored.
/// `allow_http` lets a Teams webhook be plain http (closed networks and tests).
pub fn parse_chat(
    input: &ChatInput,
    stored: Stored,
    allow_http: bool,
) -> Result<ChatChange, FieldErrors> {
    let mut errors = FieldErrors::new();
    let slack = input.slack.as_ref().map(|s| {
        let token = secret(
            s.bot_token.as_deref(),
            stored.slack,
            "slack.botToken",
            "the bot token",
            &mut errors,
        );
        if let Some(SecretChange::New(t)) = &token
            && !t.starts_with("xoxb-")
        {
            errors.add(
                "slack.botToken",
                "a Slack bot token starts with xoxb- (OAuth & Permissions, Bot User OAuth Token)",
            );
        }
        let signing = secret(
            s.signing_secret.as_deref(),
            stored.slack,
            "slack.signingSecret",
            "the signing secret",
            &mut errors,
        );
        (token, signing)
    });
    let teams = input.teams.as_ref().map(|t| {
        let url = secret(
            t.webhook_url.as_deref(),
            stored.teams,
            "teams.webhookUrl",
            "the webhook URL",
            &mut errors,
        );
        if let Some(SecretChange::New(u)) = &url
            && let Some(problem) = webhook_url_problem(u, allow_http)
        {
            errors.add("teams.webhookUrl", problem);
        }
        url
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ChatChange {
        slack: match slack {
            Some((Some(token), Some(signing))) => Some((token, signing)),
            _ => None,
        },
        teams: teams.flatten(),
    })
}

/// Why a Teams webhook URL cannot be used, if it cannot (the address rule is checked
/// apart, where the resolver is).
fn webhook_url_problem(raw: &str, allow_http: bool) -> Option<String> {
    if raw.len() > MAX_URL {
        return Some(format!("the webhook URL is at most {MAX_URL} characters"));
    }
    let Ok(url) = url::Url::parse(raw) else {
        return Some(
            "the webhook URL is not a URL; copy it from the channel's workflow or connector".into(),
        );
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Some("the webhook URL must start with https://".into()),
    }
    if url.host().is_none() {
        return Some("the webhook URL needs a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("the webhook URL may not carry a user name or password".into());
    }
    None
}

/// What an Approve or Deny button carries: the request and its stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageRef {
    pub request: RequestId,
    pub stage_index: i32,
}

impl StageRef {
    /// `{request id}:{stage index}`.
    pub fn encode(self) -> String {
        format!("{}:{}", self.request, self.stage_index)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (request, stage) = raw.split_once(':')?;
        let request = Uuid::parse_str(request).ok()?;
        let stage_index = stage
            .parse::<i32>()
            .ok()
            .filter(|s| (0..1000).contains(s))?;
        Some(Self {
            request: RequestId(request),
            stage_index,
        })
    }
}

/// The `action_id` of the Approve button.
pub const APPROVE_ACTION: &str = "portico_approve";
/// The `action_id` of the Deny button.
pub const DENY_ACTION: &str = "portico_deny";
/// The `callback_id` of the modal that asks for a reason before deciding.
pub const REASON_VIEW: &str = "portico_reason";

/// The decision a button's `action_id` stands for.
pub fn decision_of(action_id: &str) -> Option<Decision> {
    match action_id {
        APPROVE_ACTION => Some(Decision::Approve),
        DENY_ACTION => Some(Decision::Deny),
        _ => None,
    }
}

/// Whether a click decides at once or first opens the reason modal: a denial always
/// asks (the reason is optional unless the stage requires one), an approval asks only
/// when the stage requires a justification.
pub fn needs_reason(decision: Decision, require_justification: bool) -> bool {
    decision == Decision::Deny || require_justification
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack(token: Option<&str>, signing: Option<&str>) -> ChatInput {
        ChatInput {
            slack: Some(SlackInput {
                bot_token: token.map(String::from),
                signing_secret: signing.map(String::from),
            }),
            teams: None,
        }
    }

    #[test]
    fn new_slack_settings_need_both_secrets() {
        let e = parse_chat(&slack(None, None), Stored::default(), false).expect_err("missing");
        assert_eq!(e.0.len(), 2, "{e:?}");
        assert!(e.0["slack.botToken"].contains("required"));
        let ok = parse_chat(
            &slack(Some("xoxb-1-2"), Some("8f742231b10e8888abcd99yyyzzz85a5")),
            Stored::default(),
            false,
        )
        .expect("valid");
        assert_eq!(
            ok.slack,
            Some((
                SecretChange::New("xoxb-1-2".into()),
                SecretChange::New("8f742231b10e8888abcd99yyyzzz85a5".into())
            ))
        );
        assert_eq!(ok.teams, None);
    }

    #[test]
    fn stored_secrets_are_kept_when_left_out() {
        let stored = Stored {
            slack: true,
            teams: true,
        };
        let input = ChatInput {
            teams: Some(TeamsInput::default()),
            ..slack(None, Some(" new-secret "))
        };
        let ok = parse_chat(&input, stored, false).expect("valid");
        assert_eq!(
            ok.slack,
            Some((SecretChange::Keep, SecretChange::New("new-secret".into())))
        );
        assert_eq!(ok.teams, Some(SecretChange::Keep));
    }

    #[test]
    fn bad_values_are_named_by_field() {
        let input = ChatInput {
            teams: Some(TeamsInput {
                webhook_url: Some("http://teams.example.com/hook".into()),
            }),
            ..slack(Some("xoxp-user-token"), Some("has space"))
        };
        let e = parse_chat(&input, Stored::default(), false).expect_err("invalid");
        assert!(e.0["slack.botToken"].contains("xoxb-"), "{e:?}");
        assert!(e.0["slack.signingSecret"].contains("spaces"), "{e:?}");
        assert!(e.0["teams.webhookUrl"].contains("https://"), "{e:?}");
        let http = ChatInput {
            slack: None,
            teams: input.teams.clone(),
        };
        assert!(parse_chat(&http, Stored::default(), true).is_ok());
        let not_url = ChatInput {
            slack: None,
            teams: Some(TeamsInput {
                webhook_url: Some("teams".into()),
            }),
        };
        let e = parse_chat(&not_url, Stored::default(), true).expect_err("not a URL");
        assert!(e.0["teams.webhookUrl"].contains("not a URL"), "{e:?}");
    }

    #[test]
    fn nothing_sent_means_no_chat() {
        let ok = parse_chat(&ChatInput::default(), Stored::default(), false).expect("valid");
        assert_eq!(
            ok,
            ChatChange {
                slack: None,
                teams: None
            }
        );
    }

    #[test]
    fn a_stage_ref_round_trips_and_refuses_anything_else() {
        let r = StageRef {
            request: RequestId(Uuid::now_v7()),
            stage_index: 2,
        };
        assert_eq!(StageRef::parse(&r.encode()), Some(r));
        for bad in [
            "",
            "x:1",
            &format!("{}:-1", r.request),
            &format!("{}", r.request),
        ] {
            assert_eq!(StageRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn denials_and_required_justifications_ask_for_a_reason() {
        assert!(needs_reason(Decision::Deny, false));
        assert!(needs_reason(Decision::Approve, true));
        assert!(!needs_reason(Decision::Approve, false));
        assert_eq!(decision_of(APPROVE_ACTION), Some(Decision::Approve));
        assert_eq!(decision_of(DENY_ACTION), Some(Decision::Deny));
        assert_eq!(decision_of("other"), None);
    }
}
