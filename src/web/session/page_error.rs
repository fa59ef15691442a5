//! `PageError`, the portals' HTML error page: 4xx with a message a person can act on,
//! 5xx logged with its cause and shown generically. The page's "start page" link
//! leads to the tenant of the request once it is known: `tenant_scope` gives every
//! portal request a slot for it, the caller extractors fill it (`remember_tenant`),
//! and every `PageError` answered during that request reads it. So a handler turns
//! any service error into its tenant's error page with a plain `?`.

use std::cell::RefCell;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::domain::DomainError;
use crate::services::ServiceError;
use crate::web::error::{AppError, Problem};
use crate::web::shell::Shell;

tokio::task_local! {
    /// The slug of the tenant the current request was resolved to.
    static TENANT: RefCell<Option<String>>;
}

/// Middleware of the portals: a fresh tenant slot for each request.
pub async fn tenant_scope(req: Request, next: Next) -> Response {
    TENANT.scope(RefCell::new(None), next.run(req)).await
}

/// Records the tenant of the current request, for its error pages. Outside
/// `tenant_scope` (no portal request) there is nothing to record.
pub(super) fn remember_tenant(slug: &str) {
    let _ = TENANT.try_with(|t| *t.borrow_mut() = Some(slug.to_string()));
}

fn remembered_tenant() -> Option<String> {
    TENANT.try_with(|t| t.borrow().clone()).ok().flatten()
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    shell: Shell,
    status: u16,
    heading: String,
    message: String,
    home: String,
}

/// An error answered as an HTML page: 4xx with a message a person can act on, 5xx
/// logged with its cause and shown generically. Its home link is `slug`'s, else the
/// request's tenant's (see the module header), else the landing page.
#[derive(Debug)]
pub struct PageError {
    pub error: AppError,
    pub slug: Option<String>,
}

impl PageError {
    pub fn forbidden(message: impl Into<String>) -> Self {
        DomainError::forbidden(message).into()
    }

    pub fn not_found() -> Self {
        AppError::NotFound.into()
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest(message.into()).into()
    }

    /// The page links to `slug`'s home, whatever the request's tenant.
    pub fn in_tenant(mut self, slug: &str) -> Self {
        self.slug = Some(slug.to_string());
        self
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        Self { error, slug: None }
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        AppError::from(e).into()
    }
}

impl From<DomainError> for PageError {
    fn from(e: DomainError) -> Self {
        AppError::from(e).into()
    }
}

/// The HTML page for a status and message.
pub fn error_page(status: StatusCode, message: &str, slug: Option<&str>) -> Response {
    let heading = match status.as_u16() {
        400 => "That request could not be understood",
        403 => "You may not do this",
        404 => "Not found",
        409 => "This cannot be done right now",
        410 => "This link has expired",
        412 => "This was changed since you opened it",
        422 => "Please check what you entered",
        405 => "Use this page's forms",
        429 => "Too many attempts",
        _ if status.is_server_error() => "Something went wrong",
        _ => "That did not work",
    };
    let home = slug.map_or_else(|| "/".to_string(), |s| format!("/t/{s}/"));
    titled_error_page(status, heading, message, &home)
}

/// An error page with its own heading, whose button leads to `home`.
pub fn titled_error_page(status: StatusCode, heading: &str, message: &str, home: &str) -> Response {
    let page = ErrorPage {
        shell: Shell::public(heading),
        status: status.as_u16(),
        heading: heading.into(),
        message: message.into(),
        home: home.into(),
    };
    (status, page).into_response()
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let problem = Problem::from_error(&self.error);
        if let AppError::Service(ServiceError::Internal(cause)) = &self.error
            && problem.status_code().is_server_error()
        {
            tracing::error!(error = format!("{cause:#}"), "page failed");
        }
        let slug = self.slug.or_else(remembered_tenant);
        error_page(problem.status_code(), &problem.detail, slug.as_deref())
    }
}

pub type PageResult = Result<Response, PageError>;

/// Any unknown address outside the API.
pub async fn not_found_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "There is nothing at this address. Check the link, or start again from the home page.",
        None,
    )
}

/// A page asked for with a method it does not answer (such as a GET of a form's target).
pub async fn method_not_allowed_page() -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address only takes forms sent from its page. Go back and use the page's buttons.",
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn start_link(page: Response) -> String {
        let bytes = axum::body::to_bytes(page.into_body(), 1 << 20)
            .await
            .expect("body");
        let html = String::from_utf8(bytes.to_vec()).expect("utf-8");
        let end = html.find("\">Go to the start page").expect("start link");
        let start = html[..end].rfind('"').expect("href") + 1;
        html[start..end].to_string()
    }

    #[tokio::test]
    async fn an_error_page_links_home_to_the_tenant_of_its_request() {
        let page = TENANT
            .scope(RefCell::new(None), async {
                remember_tenant("contoso");
                PageError::not_found().into_response()
            })
            .await;
        assert_eq!(start_link(page).await, "/t/contoso/");
        let named = TENANT
            .scope(RefCell::new(None), async {
                remember_tenant("contoso");
                PageError::not_found().in_tenant("fabrikam").into_response()
            })
            .await;
        assert_eq!(start_link(named).await, "/t/fabrikam/");
        // Outside a portal request nothing is remembered.
        remember_tenant("contoso");
        let outside = PageError::not_found().into_response();
        assert_eq!(start_link(outside).await, "/");
    }
}
