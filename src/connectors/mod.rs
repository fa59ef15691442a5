//! Delivery of grants to target systems. Directory groups are applied in the deciding
//! transaction (see `services::grants`); webhooks are called by the scheduler.

pub mod webhook;
