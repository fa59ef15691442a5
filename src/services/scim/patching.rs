//! PATCH bodies (RFC 7644 §3.5.2), parsed by `domain::scim::patch`. For a user, the
//! operations apply to its representation. For a group, operations on `members` become
//! set changes the service runs in SQL (a change of hundreds of members never loads
//! the group's members, unless a filter must pick them), and the rest apply to the
//! group's representation.

use serde_json::{Map, Value};

use super::groups::{GroupChange, MemberChange};
use super::represent::{ENTERPRISE, member, member_ids};
use super::{Fail, ScimResult};
use crate::domain::ids::UserId;
use crate::domain::scim::filter::{AttrPath, matches};
use crate::domain::scim::patch::{self, OpKind, PatchOp, PatchRequest};

/// Applies the operations to a user's representation. A path that is the enterprise
/// extension's URN itself names its whole object (as scim2-tester and some clients
/// send it): add and replace merge the value into it, remove drops it.
pub fn apply_all(doc: &mut Value, ops: &PatchRequest) -> ScimResult<()> {
    for op in &ops.ops {
        let whole_extension = op.path.as_ref().is_some_and(|p| {
            p.filter.is_none()
                && p.attr.sub.is_none()
                && p.attr.urn.as_deref().is_some_and(|u| {
                    format!("{u}:{}", p.attr.attr).eq_ignore_ascii_case(ENTERPRISE)
                })
        });
        if !whole_extension {
            patch::apply(doc, op).map_err(Fail::from)?;
            continue;
        }
        match (op.op, &op.value) {
            (OpKind::Remove, _) => {
                if let Some(m) = doc.as_object_mut() {
                    m.retain(|k, _| !k.eq_ignore_ascii_case(ENTERPRISE));
                }
            }
            (kind, Some(v @ Value::Object(_))) => {
                if kind == OpKind::Replace
                    && let Some(m) = doc.as_object_mut()
                {
                    m.retain(|k, _| !k.eq_ignore_ascii_case(ENTERPRISE));
                }
                let one = PatchOp {
                    op: kind,
                    path: None,
                    value: Some(Value::Object(Map::from_iter([(
                        ENTERPRISE.to_string(),
                        v.clone(),
                    )]))),
                };
                patch::apply(doc, &one).map_err(Fail::from)?;
            }
            _ => {
                return Err(Fail::bad(
                    "invalidValue",
                    "the enterprise extension's value must be an object of its attributes.",
                ));
            }
        }
    }
    Ok(())
}

fn is_members(p: &AttrPath) -> bool {
    p.is("members", None) || p.is("members", Some("value"))
}

/// Whether a filter must pick among the group's current members.
pub fn needs_members(ops: &PatchRequest) -> bool {
    ops.ops.iter().any(|op| {
        op.path
            .as_ref()
            .is_some_and(|p| is_members(&p.attr) && p.filter.is_some())
    })
}

/// Member changes as they accumulate, operation after operation: a known full set
/// (after a replace), and additions and removals on top, kept disjoint.
#[derive(Default)]
struct Members {
    base: Option<Vec<UserId>>,
    add: Vec<UserId>,
    remove: Vec<UserId>,
}

impl Members {
    fn add(&mut self, ids: Vec<UserId>) {
        self.remove.retain(|r| !ids.contains(r));
        for id in ids {
            if !self.add.contains(&id) {
                self.add.push(id);
            }
        }
    }

    fn remove(&mut self, ids: Vec<UserId>) {
        self.add.retain(|a| !ids.contains(a));
        for id in ids {
            if !self.remove.contains(&id) {
                self.remove.push(id);
            }
        }
    }

    fn replace(&mut self, ids: Vec<UserId>) {
        self.base = Some(ids);
        self.add.clear();
        self.remove.clear();
    }

    fn into_change(self) -> MemberChange {
        MemberChange {
            remove_all: self.base.as_ref().is_some_and(Vec::is_empty),
            replace: self.base.filter(|b| !b.is_empty()),
            remove: self.remove,
            add: self.add,
        }
    }
}

fn member_op(
    op: &PatchOp,
    filter: Option<&crate::domain::scim::filter::Filter>,
    current: &[UserId],
    members: &mut Members,
    base: &str,
) -> ScimResult<()> {
    let ids = || member_ids(op.value.as_ref().unwrap_or(&Value::Null));
    match (op.op, filter) {
        (OpKind::Add, None) => members.add(ids()?),
        (OpKind::Replace, None) => members.replace(ids()?),
        (OpKind::Remove, None) => match &op.value {
            // Entra ID and others name the members to remove in the value.
            Some(v) if !v.is_null() => members.remove(member_ids(v)?),
            _ => members.replace(Vec::new()),
        },
        (OpKind::Remove, Some(f)) => {
            let picked: Vec<UserId> = current
                .iter()
                .copied()
                .filter(|id| matches(f, &member(*id, base)))
                .collect();
            members.remove(picked);
        }
        (_, Some(_)) => {
            return Err(Fail::bad(
                "invalidPath",
                "members are added or replaced as a whole; a filter on members only selects members to remove.",
            ));
        }
    }
    Ok(())
}

/// What the operations do to a group whose representation (without members) is
/// `current` and whose directory members are `members` (loaded only when
/// `needs_members`).
pub fn plan_group(
    current: &Value,
    current_members: &[UserId],
    ops: &PatchRequest,
    base: &str,
) -> ScimResult<GroupChange> {
    let mut doc = current.clone();
    let mut touched = false;
    let mut members = Members::default();
    for op in &ops.ops {
        match &op.path {
            Some(p) if is_members(&p.attr) => {
                member_op(op, p.filter.as_ref(), current_members, &mut members, base)?;
            }
            Some(_) => {
                patch::apply(&mut doc, op).map_err(Fail::from)?;
                touched = true;
            }
            None => {
                // No path: the value's attributes, `members` among them.
                let Some(Value::Object(fields)) = &op.value else {
                    return Err(Fail::bad(
                        "invalidValue",
                        "an operation without a path carries an object value.",
                    ));
                };
                let mut rest = Map::new();
                for (k, v) in fields {
                    if k.eq_ignore_ascii_case("members") {
                        let one = PatchOp {
                            op: op.op,
                            path: None,
                            value: Some(v.clone()),
                        };
                        member_op(&one, None, current_members, &mut members, base)?;
                    } else {
                        rest.insert(k.clone(), v.clone());
                    }
                }
                if !rest.is_empty() {
                    let one = PatchOp {
                        op: op.op,
                        path: None,
                        value: Some(Value::Object(rest)),
                    };
                    patch::apply(&mut doc, &one).map_err(Fail::from)?;
                    touched = true;
                }
            }
        }
    }
    Ok(GroupChange {
        attributes: touched.then_some(doc),
        members: members.into_change(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(list: Value) -> PatchRequest {
        patch::parse(&json!({"schemas": [patch::PATCH_OP_SCHEMA], "Operations": list})).unwrap()
    }

    const A: &str = "0193a0f4-0000-7000-8000-00000000000a";
    const B: &str = "0193a0f4-0000-7000-8000-00000000000b";

    #[test]
    fn later_operations_win_over_earlier_ones_on_the_same_member() {
        let req = ops(json!([
            {"op": "add", "path": "members", "value": [{"value": A}, {"value": B}]},
            {"op": "remove", "path": "members", "value": [{"value": A}]},
        ]));
        let change = plan_group(&json!({"displayName": "G"}), &[], &req, "").unwrap();
        assert_eq!(change.members.add, vec![B.parse::<UserId>().unwrap()]);
        assert_eq!(change.members.remove, vec![A.parse::<UserId>().unwrap()]);
        assert!(
            change.attributes.is_none(),
            "members only: the group's own attributes stay"
        );
    }

    #[test]
    fn a_filtered_remove_picks_among_the_current_members_and_replace_all_empties() {
        let a: UserId = A.parse().unwrap();
        let b: UserId = B.parse().unwrap();
        let req = ops(json!([{"op": "remove", "path": format!("members[value eq \"{B}\"]")}]));
        assert!(needs_members(&req));
        let change = plan_group(&json!({}), &[a, b], &req, "").unwrap();
        assert_eq!(change.members.remove, vec![b]);
        let req = ops(json!([{"op": "replace", "path": "members", "value": []},
                             {"op": "replace", "value": {"displayName": "H", "members": [{"value": A}]}}]));
        let change = plan_group(&json!({"displayName": "G"}), &[], &req, "").unwrap();
        assert_eq!(change.members.replace, Some(vec![a]));
        assert_eq!(change.attributes.unwrap()["displayName"], "H");
    }

    #[test]
    fn a_filter_on_members_only_selects_members_to_remove() {
        let req =
            ops(json!([{"op": "add", "path": format!("members[value eq \"{A}\"]"), "value": "x"}]));
        assert!(plan_group(&json!({}), &[], &req, "").is_err());
    }
}
