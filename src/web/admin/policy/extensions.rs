//! The policy editor's custom extensions: one select per stage of a request's life,
//! offering the catalog's extensions (a waiting one only where a request can be held),
//! with the problem the save found at that stage.

use super::draft::Draft;
use crate::domain::extension::ExtensionStage;
use crate::domain::ids::ExtensionId;
use crate::web::view::Errors;

/// The select of one stage's custom extension.
pub(super) struct ExtensionChoice {
    pub(super) stage: &'static str,
    pub(super) label: &'static str,
    /// The chosen extension's id ("" for none).
    pub(super) chosen: String,
    /// (id, name): waiting extensions only where a request can be held.
    pub(super) options: Vec<(String, String)>,
    pub(super) error: Option<String>,
}

/// The selects of every stage; `extensions` are the catalog's (id, name, waits).
pub(super) fn extension_choices(
    draft: &Draft,
    extensions: &[(ExtensionId, String, bool)],
    errors: &Errors,
) -> Vec<ExtensionChoice> {
    ExtensionStage::ALL
        .iter()
        .map(|stage| ExtensionChoice {
            stage: stage.as_str(),
            label: stage.label(),
            chosen: draft.extension_at(*stage).to_string(),
            options: extensions
                .iter()
                .filter(|(_, _, waits)| stage.can_wait() || !waits)
                .map(|(id, name, waits)| {
                    let how = if *waits {
                        "waits for its answer"
                    } else {
                        "told, not waited for"
                    };
                    (id.to_string(), format!("{name} ({how})"))
                })
                .collect(),
            error: draft
                .extensions
                .iter()
                .position(|(s, _)| s == stage.as_str())
                .and_then(|pos| {
                    [
                        format!("customExtensions[{pos}].extensionId"),
                        format!("customExtensions[{pos}].stage"),
                    ]
                    .iter()
                    .find_map(|path| errors.get(path).cloned())
                }),
        })
        .collect()
}
