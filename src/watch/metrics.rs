//! One container's CPU, memory, network and block I/O from the engine's
//! stats stream, as `docker stats` computes them: for the console's
//! selected row only (one stream while it is selected, never a poll of
//! every container).

use bollard::Docker;
use bollard::models::ContainerStatsResponse;
use futures_util::{Stream, StreamExt};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Of one CPU: 250.0 is two and a half cores busy.
    pub cpu_percent: f64,
    /// Without the page cache, as `docker stats` shows it.
    pub mem_used: u64,
    pub mem_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
}

impl Metrics {
    pub fn from_stats(s: &ContainerStatsResponse) -> Metrics {
        let cpu_total = |c: &Option<bollard::models::ContainerCpuStats>| {
            let c = c.as_ref();
            (
                c.and_then(|c| c.cpu_usage.as_ref())
                    .and_then(|u| u.total_usage)
                    .unwrap_or(0),
                c.and_then(|c| c.system_cpu_usage).unwrap_or(0),
            )
        };
        let (cpu, system) = cpu_total(&s.cpu_stats);
        let (pre_cpu, pre_system) = cpu_total(&s.precpu_stats);
        let cpus = s
            .cpu_stats
            .as_ref()
            .and_then(|c| c.online_cpus)
            .unwrap_or(1)
            .max(1) as f64;
        let cpu_delta = cpu.saturating_sub(pre_cpu) as f64;
        let system_delta = system.saturating_sub(pre_system) as f64;
        let cpu_percent = if system_delta > 0.0 && pre_system > 0 {
            cpu_delta / system_delta * cpus * 100.0
        } else {
            0.0
        };
        let mem = s.memory_stats.as_ref();
        let cache = mem
            .and_then(|m| m.stats.as_ref())
            .and_then(|st| {
                // cgroup v2, then v1.
                st.get("inactive_file")
                    .or_else(|| st.get("total_inactive_file"))
                    .copied()
            })
            .unwrap_or(0);
        let mem_used = mem.and_then(|m| m.usage).unwrap_or(0).saturating_sub(cache);
        let (net_rx, net_tx) = s
            .networks
            .iter()
            .flat_map(|n| n.values())
            .fold((0, 0), |(rx, tx), n| {
                (rx + n.rx_bytes.unwrap_or(0), tx + n.tx_bytes.unwrap_or(0))
            });
        let (mut block_read, mut block_write) = (0, 0);
        for e in s
            .blkio_stats
            .as_ref()
            .and_then(|b| b.io_service_bytes_recursive.as_ref())
            .into_iter()
            .flatten()
        {
            match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => block_read += e.value.unwrap_or(0),
                Some("write") => block_write += e.value.unwrap_or(0),
                _ => {}
            }
        }
        Metrics {
            cpu_percent,
            mem_used,
            mem_limit: mem.and_then(|m| m.limit).unwrap_or(0),
            net_rx,
            net_tx,
            block_read,
            block_write,
        }
    }

    /// `cpu 0.3% · mem 3.1MiB/256.0MiB · net ↓1.2KiB ↑0B · blk r0B w4.0KiB`:
    /// under 80 columns for everyday figures.
    pub fn line(&self) -> String {
        format!(
            "cpu {:.1}% · mem {}/{} · net ↓{} ↑{} · blk r{} w{}",
            self.cpu_percent,
            bytes(self.mem_used),
            bytes(self.mem_limit),
            bytes(self.net_rx),
            bytes(self.net_tx),
            bytes(self.block_read),
            bytes(self.block_write)
        )
    }
}

/// Binary units, one decimal: `512B`, `3.1KiB`, `256.0MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1}{}", UNITS[unit])
}

/// The container's figures about once a second until the stream is dropped.
pub fn follow<'a>(
    docker: &'a Docker,
    container_id: &str,
) -> impl Stream<Item = Result<Metrics, bollard::errors::Error>> + 'a {
    docker
        .stats(
            container_id,
            Some(
                bollard::query_parameters::StatsOptionsBuilder::default()
                    .stream(true)
                    .one_shot(false)
                    .build(),
            ),
        )
        .map(|s| s.map(|s| Metrics::from_stats(&s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_units() {
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(1023), "1023B");
        assert_eq!(bytes(1536), "1.5KiB");
        assert_eq!(bytes(256 * 1024 * 1024), "256.0MiB");
    }

    #[test]
    fn cpu_from_the_deltas_and_memory_without_the_cache() {
        let s: ContainerStatsResponse = serde_json::from_value(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 200}, "system_cpu_usage": 1000},
            "memory_stats": {"usage": 5000, "limit": 10000, "stats": {"inactive_file": 1000}},
            "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}, "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
            "blkio_stats": {"io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "read", "value": 4096},
                {"major": 8, "minor": 0, "op": "write", "value": 8192}
            ]}
        }))
        .unwrap();
        let m = Metrics::from_stats(&s);
        assert_eq!(m.cpu_percent, 20.0);
        assert_eq!((m.mem_used, m.mem_limit), (4000, 10000));
        assert_eq!((m.net_rx, m.net_tx), (11, 22));
        assert_eq!((m.block_read, m.block_write), (4096, 8192));
    }
}
