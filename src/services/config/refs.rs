//! The places where a policy names a user, a group or a custom extension, walked in
//! both directions: ids to names for export, names to ids for apply.

use serde_json::{Map, Value};

/// Calls `f` with the path and the object of every principal a policy's settings name
/// (`{type, id}` in the API, `{type, email}` or `{type, group}` in a document).
pub fn for_each_principal(
    settings: &mut Value,
    f: &mut dyn FnMut(String, &mut Map<String, Value>),
) {
    let list = |v: Option<&mut Value>,
                path: String,
                f: &mut dyn FnMut(String, &mut Map<String, Value>)| {
        if let Some(Value::Array(items)) = v {
            for (i, item) in items.iter_mut().enumerate() {
                if let Value::Object(m) = item {
                    f(format!("{path}[{i}]"), m);
                }
            }
        }
    };
    let Value::Object(root) = settings else {
        return;
    };
    if let Some(Value::Object(r)) = root.get_mut("requestors") {
        list(r.get_mut("principals"), "requestors.principals".into(), f);
    }
    if let Some(Value::Object(a)) = root.get_mut("approval")
        && let Some(Value::Array(stages)) = a.get_mut("stages")
    {
        for (s, stage) in stages.iter_mut().enumerate() {
            let Value::Object(stage) = stage else {
                continue;
            };
            list(
                stage.get_mut("approvers"),
                format!("approval.stages[{s}].approvers"),
                f,
            );
            list(
                stage.get_mut("fallbackApprovers"),
                format!("approval.stages[{s}].fallbackApprovers"),
                f,
            );
            if let Some(Value::Object(e)) = stage.get_mut("escalation") {
                list(
                    e.get_mut("approvers"),
                    format!("approval.stages[{s}].escalation.approvers"),
                    f,
                );
            }
        }
    }
    if let Some(Value::Object(r)) = root.get_mut("review") {
        list(r.get_mut("reviewers"), "review.reviewers".into(), f);
        list(
            r.get_mut("fallbackReviewers"),
            "review.fallbackReviewers".into(),
            f,
        );
    }
}

/// Calls `f` with the path and the object of every custom extension a policy calls.
pub fn for_each_extension(
    settings: &mut Value,
    f: &mut dyn FnMut(String, &mut Map<String, Value>),
) {
    if let Value::Object(root) = settings
        && let Some(Value::Array(items)) = root.get_mut("customExtensions")
    {
        for (i, item) in items.iter_mut().enumerate() {
            if let Value::Object(m) = item {
                f(format!("customExtensions[{i}]"), m);
            }
        }
    }
}

/// The `type` of a principal object.
pub fn kind(m: &Map<String, Value>) -> &str {
    m.get("type").and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_place_a_policy_names_someone_is_walked() {
        let mut v = json!({
            "requestors": {"scope": "specific", "principals": [{"type": "user", "id": "a"}]},
            "approval": {"stages": [{"approvers": [{"type": "manager"}, {"type": "group", "id": "b"}],
                                      "fallbackApprovers": [{"type": "user", "id": "c"}],
                                      "escalation": {"approvers": [{"type": "user", "id": "d"}]}}]},
            "review": {"reviewers": [{"type": "user", "id": "e"}], "fallbackReviewers": [{"type": "group", "id": "f"}]},
            "customExtensions": [{"stage": "requestCreated", "extensionId": "g"}]
        });
        let mut seen = Vec::new();
        for_each_principal(&mut v, &mut |path, m| {
            seen.push((path, kind(m).to_string()))
        });
        for_each_extension(&mut v, &mut |path, _| seen.push((path, String::new())));
        let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "requestors.principals[0]",
                "approval.stages[0].approvers[0]",
                "approval.stages[0].approvers[1]",
                "approval.stages[0].fallbackApprovers[0]",
                "approval.stages[0].escalation.approvers[0]",
                "review.reviewers[0]",
                "review.fallbackReviewers[0]",
                "customExtensions[0]",
            ]
        );
    }
}
