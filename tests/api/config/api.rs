//! Through `/api/v1/tenant/config`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{DEMO_ADMIN, copy_of_directory, demo, export, without_roles_of};
use crate::helpers::TestApp;

const WEBHOOK_SECRET: &str = "very-secret-signing-key-4711";
const EXTENSION_SECRET: &str = "another-secret-signing-key-0815";

/// The demo's configuration with one more catalog that uses every kind of object:
/// a resource with a webhook connector and mapped roles, a group resource, a custom
/// extension, catalog roles for a user and a group, and a package with incompatible
/// package and group, and a policy naming a user, a group and the extension.
fn enriched(mut doc: Value, with_secrets: bool) -> Value {
    let first = doc["packages"][0].clone();
    let mut connector = json!({"type": "webhook", "url": "http://127.0.0.1:9/hooks"});
    let mut extension = json!({"name": "HR check", "url": "http://127.0.0.1:9/hr", "behavior": "fireAndForget",
                               "timeoutMinutes": 30, "onTimeout": "continue"});
    if with_secrets {
        connector["secret"] = json!(WEBHOOK_SECRET);
        extension["secret"] = json!(EXTENSION_SECRET);
    }
    doc["catalogs"].as_array_mut().unwrap().push(json!({
        "name": "Integrations",
        "description": "Systems outside the directory",
        "externallyVisible": true,
        "resources": [
            {"name": "Payroll", "type": "application",
             "roles": [{"name": "Reader"}, {"name": "Approver", "value": "payroll-approver"}],
             "connector": connector},
            {"name": "Sales CRM Users", "type": "group"}
        ],
        "extensions": [extension],
        "roles": [{"role": "catalogOwner", "user": "megan@contoso.example"},
                  {"role": "catalogReader", "group": "Finance Report Readers"}]
    }));
    doc["packages"].as_array_mut().unwrap().push(json!({
        "name": "Payroll readers",
        "catalog": "Integrations",
        "description": "Read payroll",
        "roles": [{"resource": "Payroll", "role": "Reader"}, {"resource": "Sales CRM Users", "role": "Member"}],
        "incompatiblePackages": [{"catalog": first["catalog"], "package": first["name"]}],
        "incompatibleGroups": ["Finance Report Readers"],
        "policies": [{
            "name": "Staff",
            "requestors": {"scope": "allMembers"},
            "approval": {"stages": [{"approvers": [{"type": "user", "email": "megan@contoso.example"},
                                                   {"type": "group", "group": "Finance Report Readers"}],
                                     "timeoutDays": 7}]},
            "questions": [{"text": "Which team?", "kind": "shortText", "required": true}],
            "customExtensions": [{"stage": "requestCreated", "extension": "HR check"}]
        }]
    }));
    doc
}

async fn plan(app: &TestApp, token: &str, doc: &Value, prune: bool) -> (StatusCode, Value) {
    app.post(
        token,
        &format!("/api/v1/tenant/config/plan?prune={prune}"),
        doc.clone(),
    )
    .await
}

async fn apply(app: &TestApp, token: &str, doc: &Value, prune: bool) -> (StatusCode, Value) {
    app.post(
        token,
        &format!("/api/v1/tenant/config/apply?prune={prune}"),
        doc.clone(),
    )
    .await
}

fn changes(plan: &Value) -> Vec<(String, String, String)> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
                c["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn export_then_apply_on_an_empty_tenant_reproduces_the_demo_configuration() {
    let (app, contoso) = demo().await;
    let original = export(&app, &contoso).await;
    assert!(
        !original["packages"].as_array().unwrap().is_empty(),
        "{original}"
    );
    assert!(
        original["roles"]
            .as_array()
            .unwrap()
            .contains(&json!({"role": "tenantAdmin", "user": DEMO_ADMIN})),
        "{original}"
    );
    assert!(
        !original.to_string().contains("\"id\""),
        "an export names things, never ids: {original}"
    );

    // The demo tenant takes a richer configuration: only the new catalog's objects change.
    let richer = enriched(original.clone(), true);
    let (status, planned) = plan(&app, &contoso, &richer, false).await;
    assert_eq!(status, StatusCode::OK, "{planned}");
    let planned_changes = changes(&planned);
    assert!(
        planned_changes.iter().all(|(a, _, _)| a == "create"),
        "{planned}"
    );
    for kind in [
        "catalog",
        "resource",
        "customExtension",
        "roleAssignment",
        "accessPackage",
        "policy",
    ] {
        assert!(
            planned_changes.iter().any(|(_, k, _)| k == kind),
            "{kind}: {planned}"
        );
    }
    let (status, applied) = apply(&app, &contoso, &richer, false).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["applied"], json!(true));
    assert_eq!(
        changes(&applied),
        planned_changes,
        "apply makes the changes plan listed"
    );
    let demo_doc = export(&app, &contoso).await;
    assert!(
        !demo_doc.to_string().contains(WEBHOOK_SECRET),
        "secrets are never exported"
    );
    let integrations = &demo_doc["catalogs"][demo_doc["catalogs"].as_array().unwrap().len() - 1];
    assert_eq!(
        integrations["resources"][0]["connector"],
        json!({"type": "webhook", "url": "http://127.0.0.1:9/hooks"})
    );
    let staff =
        &demo_doc["packages"][demo_doc["packages"].as_array().unwrap().len() - 1]["policies"][0];
    assert_eq!(
        staff["approval"]["stages"][0]["approvers"],
        json!([{"type": "user", "email": "megan@contoso.example"}, {"type": "group", "group": "Finance Report Readers"}])
    );
    assert_eq!(
        staff["customExtensions"],
        json!([{"stage": "requestCreated", "extension": "HR check"}])
    );
    assert!(
        staff["questions"][0].get("id").is_none(),
        "question ids stay Portico's own: {staff}"
    );

    // Export → apply on a tenant that has the same people and groups and nothing else.
    let copy = copy_of_directory(&app, "copy").await;
    let (status, refused) = apply(&app, &copy.admin, &demo_doc, false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let catalogs = demo_doc["catalogs"].as_array().unwrap().len() - 1;
    for field in [
        format!("catalogs[{catalogs}].resources[0].connector.secret"),
        format!("catalogs[{catalogs}].extensions[0].secret"),
    ] {
        assert!(refused["errors"][&field].is_string(), "{field}: {refused}");
    }
    let created: i64 = sqlx::query_scalar(
        "select count(*) from access_packages p join tenants t on t.id = p.tenant_id where t.slug = 'copy'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(created, 0, "a refused document writes nothing");

    let with_secrets = enriched(original.clone(), true);
    let (status, applied) = apply(&app, &copy.admin, &with_secrets, false).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    let copied = without_roles_of(export(&app, &copy.admin).await, &copy.admin_email);
    assert_eq!(copied, demo_doc, "the copy has the demo's configuration");

    // The same document again changes nothing, and says so.
    let (status, again) = apply(&app, &copy.admin, &with_secrets, false).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["changes"], json!([]), "{again}");
    assert_eq!(again["applied"], json!(false));
    let (status, again) = apply(&app, &contoso, &demo_doc, false).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["changes"], json!([]), "{again}");

    // Every change of the apply is audited as such, under one correlation id.
    let rows: Vec<(String, Option<uuid::Uuid>, Value)> = sqlx::query_as(
        "select e.action, e.correlation_id, e.details from audit_events e join tenants t on t.id = e.tenant_id
         where t.slug = 'copy' and (e.details ->> 'via' = 'configApply' or e.action = 'tenant.configApplied')",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let summary: Vec<_> = rows
        .iter()
        .filter(|r| r.0 == "tenant.configApplied")
        .collect();
    assert_eq!(
        summary.len(),
        1,
        "one summary for one apply that changed something"
    );
    let correlation = summary[0].1.expect("a correlation id");
    assert!(rows.iter().all(|r| r.1 == Some(correlation)), "{rows:?}");
    for action in [
        "catalog.created",
        "resource.added",
        "customExtension.created",
        "accessPackage.created",
        "policy.created",
        "roleAssignment.created",
    ] {
        assert!(rows.iter().any(|r| r.0 == action), "{action}: {rows:?}");
    }
    assert!(
        !format!("{rows:?}").contains(WEBHOOK_SECRET),
        "secrets never enter the audit log"
    );
}

#[tokio::test]
async fn a_wrong_document_gets_every_error_at_its_path_and_nothing_is_written() {
    let (app, contoso) = demo().await;
    let mut doc = export(&app, &contoso).await;
    doc["catalogs"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Brand new"}));
    doc["catalogs"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "brand NEW"}));
    doc["packages"][0]["roles"]
        .as_array_mut()
        .unwrap()
        .push(json!({"resource": "Nowhere", "role": "Member"}));
    doc["packages"][1]["policies"][0]["approval"] = json!({"stages": [
        {"approvers": [{"type": "user", "email": "megan@contoso.example"}]},
        {"approvers": [{"type": "user", "email": "nobody@contoso.example"}], "timeoutDays": 30}
    ]});
    doc["packages"][2]["catalog"] = json!("No such catalog");
    doc["roles"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "catalogOwner", "group": "Ghosts"}));
    let before = export(&app, &contoso).await;
    let (status, refused) = app.post(&contoso, "/api/v1/tenant/config/apply", doc).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let errors = &refused["errors"];
    for (field, words) in [
        ("catalogs[2].name", "named twice"),
        ("packages[0].roles[1].resource", "no resource named Nowhere"),
        (
            "packages[1].policies[0].approval.stages[1].approvers[0].email",
            "no user with email nobody@contoso.example",
        ),
        (
            "packages[1].policies[0].approval.stages[1].timeoutDays",
            "1 to 14 days",
        ),
        ("packages[2].catalog", "no catalog named No such catalog"),
        ("roles[1].role", "catalogOwner"),
    ] {
        let message = errors[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {refused}"));
        assert!(message.contains(words), "{field}: {message}");
    }
    assert_eq!(export(&app, &contoso).await, before, "nothing was written");

    // A misspelt key or a wrong type is refused with its path too.
    let (status, refused) = app
        .post(
            &contoso,
            "/api/v1/tenant/config/plan",
            json!({"catalogs": [{"name": "X", "enabeld": false}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.to_string().contains("catalogs[0]"), "{refused}");
}

#[tokio::test]
async fn changes_are_planned_by_field_and_deletions_need_prune() {
    let (app, contoso) = demo().await;
    let original = export(&app, &contoso).await;
    let mut doc = original.clone();
    let gone = doc["packages"].as_array_mut().unwrap().pop().unwrap();
    doc["packages"][0]["description"] = json!("Changed by a pull request");
    let asked = doc["packages"][0]["policies"][0]["requireJustification"] == json!(true);
    doc["packages"][0]["policies"][0]["requireJustification"] = json!(!asked);
    let (status, planned) = plan(&app, &contoso, &doc, false).await;
    assert_eq!(status, StatusCode::OK, "{planned}");
    let c = &planned["changes"];
    assert_eq!(c.as_array().unwrap().len(), 2, "{planned}");
    assert_eq!(c[0]["action"], "update");
    assert_eq!(c[0]["kind"], "accessPackage");
    assert_eq!(c[0]["fields"], json!(["description"]));
    assert_eq!(c[0]["path"], "packages[0]");
    assert_eq!(c[1]["kind"], "policy");
    assert_eq!(c[1]["fields"], json!(["settings"]));
    assert_eq!(
        planned["notInDocument"],
        json!(1),
        "the package left out (its policies go with it)"
    );

    let (status, applied) = apply(&app, &contoso, &doc, false).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    let after = export(&app, &contoso).await;
    assert_eq!(
        after["packages"].as_array().unwrap().len(),
        original["packages"].as_array().unwrap().len()
    );
    assert_eq!(
        after["packages"][0]["description"],
        "Changed by a pull request"
    );

    let (status, pruned) = plan(&app, &contoso, &doc, true).await;
    assert_eq!(status, StatusCode::OK, "{pruned}");
    let deletions = changes(&pruned);
    assert!(
        deletions.iter().any(|(a, k, n)| a == "delete"
            && k == "accessPackage"
            && n.ends_with(gone["name"].as_str().unwrap())),
        "{pruned}"
    );
    let (status, applied) = apply(&app, &contoso, &doc, true).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    let after = export(&app, &contoso).await;
    assert_eq!(after, doc, "after pruning the tenant is the document");

    // Pruning never takes away the tenant admin role of whoever applies.
    let mut without_me = doc.clone();
    without_me["roles"] = json!([]);
    let (status, refused) = apply(&app, &contoso, &without_me, true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused["errors"]["roles"]
            .as_str()
            .unwrap()
            .contains(DEMO_ADMIN),
        "{refused}"
    );
}

#[tokio::test]
async fn only_tenant_admins_export_plan_or_apply() {
    let (app, contoso) = demo().await;
    let doc = export(&app, &contoso).await;
    let megan = app.token("contoso", "megan@contoso.example").await;
    assert_eq!(
        app.get(&megan, "/api/v1/tenant/config").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        plan(&app, &megan, &doc, false).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        apply(&app, &megan, &doc, false).await.0,
        StatusCode::FORBIDDEN
    );

    // Another tenant's admin sees and changes only their own tenant.
    let other = app.tenant("other").await;
    let theirs = export(&app, &other.admin).await;
    assert_eq!(theirs["packages"], json!([]), "{theirs}");
    let (status, refused) = apply(&app, &other.admin, &doc, false).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "contoso's people are not theirs: {refused}"
    );
}
