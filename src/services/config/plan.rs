//! What a run would change or changed, as data (the API) and as lines (the CLI).

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConfigChangeAction)]
pub enum ChangeAction {
    Create,
    Update,
    Delete,
}

/// One change: what, to which object, where in the document, and which fields.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConfigChange)]
pub struct Change {
    pub action: ChangeAction,
    /// catalog, resource, customExtension, accessPackage, policy or roleAssignment.
    pub kind: String,
    pub name: String,
    /// Where the document names it (absent for deletions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For updates: the fields that change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// The changes of a run; `applied` says whether they were made.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ConfigPlan)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub applied: bool,
    /// Objects of the tenant the document leaves out, kept because the run did not prune.
    pub not_in_document: usize,
}

impl Plan {
    /// The plan as lines: `+ catalog Sales`, `~ policy Staff (settings)`, `- resource Wiki`,
    /// and a last line that sums it up.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .changes
            .iter()
            .map(|c| {
                let sign = match c.action {
                    ChangeAction::Create => '+',
                    ChangeAction::Update => '~',
                    ChangeAction::Delete => '-',
                };
                let mut line = format!("{sign} {} {}", c.kind, c.name);
                if !c.fields.is_empty() {
                    line.push_str(&format!(" ({})", c.fields.join(", ")));
                }
                if let Some(p) = &c.path {
                    line.push_str(&format!("  [{p}]"));
                }
                line
            })
            .collect();
        let count = |a: ChangeAction| self.changes.iter().filter(|c| c.action == a).count();
        if self.changes.is_empty() {
            out.push("No changes: the tenant already matches the document.".into());
        } else {
            out.push(format!(
                "{}: {} to create, {} to update, {} to delete.",
                if self.applied { "Applied" } else { "Plan" },
                count(ChangeAction::Create),
                count(ChangeAction::Update),
                count(ChangeAction::Delete)
            ));
        }
        if self.not_in_document > 0 {
            out.push(format!(
                "{} object(s) of the tenant are not in the document and are kept (prune deletes them).",
                self.not_in_document
            ));
        }
        out
    }
}
