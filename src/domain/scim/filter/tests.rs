use serde_json::json;

use super::*;
use crate::domain::scim::ScimType;

fn cmp(attr: &str, op: CompareOp, value: Value) -> Filter {
    Filter::Compare {
        path: AttrPath::parse(attr).unwrap(),
        op,
        value,
    }
}

fn err(input: &str) -> String {
    let e = parse(input).unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    e.detail
}

#[test]
fn every_operator_parses_in_any_case() {
    for (word, op) in [
        ("eq", CompareOp::Eq),
        ("NE", CompareOp::Ne),
        ("Co", CompareOp::Co),
        ("sw", CompareOp::Sw),
        ("ew", CompareOp::Ew),
        ("gt", CompareOp::Gt),
        ("GE", CompareOp::Ge),
        ("lt", CompareOp::Lt),
        ("le", CompareOp::Le),
    ] {
        assert_eq!(
            parse(&format!("userName {word} \"a\"")).unwrap(),
            cmp("userName", op, json!("a"))
        );
    }
    assert_eq!(
        parse("title PR").unwrap(),
        Filter::Present(AttrPath::new("title", None))
    );
}

#[test]
fn names_are_stored_lowercase_and_displayed_in_the_schemas_spelling() {
    let Filter::Compare { path, .. } = parse("NAME.FamilyName eq \"x\"").unwrap() else {
        panic!()
    };
    assert_eq!(path, AttrPath::new("name", Some("familyname")));
    assert_eq!(path.to_string(), "name.familyName");
}

#[test]
fn values_are_strings_with_escapes_numbers_booleans_and_null() {
    assert_eq!(
        parse(r#"displayName eq "a \"quoted\" \\ \u00e9 ] ) name""#).unwrap(),
        cmp(
            "displayName",
            CompareOp::Eq,
            json!("a \"quoted\" \\ é ] ) name")
        )
    );
    assert_eq!(
        parse("x gt 12.5").unwrap(),
        cmp("x", CompareOp::Gt, json!(12.5))
    );
    assert_eq!(
        parse("x lt -3").unwrap(),
        cmp("x", CompareOp::Lt, json!(-3))
    );
    assert_eq!(
        parse("active eq TRUE").unwrap(),
        cmp("active", CompareOp::Eq, json!(true))
    );
    assert_eq!(
        parse("active eq false").unwrap(),
        cmp("active", CompareOp::Eq, json!(false))
    );
    assert_eq!(
        parse("title eq null").unwrap(),
        cmp("title", CompareOp::Eq, Value::Null)
    );
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_override() {
    let a = || cmp("a", CompareOp::Eq, json!(1));
    let b = || cmp("b", CompareOp::Eq, json!(2));
    let c = || cmp("c", CompareOp::Eq, json!(3));
    let and = |x: Filter, y: Filter| Filter::And(Box::new(x), Box::new(y));
    let or = |x: Filter, y: Filter| Filter::Or(Box::new(x), Box::new(y));
    assert_eq!(
        parse("a eq 1 or b eq 2 and c eq 3").unwrap(),
        or(a(), and(b(), c()))
    );
    assert_eq!(
        parse("a eq 1 AND b eq 2 OR c eq 3").unwrap(),
        or(and(a(), b()), c())
    );
    assert_eq!(
        parse("(a eq 1 or b eq 2) and c eq 3").unwrap(),
        and(or(a(), b()), c())
    );
    assert_eq!(
        parse("((a eq 1) or ((b eq 2))) and (c eq 3)").unwrap(),
        and(or(a(), b()), c())
    );
    assert_eq!(
        parse("not (a eq 1) and b eq 2").unwrap(),
        and(Filter::Not(Box::new(a())), b())
    );
    assert_eq!(
        parse("NOT(a eq 1 or b eq 2)").unwrap(),
        Filter::Not(Box::new(or(a(), b())))
    );
}

#[test]
fn value_paths_and_urn_prefixed_paths_parse() {
    assert_eq!(
        parse(r#"emails[type eq "work" and value co "@x"]"#).unwrap(),
        Filter::ValuePath {
            path: AttrPath::new("emails", None),
            filter: Box::new(Filter::And(
                Box::new(cmp("type", CompareOp::Eq, json!("work"))),
                Box::new(cmp("value", CompareOp::Co, json!("@x"))),
            )),
        }
    );
    let Filter::Compare { path, .. } =
        parse(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m""#)
            .unwrap()
    else {
        panic!()
    };
    assert_eq!(path.urn.as_deref(), Some(ENTERPRISE_USER_URN));
    assert_eq!(
        (path.attr.as_str(), path.sub.as_deref()),
        ("manager", Some("value"))
    );
    let Filter::Compare { path, .. } =
        parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a""#).unwrap()
    else {
        panic!()
    };
    assert!(path.is("userName", None));
    assert!(parse("meta.lastModified gt \"2026-01-01T00:00:00Z\"").is_ok());
}

#[test]
fn real_clients_filters_parse() {
    for f in [
        r#"userName eq "a@b.c""#,
        r#"externalId eq "5b8a6f2e-8f0e-4c4e-9d1b-0f6c2f7d9a11""#,
        r#"userName eq "x" and active eq true"#,
        r#"displayName eq "Group""#,
        r#"members[value eq "id"]"#,
        r#"id eq "0192f0a4-5f4e-7c4c-9c59-1f6a1b8e2a10" and members[value eq "u1"]"#,
    ] {
        assert!(parse(f).is_ok(), "{f}");
    }
}

#[test]
fn errors_name_what_is_wrong_and_where() {
    assert!(err(r#"userName eq "abc"#).contains("not terminated"));
    assert!(err(r#"userName eq "bad \q escape""#).contains("invalid escape"));
    let e = err(r#"userName like "a""#);
    assert!(
        e.contains("unknown operator 'like'") && e.contains("position 10"),
        "{e}"
    );
    assert!(err("userName eq").contains("expected a value"));
    assert!(err("userName eq and").contains("'and'"));
    let e = err(r#"userName eq "a" garbage"#);
    assert!(e.contains("'garbage'") && e.contains("position 17"), "{e}");
    assert!(err("userName").contains("operator"));
    assert!(err("(userName eq \"a\"").contains("')'"));
    assert!(err("userName eq \"a\")").contains("')'"));
    assert!(err("").contains("ends too early"));
    assert!(err("1abc eq \"a\"").contains("not a valid attribute path"));
    assert!(err("userName eq \"a\" & x").contains("'&'"));
    assert!(err("emails.value[type eq \"w\"]").contains("value filter"));
}

#[test]
fn hostile_depth_and_length_are_refused() {
    let deep = format!("{}a eq 1{}", "(".repeat(40), ")".repeat(40));
    assert!(err(&deep).contains("deeper than 32"));
    let nots = format!("{}a eq 1{}", "not (".repeat(40), ")".repeat(40));
    assert!(err(&nots).contains("deeper than 32"));
    let ok = format!("{}a eq 1{}", "(".repeat(30), ")".repeat(30));
    assert!(parse(&ok).is_ok());
    let long = format!("userName eq \"{}\"", "a".repeat(5000));
    assert!(err(&long).contains("longer than 4096"));
}

fn user() -> Value {
    json!({
        "id": "AbC-1",
        "userName": "Alice@Example.com",
        "displayName": "Alice Smith",
        "active": true,
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "emails": [
            {"type": "work", "value": "alice@example.com", "primary": true},
            {"type": "home", "value": "al@home.org"}
        ],
        "meta": {"lastModified": "2026-03-01T10:00:00Z"},
        "loginCount": 7,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Sales",
            "manager": {"value": "mgr-1"}
        }
    })
}

fn m(f: &str) -> bool {
    matches(&parse(f).unwrap(), &user())
}

#[test]
fn matching_compares_strings_without_case_except_id() {
    assert!(m(r#"userName eq "alice@example.COM""#));
    assert!(!m(r#"userName eq "bob@example.com""#));
    assert!(m(r#"userName ne "bob""#));
    assert!(!m(r#"userName ne "ALICE@example.com""#));
    assert!(m(r#"displayName co "CE sm""#));
    assert!(m(r#"displayName sw "ali""#));
    assert!(m(r#"displayName ew "SMITH""#));
    assert!(!m(r#"displayName ew "alice""#));
    assert!(m(r#"id eq "AbC-1""#));
    assert!(!m(r#"id eq "abc-1""#));
    assert!(m(r#"name.familyName eq "smith""#));
}

#[test]
fn matching_orders_numbers_strings_and_timestamps() {
    assert!(m("loginCount gt 6") && m("loginCount ge 7") && !m("loginCount gt 7"));
    assert!(m("loginCount lt 8") && m("loginCount le 7") && !m("loginCount lt 7"));
    assert!(m(r#"meta.lastModified gt "2026-03-01T09:00:00Z""#));
    // Same instant in another offset: not greater, but ge.
    assert!(!m(r#"meta.lastModified gt "2026-03-01T11:00:00+01:00""#));
    assert!(m(r#"meta.lastModified ge "2026-03-01T11:00:00+01:00""#));
    assert!(m(r#"displayName lt "bob""#));
}

#[test]
fn matching_booleans_presence_and_null() {
    assert!(m("active eq true") && !m("active eq false") && m("active ne false"));
    assert!(m(r#"active eq "True""#));
    assert!(m("title eq null") && !m("title pr") && m("userName pr"));
    assert!(m("emails pr") && !m("phoneNumbers pr"));
    assert!(m(r#"title ne "x""#));
}

#[test]
fn matching_multi_valued_attributes_uses_any_element() {
    assert!(m(r#"emails.value eq "al@home.org""#));
    assert!(m(r#"emails co "home""#));
    assert!(m(r#"emails[type eq "work" and value co "@example"]"#));
    assert!(!m(r#"emails[type eq "home" and value co "@example"]"#));
    assert!(m(r#"emails[primary eq true]"#));
    assert!(!m(r#"not (emails[type eq "work"])"#));
}

#[test]
fn matching_logic_and_extension_paths() {
    assert!(m(
        r#"userName sw "a" and (displayName eq "x" or active eq true)"#
    ));
    assert!(!m(r#"not (userName sw "a") or displayName eq "x""#));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales""#
    ));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "mgr-1""#
    ));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "ALICE""#
    ));
    let group = json!({"displayName": "Group", "members": [{"value": "id"}, {"value": "u2"}]});
    assert!(matches(
        &parse(r#"members[value eq "id"]"#).unwrap(),
        &group
    ));
    assert!(!matches(
        &parse(r#"members[value eq "u3"]"#).unwrap(),
        &group
    ));
}

#[test]
fn an_attribute_after_the_brackets_compares_the_same_element() {
    assert_eq!(
        parse(r#"emails[type eq "work"].value eq "a@b.c""#).unwrap(),
        Filter::ValuePath {
            path: AttrPath::new("emails", None),
            filter: Box::new(Filter::And(
                Box::new(cmp("type", CompareOp::Eq, json!("work"))),
                Box::new(cmp("value", CompareOp::Eq, json!("a@b.c"))),
            )),
        }
    );
    let Filter::And(left, _) =
        parse(r#"emails[type eq "work"].value pr and active eq true"#).unwrap()
    else {
        panic!("and binds the value path and the comparison after it")
    };
    assert!(matches!(*left, Filter::ValuePath { .. }));
    // The same element: the home email's value with the work type does not match.
    assert!(m(r#"emails[type eq "work"].value eq "alice@example.com""#));
    assert!(!m(r#"emails[type eq "work"].value eq "al@home.org""#));
    assert!(m(r#"emails[type eq "home"].value ew "home.org""#));
}

#[test]
fn an_attribute_after_the_brackets_must_be_a_plain_sub_attribute() {
    assert!(err(r#"emails[type eq "work"].value"#).contains("operator"));
    assert!(err(r#"emails[type eq "work"].1x eq "a""#).contains("not a sub-attribute name"));
    assert!(err(r#"emails[type eq "work"].value.x eq "a""#).contains("not a sub-attribute name"));
    assert!(err(r#"emails[type eq "work"].value[type eq "x"]"#).contains("value filter"));
    assert!(err(r#"emails[type eq "work"]."#).contains("not a sub-attribute name"));
}
