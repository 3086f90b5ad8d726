//! `logs`: one service's output as `docker logs` prints it, or every
//! service's at once, prefixed and coloured as `docker compose logs` does.
//! Output is buffered and flushed whenever the stream has nothing more
//! ready, so a flood costs one write per buffer, not one per line, and a
//! quiet service's line still shows at once.

use std::io::{self, BufWriter, Write};

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::deploy::LogSource;
use crate::error::{Result, UserError};

const BUFFER: usize = 64 * 1024;

/// Compose v2's rotation of prefix colours (ANSI SGR codes).
const COLOURS: [&str; 10] = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// Buffered stdout and stderr, unlocked between writes: holding the lock
/// across awaits would stall the crash hook of another thread.
struct Out {
    out: BufWriter<io::Stdout>,
    err: BufWriter<io::Stderr>,
}

impl Out {
    fn new() -> Out {
        Out {
            out: BufWriter::with_capacity(BUFFER, io::stdout()),
            err: BufWriter::with_capacity(BUFFER, io::stderr()),
        }
    }
    fn to(&mut self, stderr: bool) -> &mut dyn Write {
        if stderr { &mut self.err } else { &mut self.out }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.err.flush()
    }
}

/// A closed pipe (`| head`) ends the command quietly, as it does `docker logs`.
fn written(r: io::Result<()>) -> Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(UserError::new(format!("cannot write the logs: {e}"))),
    }
}

/// One container's logs, bytes as the engine sends them.
pub async fn one(source: LogSource, tail: usize, follow: bool) -> Result<()> {
    pump(vec![source], tail, follow, None).await
}

/// How each service's lines are introduced: `name  | `, padded to the
/// longest name, the `name |` part coloured when `colour`.
pub fn prefixes(names: &[String], colour: bool) -> Vec<String> {
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let label = format!("{n:<width$} |");
            if colour {
                format!("\u{1b}[{}m{label}\u{1b}[0m ", COLOURS[i % COLOURS.len()])
            } else {
                format!("{label} ")
            }
        })
        .collect()
}

/// What a source's task hands the writer.
type Chunk = (usize, Result<(bool, bytes::Bytes)>);

/// Every source at once, each line prefixed; ends when every stream has.
pub async fn all(sources: Vec<LogSource>, tail: usize, follow: bool, colour: bool) -> Result<()> {
    // The VM too when a service name runs on more than one.
    let names: Vec<String> = sources
        .iter()
        .map(|s| {
            let twice = sources.iter().filter(|o| o.service == s.service).count() > 1;
            if twice {
                format!("{}@{}", s.service, s.vm)
            } else {
                s.service.clone()
            }
        })
        .collect();
    let prefixes = prefixes(&names, colour);
    pump(sources, tail, follow, Some(prefixes)).await
}

/// Reads every source in a task of its own and writes on this thread:
/// reading and writing overlap, and the reading is woken by the runtime's
/// I/O driver directly rather than through `block_on`'s thread.
async fn pump(
    sources: Vec<LogSource>,
    tail: usize,
    follow: bool,
    prefixes: Option<Vec<String>>,
) -> Result<()> {
    // Whether each source's stdout and stderr are at the start of a line.
    let mut at_start = vec![[true, true]; sources.len()];
    let (tx, mut rx) = mpsc::channel::<Chunk>(1024);
    for (i, source) in sources.into_iter().enumerate() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(crate::docker::log_chunks(
                &source.docker,
                &source.container_id,
                tail,
                follow
            ));
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if tx.send((i, item)).await.is_err() || failed {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut out = Out::new();
    loop {
        let next = match rx.try_recv() {
            Ok(chunk) => Some(chunk),
            Err(mpsc::error::TryRecvError::Empty) => {
                if !written(out.flush())? {
                    return Ok(());
                }
                rx.recv().await
            }
            Err(mpsc::error::TryRecvError::Disconnected) => None,
        };
        let Some((i, item)) = next else { break };
        let (stderr, bytes) = match item {
            Ok(chunk) => chunk,
            Err(e) => {
                let Some(prefixes) = &prefixes else {
                    return Err(e);
                };
                // One service's stream failing leaves the others going.
                let line = format!("{}{}\n", prefixes[i], e.message);
                if !written(out.to(true).write_all(line.as_bytes()))? {
                    return Ok(());
                }
                continue;
            }
        };
        let w = out.to(stderr);
        let r = match &prefixes {
            None => w.write_all(&bytes),
            Some(prefixes) => {
                let start = &mut at_start[i][usize::from(stderr)];
                let mut r = Ok(());
                for line in bytes.split_inclusive(|b| *b == b'\n') {
                    if *start {
                        r = r.and_then(|()| w.write_all(prefixes[i].as_bytes()));
                    }
                    r = r.and_then(|()| w.write_all(line));
                    *start = line.ends_with(b"\n");
                }
                r
            }
        };
        if !written(r)? {
            return Ok(());
        }
    }
    written(out.flush()).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::prefixes;

    #[test]
    fn prefixes_are_padded_and_coloured_only_when_asked() {
        let names = vec!["api".to_string(), "postgres-main".to_string()];
        assert_eq!(
            prefixes(&names, false),
            vec!["api           | ", "postgres-main | "]
        );
        let coloured = prefixes(&names, true);
        assert_eq!(coloured[0], "\u{1b}[36mapi           |\u{1b}[0m ");
        assert_eq!(coloured[1], "\u{1b}[33mpostgres-main |\u{1b}[0m ");
    }
}
