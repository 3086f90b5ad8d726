//! `sdtui doctor [APP]`: the CLI face of [`crate::contract::doctor`].

use clap::Args;

use crate::cli::{print_json, runtime, table};
use crate::contract::doctor;
use crate::engine::{Project, Workspace};
use crate::error::{Result, UserError};

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The app (default: every app of the project).
    app: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(ws: &Workspace, p: &Project, a: DoctorArgs) -> Result<()> {
    let reports = runtime()?.block_on(doctor::doctor(ws, p, a.app.as_deref()))?;
    if a.json {
        print_json(&reports);
    } else {
        let rows: Vec<Vec<String>> = reports
            .iter()
            .map(|r| {
                vec![
                    r.app.clone(),
                    r.addon.clone(),
                    r.prefix.clone(),
                    r.access.clone(),
                    r.summary(),
                ]
            })
            .collect();
        table(&["APP", "ADDON", "AS", "ACCESS", "RESULT"], &rows);
    }
    let failed = reports.iter().filter(|r| !r.ok()).count();
    if failed > 0 {
        return Err(
            UserError::new(format!("{failed} of {} attachments failed", reports.len()))
                .hint("fix each one above, then run `sdtui doctor` again"),
        );
    }
    Ok(())
}
