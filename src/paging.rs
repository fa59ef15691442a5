//! Keyset paging shared by every layer: the request for a page and the page itself.

use uuid::Uuid;

/// Keyset pagination: newest first by v7 id; the cursor is the last id of a page.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub limit: i64,
    pub before: Option<Uuid>,
}

impl PageRequest {
    pub const DEFAULT: i64 = 50;
    pub const MAX: i64 = 500;

    pub fn first(limit: i64) -> Self {
        Self {
            limit,
            before: None,
        }
    }

    /// The `before` bound for SQL: the max UUID when on the first page.
    pub fn before_bound(&self) -> Uuid {
        self.before.unwrap_or(Uuid::max())
    }

    /// One more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }
}

/// A page of rows and the cursor of the next page.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Uuid>,
}

impl<T> Page<T> {
    /// Cuts rows fetched with `fetch_limit` down to the page; `id` gives each row's key.
    pub fn from_rows(mut rows: Vec<T>, page: PageRequest, id: impl Fn(&T) -> Uuid) -> Self {
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(id)
        } else {
            None
        };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}
