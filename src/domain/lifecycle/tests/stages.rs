//! Quorum stages: the approver cap and alternates.

use super::*;
use crate::domain::policy::MAX_ALL_APPROVERS;

/// An `all` stage never gets stuck: over the cap it is read as `anyOne`; escalation adds
/// alternates who approve in place of the silent approvers.
#[test]
fn all_stages_relax_over_the_cap_and_take_alternates() {
    let over: Vec<Uuid> = (1..=MAX_ALL_APPROVERS as u128 + 1).map(id).collect();
    let t = step(
        &request(K::UserAdd, S::Submitted, 1),
        &[],
        Event::StageOpened {
            index: 0,
            rule: All,
            approvers: over.clone(),
            source: ApproverSource::TenantAdmins,
            due_at: now(),
        },
        now(),
    )
    .unwrap_or_else(|r| panic!("refused: {}", refusal_text(r)));
    assert_eq!(
        actions(&t),
        vec![
            "assignmentRequest.stageOpened",
            "assignmentRequest.stageRelaxed"
        ]
    );
    assert_eq!(t.stage.as_ref().and_then(|c| c.rule), Some(AnyOne));

    // Tenant admins taking over an all stage past the cap relax it too.
    let t = step(
        &request(K::UserAdd, S::PendingApproval, 1),
        &[stage(0, All, &[100])],
        Event::ApproversLeft {
            left: vec![id(100)],
            added: over,
        },
        now(),
    )
    .unwrap_or_else(|r| panic!("refused: {}", refusal_text(r)));
    let change = t.stage.clone().unwrap_or_default();
    assert_eq!(change.rule, Some(AnyOne));
    assert_eq!(change.removed_approvers, vec![id(100)]);
    assert_eq!(change.added_approvers.len(), MAX_ALL_APPROVERS + 1);
    assert!(actions(&t).contains(&"assignmentRequest.stageRelaxed"));

    // Escalation of an all stage adds alternates; one alternate's approval settles it.
    let t = step(
        &request(K::UserAdd, S::PendingApproval, 1),
        &[stage(0, All, &[1, 2])],
        Event::Escalated { added: vec![id(3)] },
        now(),
    )
    .unwrap_or_else(|r| panic!("refused: {}", refusal_text(r)));
    let change = t.stage.clone().unwrap_or_default();
    assert_eq!(change.added_alternates, vec![id(3)]);
    let mut escalated = decided_by(stage(0, All, &[1, 2, 3]), 1, Approve);
    escalated.alternates = vec![id(3)];
    let t = step(
        &request(K::UserAdd, S::PendingApproval, 1),
        &[escalated],
        decide(3, Approve),
        now(),
    )
    .unwrap_or_else(|r| panic!("refused: {}", refusal_text(r)));
    assert_eq!(t.then, Then::Deliver);
    // Escalation of an anyOne stage adds approvers, not alternates.
    let t = step(
        &request(K::UserAdd, S::PendingApproval, 1),
        &[stage(0, AnyOne, &[1])],
        Event::Escalated { added: vec![id(3)] },
        now(),
    )
    .unwrap_or_else(|r| panic!("refused: {}", refusal_text(r)));
    assert!(t.stage.unwrap_or_default().added_alternates.is_empty());
}
