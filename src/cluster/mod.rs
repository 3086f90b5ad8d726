//! Past a handful of VMs: the same project on a distributed engine the user
//! already runs, never on anything home-made. `kubernetes`: manifests by
//! export.

pub mod kubernetes;
