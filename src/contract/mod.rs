//! What the catalog promises about a running addon, checked for real:
//! `doctor` (every attachment proven from inside its app).

pub mod deps;
pub mod doctor;
pub mod lifecycle;
pub mod metrics;
pub mod run;
pub mod script;
pub mod status;
pub mod system;
pub mod validate;
