//! What the catalog promises about a running addon, checked for real:
//! `doctor` (every attachment proven from inside its app).

pub mod doctor;
pub mod status;
