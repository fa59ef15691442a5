//! The SCIM 2.0 client connector (RFC 7643/7644, INTEGRATIONS.md §3): Portico gives
//! and takes back access in another system by managing its users and group
//! memberships. A grant finds the person by `userName eq "<email>"` (or by the
//! `externalId` Portico gave them, should their email have changed; creating them when
//! absent, and taking a 409 on create to mean they exist), makes sure they are active,
//! and adds them to the group whose displayName is the role's connector value. A
//! revoke removes them from that group and, when asked to, deactivates them.
//!
//! Both ways are idempotent, so a retry after a lost answer does no harm: adding a
//! member twice, or removing one who is absent, succeeds. Every call goes through
//! `Outbound` (the address rule). Of what the target answers only protocol fields are
//! read (ids, `active`, `userName`, `displayName`, `scimType`); errors are Portico's own
//! short sentences naming the step, the status and the target, never its body.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::outbound::Outbound;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The largest answer read (a search result or a created user).
const ANSWER_LIMIT: usize = 1024 * 1024;
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The person a grant is for, as Portico knows them.
#[derive(Clone, Copy, Debug)]
pub struct Person<'a> {
    /// Portico's user id, sent as `externalId`.
    pub id: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
}

/// A SCIM service provider: its base URL (no trailing slash) and bearer token.
pub struct ScimTarget<'a> {
    outbound: &'a Outbound,
    base_url: &'a str,
    token: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct TargetUser {
    id: String,
    active: bool,
}

/// A filter's string literal: SCIM filters quote strings as JSON does.
fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""))
}

/// Percent-encodes a query value (spaces as %20, which every server reads as a space).
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

impl<'a> ScimTarget<'a> {
    pub fn new(outbound: &'a Outbound, base_url: &'a str, token: &'a str) -> Self {
        Self {
            outbound,
            base_url: base_url.trim_end_matches('/'),
            token,
        }
    }

    /// One call; the answer's status and JSON body (`Null` when empty or not JSON).
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        step: &str,
    ) -> Result<(StatusCode, Value), String> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base_url))
            .header("authorization", format!("Bearer {}", self.token))
            .header("accept", "application/scim+json, application/json");
        if body.is_some() {
            request = request.header("content-type", "application/scim+json");
        }
        let request = request
            .body(bytes)
            .map_err(|_| format!("the SCIM base URL {} cannot be called", self.base_url))?;
        let answer =
            tokio::time::timeout(CALL_TIMEOUT, self.outbound.exchange(request, ANSWER_LIMIT))
                .await
                .map_err(|_| {
                    format!(
                        "{step}: the SCIM target at {} did not answer in time",
                        self.base_url
                    )
                })?
                .map_err(|e| format!("{step}: {e} (SCIM target {})", self.base_url))?;
        let status = answer.status();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(format!(
                "{step}: the SCIM target at {} refused the token ({}); set a valid token on the connector",
                self.base_url,
                status_text(status)
            ));
        }
        let value = serde_json::from_slice(answer.body()).unwrap_or(Value::Null);
        Ok((status, value))
    }

    fn unexpected(&self, step: &str, status: StatusCode) -> String {
        format!(
            "{step}: the SCIM target at {} answered {}",
            self.base_url,
            status_text(status)
        )
    }

    /// The `Resources` of a list answer.
    fn resources(&self, step: &str, list: &Value) -> Result<Vec<Value>, String> {
        match list.get("Resources") {
            Some(Value::Array(items)) => Ok(items.clone()),
            // An empty result may leave `Resources` out (RFC 7644 §3.4.2).
            None if list.get("totalResults").is_some() => Ok(Vec::new()),
            _ => Err(format!(
                "{step}: the SCIM target at {} did not answer with a SCIM list",
                self.base_url
            )),
        }
    }

    /// The user whose `attribute` equals `value` (the server compares userName
    /// case-insensitively; the exact spelling wins when several answer).
    async fn find_user_by(
        &self,
        attribute: &str,
        value: &str,
    ) -> Result<Option<TargetUser>, String> {
        let step = "looking up the user";
        let filter = encode(&format!("{attribute} eq {}", quoted(value)));
        let (status, list) = self
            .call(Method::GET, &format!("/Users?filter={filter}"), None, step)
            .await?;
        if !status.is_success() {
            return Err(self.unexpected(step, status));
        }
        let users = self.resources(step, &list)?;
        let chosen = users
            .iter()
            .find(|u| u[attribute].as_str() == Some(value))
            .or_else(|| users.first());
        Ok(chosen.and_then(|u| {
            Some(TargetUser {
                id: u["id"].as_str()?.to_string(),
                active: u["active"].as_bool().unwrap_or(true),
            })
        }))
    }

    /// The person in the target: by userName (their email), or else by the externalId
    /// Portico gave them when it created them (their email has changed since).
    async fn find_user(&self, person: Person<'_>) -> Result<Option<TargetUser>, String> {
        match self.find_user_by("userName", person.email).await? {
            Some(user) => Ok(Some(user)),
            None => self.find_user_by("externalId", person.id).await,
        }
    }

    /// Creates the user; `None` when the target says they exist already (409).
    async fn create_user(&self, person: Person<'_>) -> Result<Option<TargetUser>, String> {
        let step = "creating the user";
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": person.email,
            "externalId": person.id,
            "active": true,
            "displayName": person.display_name,
            "name": {"formatted": person.display_name},
            "emails": [{"value": person.email, "type": "work", "primary": true}],
        });
        let (status, created) = self.call(Method::POST, "/Users", Some(&body), step).await?;
        if status == StatusCode::CONFLICT {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(self.unexpected(step, status));
        }
        match created["id"].as_str() {
            Some(id) => Ok(Some(TargetUser {
                id: id.to_string(),
                active: true,
            })),
            None => Err(format!(
                "{step}: the SCIM target at {} answered without the new user's id",
                self.base_url
            )),
        }
    }

    /// The id of the group whose displayName is `name`, if there is one.
    async fn find_group(&self, name: &str) -> Result<Option<String>, String> {
        let step = "looking up the group";
        let filter = encode(&format!("displayName eq {}", quoted(name)));
        let (status, list) = self
            .call(
                Method::GET,
                &format!("/Groups?filter={filter}&excludedAttributes=members"),
                None,
                step,
            )
            .await?;
        if !status.is_success() {
            return Err(self.unexpected(step, status));
        }
        let groups = self.resources(step, &list)?;
        let chosen = groups
            .iter()
            .find(|g| g["displayName"].as_str() == Some(name))
            .or_else(|| groups.first());
        Ok(chosen.and_then(|g| g["id"].as_str()).map(str::to_string))
    }

    async fn patch(&self, path: &str, operation: Value, step: &str) -> Result<StatusCode, String> {
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": [operation]});
        let (status, _) = self.call(Method::PATCH, path, Some(&body), step).await?;
        Ok(status)
    }

    async fn set_active(&self, user: &str, active: bool) -> Result<(), String> {
        let step = if active {
            "reactivating the user"
        } else {
            "deactivating the user"
        };
        let status = self
            .patch(
                &format!("/Users/{}", encode(user)),
                json!({"op": "replace", "path": "active", "value": active}),
                step,
            )
            .await?;
        // Deactivating someone the target no longer has is done already.
        if status.is_success() || (!active && status == StatusCode::NOT_FOUND) {
            Ok(())
        } else {
            Err(self.unexpected(step, status))
        }
    }

    /// Checks that the target answers and accepts the token by listing one user
    /// (`/ServiceProviderConfig` proves neither: servers may answer it without
    /// authentication, RFC 7644 §4).
    pub async fn test_connection(&self) -> Result<(), String> {
        let step = "listing one user";
        let (status, list) = self.call(Method::GET, "/Users?count=1", None, step).await?;
        if !status.is_success() {
            return Err(self.unexpected(step, status));
        }
        self.resources(step, &list).map(drop)
    }

    /// Gives the person the role: present, active, and a member of `group`.
    pub async fn grant(&self, person: Person<'_>, group: &str) -> Result<(), String> {
        let group_id = self.find_group(group).await?.ok_or_else(|| {
            format!(
                "target group '{group}' not found at {}; create it there or change the role's connector value",
                self.base_url
            )
        })?;
        let user = match self.find_user(person).await? {
            Some(user) => user,
            None => match self.create_user(person).await? {
                Some(user) => user,
                // Created meanwhile (or invisible to the search a moment ago): use it.
                None => self.find_user(person).await?.ok_or_else(|| {
                    format!(
                        "creating the user: the SCIM target at {} says '{}' exists but does not find that userName",
                        self.base_url, person.email
                    )
                })?,
            },
        };
        if !user.active {
            self.set_active(&user.id, true).await?;
        }
        let step = "adding the member";
        let status = self
            .patch(
                &format!("/Groups/{}", encode(&group_id)),
                json!({"op": "add", "path": "members", "value": [{"value": user.id}]}),
                step,
            )
            .await?;
        // Some servers answer 409 to a member who is there already.
        if status.is_success() || status == StatusCode::CONFLICT {
            Ok(())
        } else if status == StatusCode::NOT_FOUND {
            Err(format!(
                "target group '{group}' not found at {} (deleted while adding the member)",
                self.base_url
            ))
        } else {
            Err(self.unexpected(step, status))
        }
    }

    /// Takes the role back: no longer a member of `group`, and inactive when
    /// `deactivate` (the person holds nothing else through this connector).
    pub async fn revoke(
        &self,
        person: Person<'_>,
        group: &str,
        deactivate: bool,
    ) -> Result<(), String> {
        let Some(user) = self.find_user(person).await? else {
            return Ok(());
        };
        if let Some(group_id) = self.find_group(group).await? {
            let step = "removing the member";
            let (status, answer) = self
                .call(
                    Method::PATCH,
                    &format!("/Groups/{}", encode(&group_id)),
                    Some(&json!({"schemas": [PATCH_SCHEMA], "Operations": [
                        {"op": "remove", "path": format!("members[value eq {}]", quoted(&user.id))}
                    ]})),
                    step,
                )
                .await?;
            // Absent already: a 404 for the group, or a 400 `noTarget` for the member.
            let absent = status == StatusCode::NOT_FOUND
                || (status == StatusCode::BAD_REQUEST && answer["scimType"] == "noTarget");
            if !status.is_success() && !absent {
                return Err(self.unexpected(step, status));
            }
        }
        if deactivate && user.active {
            self.set_active(&user.id, false).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_quote_and_encode_their_values() {
        assert_eq!(quoted("a@b.test"), "\"a@b.test\"");
        assert_eq!(quoted("x\"y\\z"), "\"x\\\"y\\\\z\"");
        assert_eq!(
            encode("userName eq \"a+b@c.test\""),
            "userName%20eq%20%22a%2Bb%40c.test%22"
        );
    }

    #[test]
    fn statuses_are_named_with_their_reason() {
        assert_eq!(status_text(StatusCode::NOT_FOUND), "404 Not Found");
        assert_eq!(
            status_text(StatusCode::from_u16(599).unwrap_or(StatusCode::OK)),
            "599"
        );
    }
}
