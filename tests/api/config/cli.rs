//! `portico export` and `portico apply`.
