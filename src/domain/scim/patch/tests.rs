use std::time::Instant;

use serde_json::{Value, json};

use super::*;
use crate::domain::scim::ScimType;

const EXT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

fn run(resource: &mut Value, ops: Value) -> Result<(), ScimError> {
    let request = parse(&body(ops))?;
    apply_all(resource, &request)
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u-1",
        "userName": "alice@example.com",
        "displayName": "Alice",
        "active": true,
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "emails": [{"type": "work", "value": "alice@example.com", "primary": true}],
        "meta": {"resourceType": "User"}
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g-1",
        "displayName": "Sales",
        "members": [{"value": "m1"}, {"value": "m2"}]
    })
}

fn scim_type(r: Result<(), ScimError>) -> Option<ScimType> {
    r.unwrap_err().scim_type
}

fn member_ids(g: &Value) -> Vec<&str> {
    g["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|e| e["value"].as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn a_request_needs_the_patch_schema_and_operations() {
    let e =
        parse(&json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]})).unwrap_err();
    assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
    assert!(e.detail.contains("schemas"));
    let e = parse(&json!({"schemas": [PATCH_OP_SCHEMA]})).unwrap_err();
    assert!(e.detail.contains("Operations"));
    assert!(parse(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": []})).is_err());
    assert!(parse(&json!([1])).is_err());
    let lower =
        json!({"schemas": [PATCH_OP_SCHEMA], "operations": [{"op": "remove", "path": "title"}]});
    assert_eq!(parse(&lower).unwrap().ops.len(), 1);
}

#[test]
fn op_names_are_case_insensitive_and_checked() {
    let r = parse(&body(json!([
        {"op": "Add", "path": "title", "value": "x"},
        {"op": "REPLACE", "path": "title", "value": "y"},
        {"op": "remove", "path": "title"}
    ])))
    .unwrap();
    let kinds: Vec<OpKind> = r.ops.iter().map(|o| o.op).collect();
    assert_eq!(kinds, [OpKind::Add, OpKind::Replace, OpKind::Remove]);
    let e = parse(&body(json!([{"op": "move", "path": "title"}]))).unwrap_err();
    assert!(
        e.detail.contains("Operations[0]") && e.detail.contains("move"),
        "{}",
        e.detail
    );
}

#[test]
fn remove_needs_a_path_and_no_path_values_must_be_objects() {
    let e = parse(&body(json!([{"op": "remove"}]))).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::NoTarget));
    let e = parse(&body(json!([{"op": "replace", "value": "x"}]))).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    let e = parse(&body(json!([{"op": "add", "path": "title"}]))).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn paths_parse_with_filters_sub_attributes_and_urns() {
    let p = PatchPath::parse(r#"members[value eq "123"]"#).unwrap();
    assert!(p.attr.is("members", None) && p.filter.is_some() && p.sub.is_none());
    let p = PatchPath::parse(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(p.sub.as_deref(), Some("value"));
    let p = PatchPath::parse("name.givenName").unwrap();
    assert!(p.attr.is("name", Some("givenName")) && p.filter.is_none());
    let p = PatchPath::parse(&format!("{EXT}:manager")).unwrap();
    assert_eq!(p.attr.urn.as_deref(), Some(EXT));
    assert_eq!(p.attr.attr, "manager");
    let p = PatchPath::parse(&format!("{EXT}:department")).unwrap();
    assert_eq!(p.attr.attr, "department");
    let p = PatchPath::parse(r#"members[value eq "a]b"]"#).unwrap();
    assert!(p.filter.is_some());
    for bad in [
        "",
        "members[value eq \"1\"",
        "members[value eq]",
        "emails[type eq \"work\"]value",
        "emails[type eq \"work\"].value.x",
        "name.givenName[value eq \"1\"]",
        "1bad",
        "a b",
    ] {
        let e = PatchPath::parse(bad).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{bad}");
    }
}

#[test]
fn booleans_sent_as_strings_become_booleans() {
    assert_eq!(
        normalize_value(
            json!({"active": "False", "emails": [{"primary": "TRUE"}], "title": "true"})
        ),
        json!({"active": false, "emails": [{"primary": true}], "title": "true"})
    );
    let mut u = user();
    run(
        &mut u,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .unwrap();
    assert_eq!(u["active"], json!(false));
}

#[test]
fn replace_without_path_merges_the_object() {
    let mut u = user();
    run(&mut u, json!([{"op": "replace", "value": {"active": false, "displayName": "Al", "name": {"givenName": "Ally"}}}])).unwrap();
    assert_eq!(u["active"], json!(false));
    assert_eq!(u["displayName"], "Al");
    assert_eq!(
        u["name"],
        json!({"givenName": "Ally", "familyName": "Smith"})
    );
}

#[test]
fn add_and_replace_set_singular_attributes_case_insensitively() {
    let mut u = user();
    run(
        &mut u,
        json!([
            {"op": "add", "path": "title", "value": "Boss"},
            {"op": "replace", "path": "DISPLAYNAME", "value": "A."},
            {"op": "replace", "path": "name.FamilyName", "value": "Jones"},
            {"op": "add", "path": "name.middleName", "value": "B"}
        ]),
    )
    .unwrap();
    assert_eq!(u["title"], "Boss");
    assert_eq!(u["displayName"], "A.");
    assert!(u.get("DISPLAYNAME").is_none());
    assert_eq!(
        u["name"],
        json!({"givenName": "Alice", "familyName": "Jones", "middleName": "B"})
    );
}

#[test]
fn entra_adds_and_removes_members() {
    let mut g = group();
    run(
        &mut g,
        json!([{"op": "Add", "path": "members", "value": [{"value": "id1"}, {"value": "m1"}]}]),
    )
    .unwrap();
    assert_eq!(member_ids(&g), ["m1", "m2", "id1"]);
    run(
        &mut g,
        json!([{"op": "Remove", "path": "members", "value": [{"value": "id1"}, {"value": "m1"}]}]),
    )
    .unwrap();
    assert_eq!(member_ids(&g), ["m2"]);
}

#[test]
fn remove_with_a_filter_removes_matching_elements_only() {
    let mut g = group();
    run(
        &mut g,
        json!([{"op": "remove", "path": "members[value eq \"m1\"]"}]),
    )
    .unwrap();
    assert_eq!(member_ids(&g), ["m2"]);
    // Removing an absent member changes nothing and is no error.
    run(
        &mut g,
        json!([{"op": "remove", "path": "members[value eq \"zz\"]"}]),
    )
    .unwrap();
    assert_eq!(member_ids(&g), ["m2"]);
    run(
        &mut g,
        json!([{"op": "remove", "path": "members[value eq \"m2\"]"}]),
    )
    .unwrap();
    assert!(
        g.get("members").is_none(),
        "an emptied attribute is unassigned"
    );
}

#[test]
fn remove_without_value_removes_the_attribute() {
    let mut g = group();
    run(&mut g, json!([{"op": "remove", "path": "members"}])).unwrap();
    assert!(g.get("members").is_none());
    let mut u = user();
    run(
        &mut u,
        json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "title"}]),
    )
    .unwrap();
    assert_eq!(u["name"], json!({"familyName": "Smith"}));
}

#[test]
fn replace_of_the_whole_member_list_replaces_it() {
    let mut g = group();
    run(
        &mut g,
        json!([{"op": "replace", "path": "members", "value": [{"value": "x"}]}]),
    )
    .unwrap();
    assert_eq!(member_ids(&g), ["x"]);
}

#[test]
fn replace_of_a_filtered_sub_attribute_updates_or_adds_the_work_email() {
    let mut u = user();
    run(&mut u, json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}])).unwrap();
    assert_eq!(
        u["emails"],
        json!([{"type": "work", "value": "new@example.com", "primary": true}])
    );
    let mut bare = json!({"id": "u-2", "userName": "b"});
    run(
        &mut bare,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x.org"}]),
    )
    .unwrap();
    assert_eq!(
        bare["emails"],
        json!([{"type": "work", "value": "b@x.org"}])
    );
    run(
        &mut bare,
        json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}]),
    )
    .unwrap();
    assert_eq!(
        bare["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555"}])
    );
}

#[test]
fn replace_of_a_filtered_path_without_match_elsewhere_is_no_target() {
    let mut g = group();
    let r = run(
        &mut g,
        json!([{"op": "replace", "path": "members[value eq \"nobody\"].display", "value": "x"}]),
    );
    assert_eq!(scim_type(r), Some(ScimType::NoTarget));
    run(
        &mut g,
        json!([{"op": "replace", "path": "members[value eq \"m1\"].display", "value": "One"}]),
    )
    .unwrap();
    assert_eq!(g["members"][0], json!({"value": "m1", "display": "One"}));
}

#[test]
fn a_new_primary_email_makes_the_others_non_primary() {
    let mut u = user();
    run(&mut u, json!([{"op": "add", "path": "emails", "value": [{"type": "home", "value": "h@x.org", "primary": "True"}]}])).unwrap();
    assert_eq!(u["emails"][0]["primary"], json!(false));
    assert_eq!(u["emails"][1]["primary"], json!(true));
}

#[test]
fn entra_sends_the_manager_as_a_bare_id() {
    let mut u = user();
    run(
        &mut u,
        json!([{"op": "Add", "path": format!("{EXT}:manager"), "value": "mgr-id"}]),
    )
    .unwrap();
    assert_eq!(u[EXT]["manager"], json!({"value": "mgr-id"}));
    assert!(u["schemas"].as_array().unwrap().contains(&json!(EXT)));
    run(
        &mut u,
        json!([{"op": "Replace", "path": format!("{EXT}:department"), "value": "Ops"}]),
    )
    .unwrap();
    assert_eq!(u[EXT]["department"], "Ops");
    run(
        &mut u,
        json!([{"op": "Remove", "path": format!("{EXT}:manager")}]),
    )
    .unwrap();
    assert!(u[EXT].get("manager").is_none());
}

#[test]
fn extension_attributes_in_a_no_path_object_go_into_the_extension() {
    let mut u = user();
    run(
        &mut u,
        json!([{"op": "add", "value": {
            format!("{EXT}:manager"): "boss",
            format!("{EXT}:department"): "Sales",
            "title": "Rep"
        }}]),
    )
    .unwrap();
    assert_eq!(
        u[EXT],
        json!({"manager": {"value": "boss"}, "department": "Sales"})
    );
    assert_eq!(u["title"], "Rep");
    run(
        &mut u,
        json!([{"op": "replace", "value": {EXT: {"department": "Ops"}}}]),
    )
    .unwrap();
    assert_eq!(u[EXT]["department"], "Ops");
    assert_eq!(u[EXT]["manager"], json!({"value": "boss"}));
}

#[test]
fn okta_group_replace_echoing_the_id_is_accepted() {
    let mut g = group();
    run(
        &mut g,
        json!([{"op": "replace", "value": {"id": "g-1", "displayName": "Renamed"}}]),
    )
    .unwrap();
    assert_eq!(g["displayName"], "Renamed");
    let r = run(&mut g, json!([{"op": "replace", "value": {"id": "other"}}]));
    assert_eq!(scim_type(r), Some(ScimType::Mutability));
}

#[test]
fn id_meta_and_schemas_are_not_writable() {
    for path in [
        "id",
        "meta",
        "schemas",
        "meta.lastModified",
        "urn:ietf:params:scim:schemas:core:2.0:User:id",
    ] {
        let mut u = user();
        let r = run(
            &mut u,
            json!([{"op": "replace", "path": path, "value": "x"}]),
        );
        assert_eq!(scim_type(r), Some(ScimType::Mutability), "{path}");
        assert_eq!(u, user(), "{path}: nothing changed");
    }
    let mut u = user();
    let r = run(
        &mut u,
        json!([{"op": "replace", "value": {"meta": {"resourceType": "Group"}}}]),
    );
    assert_eq!(scim_type(r), Some(ScimType::Mutability));
}

#[test]
fn a_path_naming_the_whole_extension_sets_its_attributes() {
    let mut u = user();
    run(
        &mut u,
        json!([{"op": "add", "path": EXT, "value": {"department": "Ops", "manager": "m9"}}]),
    )
    .unwrap();
    assert_eq!(
        u[EXT],
        json!({"department": "Ops", "manager": {"value": "m9"}})
    );
    run(&mut u, json!([{"op": "remove", "path": EXT}])).unwrap();
    assert!(u.get(EXT).is_none());
}

#[test]
fn sub_attribute_of_a_multi_valued_attribute_needs_a_filter() {
    let mut u = user();
    let r = run(
        &mut u,
        json!([{"op": "replace", "path": "emails.value", "value": "x"}]),
    );
    assert_eq!(scim_type(r), Some(ScimType::InvalidPath));
}

#[test]
fn a_thousand_member_adds_apply_quickly() {
    let many: Vec<Value> = (0..1000)
        .map(|i| json!({"value": format!("user-{i}")}))
        .collect();
    let mut g = group();
    let request = parse(&body(
        json!([{"op": "add", "path": "members", "value": many}]),
    ))
    .unwrap();
    let started = Instant::now();
    apply_all(&mut g, &request).unwrap();
    assert!(
        started.elapsed().as_millis() < 100,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(member_ids(&g).len(), 1002);

    let ops: Vec<Value> = (0..1000)
        .map(|i| json!({"op": "Add", "path": "members", "value": [{"value": format!("one-{i}")}]}))
        .collect();
    let request = parse(&body(Value::Array(ops))).unwrap();
    let started = Instant::now();
    apply_all(&mut g, &request).unwrap();
    assert!(
        started.elapsed().as_millis() < 100,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(member_ids(&g).len(), 2002);

    let removes: Vec<Value> = (0..1000)
        .map(|i| json!({"op": "remove", "path": format!("members[value eq \"ONE-{i}\"]")}))
        .collect();
    let request = parse(&body(Value::Array(removes))).unwrap();
    let started = Instant::now();
    apply_all(&mut g, &request).unwrap();
    assert!(
        started.elapsed().as_millis() < 100,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(member_ids(&g).len(), 1002);
    assert!(member_ids(&g).iter().all(|m| !m.starts_with("one-")));
}

#[test]
fn batched_operations_give_the_same_result_as_one_by_one() {
    let ops = json!([
        {"op": "add", "path": "members", "value": [{"value": "a"}]},
        {"op": "add", "path": "members", "value": {"value": "b"}},
        {"op": "add", "path": "members", "value": [{"value": "m1"}]},
        {"op": "remove", "path": "members[value eq \"M2\"]"},
        {"op": "remove", "path": "members", "value": [{"value": "a"}]},
        {"op": "replace", "path": "displayName", "value": "X"}
    ]);
    let request = parse(&body(ops)).unwrap();
    let mut batched = group();
    apply_all(&mut batched, &request).unwrap();
    let mut single = group();
    for op in &request.ops {
        apply(&mut single, op).unwrap();
    }
    assert_eq!(batched, single);
    assert_eq!(member_ids(&batched), ["m1", "b"]);
}
