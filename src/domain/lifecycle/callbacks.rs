//! Custom extensions in the lifecycle: a request held by an extension
//! (`waitingForCallback`) is answered through its callback, or its time-out applies
//! `onTimeout`. `continue` goes on exactly as if nothing had held it (the submission's
//! way for `requestCreated`, the approval's for `requestApproved`, neither stage
//! reached again); `deny` denies it. Where a request is held is decided by
//! `submitted` and `approved_as` from the request's `Holds`.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{
    Action, Note, Refusal, Request, Tell, Told, Transition, approved_as, conflict, proceed,
};
use crate::domain::extension::{CallbackOutcome, ExtensionStage};
use crate::domain::request::RequestState;

/// A request the extension of `stage` held was answered (or timed out) with `outcome`.
pub(super) fn callback(
    request: &Request,
    stage: ExtensionStage,
    outcome: CallbackOutcome,
    action: Action,
    details: Value,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    if request.state != RequestState::WaitingForCallback {
        return Err(conflict(format!(
            "This request is {}; it is not waiting for a callback.",
            request.state
        )));
    }
    let notes = vec![Note {
        action,
        by_system: true,
        details,
    }];
    if outcome == CallbackOutcome::Deny {
        let mut t = Transition::to(RequestState::Denied).tell(Tell::Requestor(Told::Denied));
        t.notes = notes;
        return Ok(t.note(
            Action::Denied,
            true,
            json!({"stage": stage, "by": "customExtension"}),
        ));
    }
    let mut t = match stage {
        ExtensionStage::RequestCreated => proceed(request, false, now),
        _ => approved_as(request, now, Vec::new(), false),
    };
    t.notes.splice(0..0, notes);
    Ok(t)
}
