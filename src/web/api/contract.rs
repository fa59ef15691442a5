//! The answers every API operation shares, added to the generated OpenAPI description
//! from what its extractors do, so no handler has to repeat them and none can forget
//! one: `ApiCaller` answers 401 (and 429 over the token's rate); `ApiPath` answers 404
//! for an unknown or malformed id; `ApiQuery` answers 422 naming the parameter;
//! `ApiJson` answers 400 for a body that is not JSON, 413 for one over the size limit
//! and 422 naming the field. Every answer gets a description, and every error answer
//! is documented as what the server sends: `application/problem+json` with `Problem`.

use serde_json::{Map, Value, json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Completes the description in place (see the module comment).
pub fn complete(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        for method in METHODS {
            if let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) {
                complete_operation(operation);
            }
        }
    }
}

fn complete_operation(operation: &mut Map<String, Value>) {
    let takes_body = operation.contains_key("requestBody");
    let parameters_in = |place: &str| {
        operation
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|ps| ps.iter().any(|p| p["in"] == place))
    };
    let has_path = parameters_in("path");
    let has_query = parameters_in("query");
    let responses = operation
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else {
        return;
    };
    let mut shared = vec!["401", "429"];
    if has_path {
        shared.push("404");
    }
    if has_query {
        shared.push("422");
    }
    if takes_body {
        shared.extend(["400", "413", "422"]);
    }
    for status in shared {
        responses.entry(status).or_insert_with(|| json!({}));
    }
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        if response
            .get("description")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            response.insert("description".into(), json!(description(status)));
        }
        if status.starts_with('4') || status.starts_with('5') {
            response.insert(
                "content".into(),
                json!({ PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }),
            );
        }
        match status.as_str() {
            "401" => {
                response.insert(
                    "headers".into(),
                    json!({ "WWW-Authenticate": {
                        "description": "The scheme to authenticate with: Bearer.",
                        "schema": { "type": "string" }
                    } }),
                );
            }
            "429" => {
                response.insert(
                    "headers".into(),
                    json!({ "Retry-After": {
                        "description": "Seconds to wait before the next call.",
                        "schema": { "type": "integer", "minimum": 0 }
                    } }),
                );
            }
            _ => {}
        }
    }
}

/// The media type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

fn description(status: &str) -> &'static str {
    match status {
        "200" => "OK.",
        "201" => "Created.",
        "204" => "Done; no content.",
        "400" => {
            "The request is malformed: the body is not valid JSON or is not sent as `application/json`."
        }
        "401" => "No valid API token: send `Authorization: Bearer <token>`.",
        "403" => "The caller may not do this; `detail` names the rule.",
        "404" => "Nothing with this id in the caller's tenant (a malformed id included).",
        "409" => "The object's current state does not allow this; `detail` says what it is.",
        "413" => "The body is larger than the API takes (2 MiB).",
        "422" => "A field or query parameter is invalid; `errors` maps each to its message.",
        "429" => {
            "This token is calling faster than its rate allows; retry after `Retry-After` seconds."
        }
        _ => "See the problem's detail.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_gets_the_answers_its_extractors_give() {
        let mut doc = json!({ "paths": { "/x/{id}": { "patch": {
            "parameters": [{ "in": "path", "name": "id" }],
            "requestBody": {},
            "responses": {
                "200": { "content": { "application/json": {} } },
                "409": { "description": "Kept.", "content": { "application/json": {} } }
            }
        } } } });

        complete(&mut doc);

        let responses = &doc["paths"]["/x/{id}"]["patch"]["responses"];
        let mut statuses: Vec<&String> = responses.as_object().expect("map").keys().collect();
        statuses.sort();
        assert_eq!(
            statuses,
            ["200", "400", "401", "404", "409", "413", "422", "429"]
        );
        assert_eq!(responses["200"]["description"], "OK.");
        assert!(responses["200"]["content"]["application/json"].is_object());
        assert_eq!(responses["409"]["description"], "Kept.");
        for status in ["400", "401", "404", "409", "413", "422", "429"] {
            let content = responses[status]["content"].as_object().expect("content");
            assert_eq!(
                content.keys().collect::<Vec<_>>(),
                [PROBLEM_JSON],
                "{status}"
            );
        }
    }

    #[test]
    fn a_get_without_query_or_body_gets_no_400_or_422() {
        let mut doc = json!({ "paths": { "/me": { "get": { "responses": { "200": {} } } } } });

        complete(&mut doc);

        let responses = doc["paths"]["/me"]["get"]["responses"]
            .as_object()
            .expect("map");
        assert!(responses.contains_key("401"));
        assert!(!responses.contains_key("400") && !responses.contains_key("422"));
        assert!(!responses.contains_key("404"));
    }

    /// The schema of each state enum lists exactly the texts serde reads and writes
    /// (the schema takes them from `rename_all`, serde from each variant's text).
    #[test]
    fn every_enum_schema_lists_the_texts_the_api_sends() {
        use crate::domain::assignment::{AssignmentState, GrantState, RemovalReason};
        use crate::domain::audit::{ActorType, TargetType};
        use crate::domain::outbox::{OutboxKind, OutboxState};
        use crate::domain::request::{Decision, RequestState, RequestType, StageState};
        use crate::domain::review::{AppliedResult, IfNoResponseValue, ItemDecision, ReviewState};
        use crate::domain::values::UserKind;

        fn listed<T: utoipa::PartialSchema>() -> Vec<String> {
            let schema = serde_json::to_value(T::schema()).unwrap_or_default();
            schema["enum"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        }
        macro_rules! agree {
            ($($name:ty),*) => {$(
                let texts: Vec<String> = <$name>::ALL.iter().map(|v| v.as_str().to_string()).collect();
                assert_eq!(listed::<$name>(), texts, stringify!($name));
            )*};
        }
        agree!(
            RequestType,
            RequestState,
            StageState,
            Decision,
            AssignmentState,
            RemovalReason,
            GrantState,
            ReviewState,
            ItemDecision,
            AppliedResult,
            IfNoResponseValue,
            OutboxKind,
            OutboxState,
            UserKind,
            ActorType,
            TargetType
        );
        let roles: Vec<String> = crate::domain::authz::Role::ALL
            .iter()
            .map(|r| r.as_str().to_string())
            .collect();
        assert_eq!(listed::<crate::domain::authz::Role>(), roles);
    }
}
