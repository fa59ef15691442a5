//! The records Portico keeps, as plain data: `db` reads and writes them, services
//! hand them to the portals, the API, the CLI and the scheduler. Only `db` runs queries;
//! nothing outside `db` and `services` needs to know how they are stored.

pub mod assignments;
pub mod audit;
pub mod catalogs;
pub mod chat;
pub mod dev_mail;
pub mod extensions;
pub mod groups;
pub mod identity;
pub mod links;
pub mod outbox;
pub mod packages;
pub mod portal;
pub mod requests;
pub mod reviews;
pub mod roles;
pub mod sessions;
pub mod tenants;
pub mod tokens;
pub mod users;
