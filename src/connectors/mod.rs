//! Delivery of grants to target systems. Directory groups are applied in the deciding
//! transaction (see `services::grants`); webhooks and SCIM targets are called by the
//! scheduler. Every call over the network goes through `outbound`, which keeps it to
//! public addresses.

pub mod ldap;
pub mod outbound;
pub mod scim;
pub mod slack;
pub mod teams;
pub mod webhook;
