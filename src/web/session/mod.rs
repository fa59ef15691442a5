//! Browser sessions at the HTTP edge, one concern a file: `cookies` (this site's
//! cookies), `flash` (the one-time message after a redirect), `caller` (the
//! `portico_session` cookie resolved to a `services::Caller`: `SessionCaller`,
//! `AdminCaller`; `TenantSlug` before sign-in), `form` (`FormData`, `Params`), `csrf`
//! (posted forms after their Origin and CSRF checks: `Posted`, `PreSessionForm`) and
//! `page_error` (`PageError`, the HTML error page, which links to the request's tenant).
//!
//! Invariant (kept by `csrf`): no state-changing handler of the portals runs unless
//! the request's `csrf_token` field equals the session's secret signed under the server
//! key (or, before sign-in, the `portico_csrf_pre` cookie's nonce signed the same way),
//! compared in constant time, and its Origin, when sent, is this site. The Origin is
//! checked first, by the portals' middleware `refuse_foreign_origin`, before any
//! session is looked up. On https sites every cookie is `__Host-`-prefixed (`cookies`).

mod caller;
mod cookies;
mod csrf;
mod flash;
mod form;
mod page_error;

pub use caller::{AdminCaller, HasSession, SessionCaller, TenantSlug, zone_of, zone_scope};
pub use cookies::{SESSION_COOKIE, clear_cookie, cookie, read_cookie, set_cookie, with_cookies};
pub use csrf::{
    CSRF_FIELD, Posted, PreSessionForm, pre_session_token, refuse_foreign_origin, same_secret,
};
pub use flash::{clear_flash, redirect_with_error, redirect_with_flash};
pub use form::{FormData, Params};
pub use page_error::{
    PageError, PageResult, error_page, method_not_allowed_page, not_found_page, tenant_scope,
    titled_error_page,
};
