//! What the audit log records (DOMAIN.md §9): who acted (`ActorType`), what they did
//! (`AuditAction`) and on what (`Target`). Every event Portico writes names one of
//! these; the log's readers (pages, API, reports) decode them, and an unknown stored
//! value is an error, never a guess.

use uuid::Uuid;

use super::ids::{
    AccessReviewId, AssignmentId, CatalogId, ExtensionId, GroupId, OutboxId, PackageId, PolicyId,
    RequestId, ResourceId, ReviewItemId, RoleAssignmentId, ScimTokenId, TenantId, TokenId, UserId,
};
use super::lifecycle::Action as RequestAction;
use super::string_enum;

string_enum! {
    /// Who acted: a person signed in, a person through an API token, or Portico itself.
    #[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] ActorType {
        User = "user",
        Token = "token",
        System = "system",
        /// The tenant's identity provider, through a SCIM token.
        Directory = "directory",
    }
}

string_enum! {
    /// The kind of object an event is about.
    #[derive(utoipa::ToSchema)] #[serde(rename_all = "camelCase")] TargetType {
        Tenant = "tenant",
        User = "user",
        Group = "group",
        Catalog = "catalog",
        Resource = "resource",
        AccessPackage = "accessPackage",
        Policy = "policy",
        AssignmentRequest = "assignmentRequest",
        Assignment = "assignment",
        RoleAssignment = "roleAssignment",
        ApiToken = "apiToken",
        ApprovalLink = "approvalLink",
        AccessReview = "accessReview",
        AccessReviewItem = "accessReviewItem",
        /// A delivery (email or connector call) of the outbox.
        OutboxItem = "outboxItem",
        /// Sign-ins (`session.created`) are recorded on the user who signed in.
        Session = "session",
        ScimToken = "scimToken",
        CustomExtension = "customExtension",
    }
}

string_enum! {
    /// What happened. The text is `{target type}.{what}`.
    AuditAction {
        TenantCreated = "tenant.created",
        TenantUpdated = "tenant.updated",
        UserCreated = "user.created",
        UserUpdated = "user.updated",
        UserDeactivated = "user.deactivated",
        GroupCreated = "group.created",
        GroupUpdated = "group.updated",
        GroupDeleted = "group.deleted",
        GroupMemberAdded = "group.memberAdded",
        GroupMemberRemoved = "group.memberRemoved",
        CatalogCreated = "catalog.created",
        CatalogUpdated = "catalog.updated",
        CatalogDeleted = "catalog.deleted",
        ResourceAdded = "resource.added",
        ResourceRemoved = "resource.removed",
        ResourceConnectorChanged = "resource.connectorChanged",
        PackageCreated = "accessPackage.created",
        PackageUpdated = "accessPackage.updated",
        PackageDeleted = "accessPackage.deleted",
        PackageArchived = "accessPackage.archived",
        PolicyCreated = "policy.created",
        PolicyUpdated = "policy.updated",
        PolicyDeleted = "policy.deleted",
        RequestCreated = "assignmentRequest.created",
        RequestStageOpened = "assignmentRequest.stageOpened",
        RequestDecided = "assignmentRequest.decided",
        RequestDenied = "assignmentRequest.denied",
        RequestApproved = "assignmentRequest.approved",
        RequestScheduled = "assignmentRequest.scheduled",
        RequestExpired = "assignmentRequest.expired",
        RequestEscalated = "assignmentRequest.escalated",
        RequestApproversAdded = "assignmentRequest.approversAdded",
        RequestApproverLeft = "assignmentRequest.approverLeft",
        RequestStageRelaxed = "assignmentRequest.stageRelaxed",
        RequestCanceled = "assignmentRequest.canceled",
        RequestDelivering = "assignmentRequest.delivering",
        RequestDelivered = "assignmentRequest.delivered",
        RequestPartiallyDelivered = "assignmentRequest.partiallyDelivered",
        RequestDeliveryFailed = "assignmentRequest.deliveryFailed",
        RequestStateChanged = "assignmentRequest.stateChanged",
        RequestExtensionCalled = "assignmentRequest.extensionCalled",
        RequestWaitingForCallback = "assignmentRequest.waitingForCallback",
        RequestCallbackResumed = "assignmentRequest.callbackResumed",
        RequestCallbackTimedOut = "assignmentRequest.callbackTimedOut",
        RequestExtensionFailed = "assignmentRequest.extensionFailed",
        AssignmentExtensionCalled = "assignment.extensionCalled",
        AssignmentExtensionFailed = "assignment.extensionFailed",
        CustomExtensionCreated = "customExtension.created",
        CustomExtensionUpdated = "customExtension.updated",
        CustomExtensionDeleted = "customExtension.deleted",
        AssignmentCreated = "assignment.created",
        AssignmentEnded = "assignment.ended",
        AssignmentExtended = "assignment.extended",
        AssignmentGrantRefused = "assignment.grantRefused",
        AssignmentReprocessed = "assignment.reprocessed",
        OutboxReprocessed = "outboxItem.reprocessed",
        AssignmentRolesChanged = "assignment.rolesChanged",
        AssignmentStateChanged = "assignment.stateChanged",
        RoleAssignmentCreated = "roleAssignment.created",
        RoleAssignmentDeleted = "roleAssignment.deleted",
        ApiTokenCreated = "apiToken.created",
        ApiTokenRevoked = "apiToken.revoked",
        ApprovalLinkUsed = "approvalLink.used",
        ReviewStarted = "accessReview.started",
        ReviewReminded = "accessReview.reminded",
        ReviewCompleted = "accessReview.completed",
        ReviewApplied = "accessReview.applied",
        ReviewItemCreated = "accessReviewItem.created",
        ReviewItemDecided = "accessReviewItem.decided",
        ReviewItemApplied = "accessReviewItem.applied",
        SessionCreated = "session.created",
        IdentityProviderSet = "tenant.identityProviderSet",
        IdentityProviderRemoved = "tenant.identityProviderRemoved",
        ScimTokenCreated = "scimToken.created",
        ScimTokenRevoked = "scimToken.revoked",
        ChatSet = "tenant.chatSet",
        ConfigApplied = "tenant.configApplied",
        AuditStreamSet = "tenant.auditStreamSet",
    }
}

impl From<RequestAction> for AuditAction {
    fn from(a: RequestAction) -> Self {
        match a {
            RequestAction::Created => Self::RequestCreated,
            RequestAction::StageOpened => Self::RequestStageOpened,
            RequestAction::Decided => Self::RequestDecided,
            RequestAction::Denied => Self::RequestDenied,
            RequestAction::Approved => Self::RequestApproved,
            RequestAction::Scheduled => Self::RequestScheduled,
            RequestAction::Expired => Self::RequestExpired,
            RequestAction::Escalated => Self::RequestEscalated,
            RequestAction::ApproversAdded => Self::RequestApproversAdded,
            RequestAction::ApproverLeft => Self::RequestApproverLeft,
            RequestAction::StageRelaxed => Self::RequestStageRelaxed,
            RequestAction::Canceled => Self::RequestCanceled,
            RequestAction::Delivering => Self::RequestDelivering,
            RequestAction::Delivered => Self::RequestDelivered,
            RequestAction::PartiallyDelivered => Self::RequestPartiallyDelivered,
            RequestAction::DeliveryFailed => Self::RequestDeliveryFailed,
            RequestAction::StateChanged => Self::RequestStateChanged,
            RequestAction::WaitingForCallback => Self::RequestWaitingForCallback,
            RequestAction::CallbackResumed => Self::RequestCallbackResumed,
            RequestAction::CallbackTimedOut => Self::RequestCallbackTimedOut,
        }
    }
}

/// The object an event is about, with an id of the matching kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Tenant(TenantId),
    User(UserId),
    Group(GroupId),
    Catalog(CatalogId),
    Resource(ResourceId),
    AccessPackage(PackageId),
    Policy(PolicyId),
    AssignmentRequest(RequestId),
    Assignment(AssignmentId),
    RoleAssignment(RoleAssignmentId),
    ApiToken(TokenId),
    ApprovalLink(Uuid),
    AccessReview(AccessReviewId),
    AccessReviewItem(ReviewItemId),
    OutboxItem(OutboxId),
    ScimToken(ScimTokenId),
    CustomExtension(ExtensionId),
}

impl Target {
    /// The stored kind and id.
    pub fn parts(self) -> (TargetType, Uuid) {
        match self {
            Self::Tenant(id) => (TargetType::Tenant, id.0),
            Self::User(id) => (TargetType::User, id.0),
            Self::Group(id) => (TargetType::Group, id.0),
            Self::Catalog(id) => (TargetType::Catalog, id.0),
            Self::Resource(id) => (TargetType::Resource, id.0),
            Self::AccessPackage(id) => (TargetType::AccessPackage, id.0),
            Self::Policy(id) => (TargetType::Policy, id.0),
            Self::AssignmentRequest(id) => (TargetType::AssignmentRequest, id.0),
            Self::Assignment(id) => (TargetType::Assignment, id.0),
            Self::RoleAssignment(id) => (TargetType::RoleAssignment, id.0),
            Self::ApiToken(id) => (TargetType::ApiToken, id.0),
            Self::ApprovalLink(id) => (TargetType::ApprovalLink, id),
            Self::AccessReview(id) => (TargetType::AccessReview, id.0),
            Self::AccessReviewItem(id) => (TargetType::AccessReviewItem, id.0),
            Self::OutboxItem(id) => (TargetType::OutboxItem, id.0),
            Self::ScimToken(id) => (TargetType::ScimToken, id.0),
            Self::CustomExtension(id) => (TargetType::CustomExtension, id.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_named_after_a_target_type() {
        for action in AuditAction::ALL {
            let (kind, what) = action
                .as_str()
                .split_once('.')
                .expect("{target type}.{what}");
            assert!(
                TargetType::parse(kind).is_some(),
                "{action}: no target {kind}"
            );
            assert!(!what.is_empty());
        }
    }

    #[test]
    fn every_request_action_is_an_audit_action_of_the_same_name() {
        for a in RequestAction::ALL {
            assert_eq!(AuditAction::from(*a).as_str(), a.as_str());
        }
    }
}
