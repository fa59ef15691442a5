//! What the admin portal and the requester portal both show of requests: a request's
//! stage-by-stage timeline (`templates/partials/stage_timeline.html`) and a table of
//! requests (`templates/partials/request_table.html`).

use uuid::Uuid;

use super::states::Badge;
use crate::model::requests::StageRow;
use crate::services::requests::StageView;
use crate::time_text::when;

/// One decision on a stage.
pub struct DecisionEntry {
    pub who: String,
    pub decision: Badge,
    pub justification: String,
    pub at: String,
}

/// One stage of a request's timeline.
pub struct StageEntry {
    pub n: i32,
    pub state: Badge,
    /// The stage's facts on one line ("Approvers: … · due …").
    pub facts: String,
    /// The approvers on a line of their own, where the facts do not name them.
    pub approvers: Option<String>,
    pub decisions: Vec<DecisionEntry>,
}

/// The timeline of `stages`: `user` names a person, `details` gives a stage's facts
/// line and, if shown apart, its approvers.
pub fn stage_timeline(
    stages: &[StageView],
    user: impl Fn(Uuid) -> String,
    details: impl Fn(&StageRow) -> (String, Option<String>),
) -> Vec<StageEntry> {
    stages
        .iter()
        .map(|s| {
            let (facts, approvers) = details(&s.stage);
            StageEntry {
                n: s.stage.stage_index + 1,
                state: Badge::state(s.stage.state),
                facts,
                approvers,
                decisions: s
                    .decisions
                    .iter()
                    .map(|d| DecisionEntry {
                        who: user(d.approver_id.0),
                        decision: Badge::state(d.decision),
                        justification: d.justification.clone().unwrap_or_default(),
                        at: when(d.decided_at),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// A table of requests: the first column links to the request, the last shows its
/// state, the others are text.
pub struct RequestTable {
    /// Read by screen readers only.
    pub caption: String,
    pub headings: Vec<&'static str>,
    pub rows: Vec<RequestTableRow>,
}

pub struct RequestTableRow {
    pub href: String,
    pub link: String,
    pub cells: Vec<String>,
    pub state: Badge,
}

/// A custom-extension step of a request, as both portals show it.
#[derive(Clone, Debug)]
pub struct ExtensionStep {
    pub at: String,
    pub tone: &'static str,
    pub text: String,
}

/// The custom-extension steps of a request, oldest first.
pub fn extension_steps(steps: &[crate::services::extensions::history::Step]) -> Vec<ExtensionStep> {
    steps
        .iter()
        .map(|s| ExtensionStep {
            at: when(s.at),
            tone: s.tone,
            text: s.text.clone(),
        })
        .collect()
}
