//! `sdtui connect ADDON`: the CLI face of [`crate::connect`].

use clap::Args;

use crate::engine::{Project, Workspace};
use crate::error::Result;

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// The instance (`databases.main`).
    addon: String,
}

pub fn run(_ws: &Workspace, _p: &Project, _args: ConnectArgs) -> Result<()> {
    Ok(())
}
