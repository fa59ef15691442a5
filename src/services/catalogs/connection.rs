//! Testing a resource's connector without changing anything in the target, for the
//! Delivery page's "Test connection" and its API call.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::connector::{connector_secret_context, ldap_config};
use super::{load, resource_not_found};
use crate::connectors::ldap::LdapConnector;
use crate::connectors::outbound::Outbound;
use crate::connectors::scim::ScimTarget;
use crate::crypto::Keys;
use crate::db;
use crate::domain::DomainError;
use crate::domain::authz::Action;
use crate::domain::connector::Connector;
use crate::domain::ids::{CatalogId, ResourceId};
use crate::services::{Caller, ServiceResult};

/// What testing a connector found: whether it worked, and what a person reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionTest {
    pub ok: bool,
    pub message: String,
    pub tested_at: DateTime<Utc>,
}

/// Tries the connector of a resource without changing anything in the target (its
/// editors): a webhook gets a signed `ping` call, a SCIM target is asked for
/// one user with the token, an LDAP server is bound to and its base DN
/// read. Nothing is stored; a failure is the answer (`ok: false`), not an error. 409
/// when the resource has no connector.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(tenant = %caller.tenant.slug, catalog = %catalog_id, id = %id))]
pub async fn test_connector(
    pool: &PgPool,
    caller: &Caller,
    catalog_id: CatalogId,
    id: ResourceId,
    outbound: &Outbound,
    allow_private: bool,
    keys: &Keys,
    now: DateTime<Utc>,
) -> ServiceResult<ConnectionTest> {
    let tenant = caller.tenant_id();
    let resource = {
        let mut conn = pool.acquire().await?;
        load(&mut conn, tenant, catalog_id).await?;
        db::catalogs::get_resource(&mut conn, tenant, catalog_id, id)
            .await?
            .ok_or_else(resource_not_found)?
    };
    caller.require(Action::EditCatalog(catalog_id))?;
    let (Some(connector), Some(sealed)) = (&resource.connector, &resource.connector_secret) else {
        return Err(DomainError::conflict(
            "This resource has no connector to test; choose how its roles are delivered first.",
        )
        .into());
    };
    let done = |result: Result<String, String>| {
        let (ok, message) = match result {
            Ok(m) => (true, m),
            Err(m) => (false, m),
        };
        Ok(ConnectionTest {
            ok,
            message,
            tested_at: now,
        })
    };
    let Ok(secret) = keys.open(sealed, &connector_secret_context(tenant, id)) else {
        return done(Err(format!(
            "the stored {} cannot be opened with this server's PORTICO_SECRET_KEY; type it again and save the connector",
            connector.kind().secret_field()
        )));
    };
    let result = match connector {
        Connector::Webhook { url } => {
            let message_id = format!("msg_test_{}", uuid::Uuid::now_v7().simple());
            let body = json!({
                "id": message_id,
                "type": "ping",
                "tenant": caller.tenant.slug,
                "resource": {"id": resource.id, "displayName": resource.display_name},
                "occurredAt": now,
            })
            .to_string();
            crate::connectors::webhook::send(
                outbound,
                url,
                &secret,
                &message_id,
                now.timestamp(),
                body.as_bytes(),
            )
            .await
            .map(|()| format!("the webhook at {url} answered the signed ping with a 2xx status"))
            .map_err(|e| format!("the signed ping to {url} failed: {e}"))
        }
        Connector::Scim { base_url, .. } => ScimTarget::new(outbound, base_url, &secret)
            .test_connection()
            .await
            .map(|()| format!("the SCIM target at {base_url} answered and accepted the token")),
        Connector::Ldap { .. } => match ldap_config(connector, &secret) {
            Some(Ok(config)) => LdapConnector::new(allow_private)
                .test_connection(&config)
                .await
                .map(|()| {
                    format!(
                        "bound to the LDAP server {} as {} and read the base DN {}",
                        config.server(),
                        config.bind_dn(),
                        config.base_dn()
                    )
                })
                .map_err(|e| e.to_string()),
            Some(Err(message)) => Err(message),
            None => Err("the connector is not an LDAP connector".into()),
        },
    };
    done(result)
}
