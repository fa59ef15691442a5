//! The links under a list to its first and next page.

use uuid::Uuid;

use crate::paging::PageRequest;

/// Links to the first and the next page of a list.
#[derive(Clone, Debug, Default)]
pub struct Pager {
    pub first: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `base` is the list's URL with its filters (and `?` or `&` ready for more).
    pub fn new(base: &str, page: &PageRequest, next: Option<Uuid>) -> Self {
        let sep = if base.contains('?') { '&' } else { '?' };
        Self {
            first: page.before.map(|_| base.to_string()),
            next: next.map(|n| format!("{base}{sep}cursor={n}")),
        }
    }
}
