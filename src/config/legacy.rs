//! The seed-000 "Before" format and its migration.
use std::path::Path;
use crate::error::SourceSpot;
pub fn detect(_path: &Path, _text: &str) -> Option<SourceSpot> { None }
