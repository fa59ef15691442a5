//! What pages show, in one place: times (`crate::time_text`), state badges and labels
//! (`states`), field labels and form errors (`fields`), pagers (`pager`), and the
//! request timeline and table both portals show (`requests`). Handlers and templates
//! get text from here; markup stays in `templates/`.

mod fields;
mod pager;
mod requests;
mod states;

pub use crate::time_text::{input_time, parse_when, when, when_opt, when_with_seconds};
pub use fields::{Errors, field_label, form_errors, form_when, invalid};
pub use pager::Pager;
pub use requests::{
    ExtensionStep, RequestTable, RequestTableRow, StageEntry, extension_steps, stage_timeline,
};
pub use states::{Badge, request_kind, request_outcome, state_label};
