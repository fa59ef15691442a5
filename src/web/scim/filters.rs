//! `filter` of a list, turned into a SQL condition over indexed columns.

use sqlx::{Postgres, QueryBuilder};

use super::error::ScimError;

pub type Cond<'a> = &'a (dyn Fn(&mut QueryBuilder<Postgres>) + Sync);
pub type Boxed = Box<dyn Fn(&mut QueryBuilder<Postgres>) + Send + Sync>;

pub fn users(filter: Option<&str>) -> Result<Option<Boxed>, ScimError> {
    match filter {
        None => Ok(None),
        Some(_) => Err(ScimError::bad(
            "invalidFilter",
            "Filters are not available yet.",
        )),
    }
}

pub fn groups(filter: Option<&str>) -> Result<Option<Boxed>, ScimError> {
    users(filter)
}
