//! The confirmation step before an admin deletes, archives or cancels something: one
//! page that says what will happen and posts the change only when confirmed (a GET
//! never changes anything). When the change is not possible, it says why instead.

use askama::Template;
use askama_web::WebTemplate;

use crate::web::session::AdminCaller;
use crate::web::shell::{Section, Shell};

#[derive(Template, WebTemplate)]
#[template(path = "admin/confirm.html")]
pub struct ConfirmPage {
    shell: Shell,
    csrf: String,
    heading: String,
    text: Vec<String>,
    /// Where the confirmation posts; `None` when the change cannot be made.
    action: Option<String>,
    button: String,
    danger: bool,
    back: String,
    back_label: String,
}

/// What a confirmation page says and where it leads.
pub struct Confirm {
    pub heading: String,
    pub text: Vec<String>,
    pub action: Option<String>,
    pub button: String,
    pub danger: bool,
    pub back: String,
    pub back_label: String,
}

impl Confirm {
    pub fn page(self, who: &AdminCaller, section: Section) -> ConfirmPage {
        ConfirmPage {
            shell: who.shell(self.heading.clone(), section),
            csrf: who.csrf.clone(),
            heading: self.heading,
            text: self.text,
            action: self.action,
            button: self.button,
            danger: self.danger,
            back: self.back,
            back_label: self.back_label,
        }
    }
}
