pub mod pod;
pub mod substitute;
