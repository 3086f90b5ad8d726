//! Waiting for health on the engine's events stream.

use super::*;

/// Waits until every container of the compose project is healthy (or
/// running, without a health check). Returns the failing ones otherwise.
/// Follows the engine's events (subscribed before the first look, so no
/// change is missed) instead of polling; `report` hears each service's
/// state as it changes.
pub(super) async fn wait_healthy(
    docker: &Docker,
    compose_project: &str,
    expected: usize,
    timeout: Duration,
    report: &(dyn Fn(String) + Sync),
) -> Result<(Vec<ServiceState>, Vec<String>)> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut events = std::pin::pin!(docker::project_events(docker, compose_project));
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let states = docker::project_containers(docker, compose_project).await?;
        for s in &states {
            let now = s.health.clone().unwrap_or_else(|| s.state.clone());
            if seen.get(&s.service) != Some(&now) {
                report(format!("{} {now}", s.service));
                seen.insert(s.service.clone(), now);
            }
        }
        let bad: Vec<String> = states
            .iter()
            .filter(|s| {
                s.health.as_deref() == Some("unhealthy")
                    || (s.state == "exited" || s.state == "dead")
            })
            .map(|s| s.service.clone())
            .collect();
        let pending = states
            .iter()
            .any(|s| s.state != "running" || s.health.as_deref() == Some("starting"));
        if !bad.is_empty() {
            return Ok((states, bad));
        }
        if !pending && states.len() >= expected {
            return Ok((states, vec![]));
        }
        if tokio::time::Instant::now() >= deadline {
            let slow = states
                .iter()
                .filter(|s| s.health.as_deref() != Some("healthy"))
                .map(|s| s.service.clone())
                .collect();
            return Ok((states, slow));
        }
        // The next event (or the deadline, looked at above).
        match tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut events)).await {
            Err(_) | Ok(Some(Ok(_))) => {}
            // The stream broke: look again shortly.
            Ok(Some(Err(_)) | None) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}
