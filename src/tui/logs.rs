//! The Logs pane's state: a bounded ring of lines, pause, a regex search
//! with n/N, a line filter, timestamps and wrap. Drawing reads only the
//! lines that fit, so a flood costs the ring's pushes and nothing more.

use std::collections::VecDeque;

use regex::Regex;

#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Counts every line received, so positions survive the ring's turns.
    pub seq: u64,
    pub stderr: bool,
    /// RFC 3339 from the engine; empty when it gave none.
    pub time: String,
    pub text: String,
}

pub const DEFAULT_LOG_LINES: usize = 5000;

#[derive(Debug, Clone)]
pub struct Logs {
    pub lines: VecDeque<LogLine>,
    pub cap: usize,
    next_seq: u64,
    /// The service (and container) followed, for the title and file names.
    pub of: Option<String>,
    /// Paused: the view holds still at this line while new ones arrive.
    pub paused_at: Option<u64>,
    /// Lines up from the bottom of the (filtered) view.
    pub scroll: usize,
    pub search: Option<Regex>,
    /// The match n/N moved to.
    pub current: Option<u64>,
    /// Keep lines matching this regex; a leading `!` keeps the others.
    pub filter: Option<(bool, Regex)>,
    pub filter_text: String,
    pub search_text: String,
    /// Kept lines the search matches, counted as lines come and go so a
    /// frame does not scan the ring for its title.
    matches: usize,
    pub timestamps: bool,
    pub wrap: bool,
}

impl Logs {
    pub fn new(cap: usize) -> Logs {
        Logs {
            lines: VecDeque::with_capacity(cap.min(65536)),
            cap: cap.max(1),
            next_seq: 0,
            of: None,
            paused_at: None,
            scroll: 0,
            search: None,
            current: None,
            filter: None,
            filter_text: String::new(),
            search_text: String::new(),
            matches: 0,
            timestamps: false,
            wrap: true,
        }
    }

    /// Forgets the lines of the old stream; the toggles stay.
    pub fn restart(&mut self, of: String) {
        self.lines.clear();
        self.matches = 0;
        self.of = Some(of);
        self.paused_at = None;
        self.scroll = 0;
        self.current = None;
    }

    pub fn push(&mut self, stderr: bool, time: String, text: String) {
        if self.lines.len() >= self.cap
            && let Some(gone) = self.lines.pop_front()
            && self.counts(&gone)
        {
            self.matches -= 1;
        }
        let line = LogLine {
            seq: self.next_seq,
            stderr,
            time,
            text,
        };
        if self.counts(&line) {
            self.matches += 1;
        }
        self.lines.push_back(line);
        self.next_seq += 1;
    }

    /// Whether a line is a kept match of the search.
    fn counts(&self, l: &LogLine) -> bool {
        self.search
            .as_ref()
            .is_some_and(|re| self.keeps(l) && re.is_match(&l.text))
    }

    fn recount(&mut self) {
        self.matches = self.lines.iter().filter(|l| self.counts(l)).count();
    }

    pub fn received(&self) -> u64 {
        self.next_seq
    }

    pub fn keeps(&self, l: &LogLine) -> bool {
        match &self.filter {
            None => true,
            Some((invert, re)) => re.is_match(&l.text) != *invert,
        }
    }

    /// The lines the view is made of: filtered, and none newer than the
    /// pause point.
    pub fn visible(&self) -> Vec<&LogLine> {
        self.lines
            .iter()
            .filter(|l| self.paused_at.is_none_or(|p| l.seq <= p) && self.keeps(l))
            .collect()
    }

    pub fn toggle_pause(&mut self) {
        if self.paused_at.is_some() {
            self.follow();
        } else {
            self.paused_at = Some(self.next_seq.saturating_sub(1));
        }
    }

    /// Back to the newest line, following.
    pub fn follow(&mut self) {
        self.paused_at = None;
        self.scroll = 0;
    }

    /// Scrolling up pauses, as reading back in a flood needs a still view.
    pub fn scroll_by(&mut self, up: isize) {
        if self.paused_at.is_none() {
            if up <= 0 {
                return;
            }
            self.paused_at = Some(self.next_seq.saturating_sub(1));
        }
        let max = self.visible().len().saturating_sub(1);
        self.scroll = (self.scroll as isize + up).clamp(0, max as isize) as usize;
    }

    pub fn set_filter(&mut self, text: &str) -> Result<(), String> {
        self.filter_text = text.to_string();
        if text.is_empty() || text == "!" {
            self.filter = None;
            self.recount();
            return Ok(());
        }
        let (invert, pattern) = match text.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, text),
        };
        let re = Regex::new(pattern).map_err(|e| format!("not a regex: {e}"))?;
        self.filter = Some((invert, re));
        self.scroll = 0;
        self.recount();
        Ok(())
    }

    /// Sets the search and moves to the newest match (pausing there).
    pub fn set_search(&mut self, text: &str, height: usize) -> Result<usize, String> {
        self.search_text = text.to_string();
        if text.is_empty() {
            self.search = None;
            self.current = None;
            self.matches = 0;
            return Ok(0);
        }
        let re = Regex::new(text).map_err(|e| format!("not a regex: {e}"))?;
        self.search = Some(re);
        self.recount();
        let count = self.matches;
        self.current = None;
        self.jump(true, height);
        Ok(count)
    }

    /// n (`older`) and N: the next match up or down from the current one;
    /// the view pauses and scrolls to show it. Returns whether one was found.
    pub fn jump(&mut self, older: bool, height: usize) -> bool {
        let Some(re) = &self.search else {
            return false;
        };
        if self.paused_at.is_none() {
            self.paused_at = Some(self.next_seq.saturating_sub(1));
        }
        let visible = self.visible();
        let from = self.current;
        let found = if older {
            visible
                .iter()
                .rposition(|l| from.is_none_or(|c| l.seq < c) && re.is_match(&l.text))
        } else {
            visible
                .iter()
                .position(|l| from.is_some_and(|c| l.seq > c) && re.is_match(&l.text))
        };
        let Some(pos) = found else {
            return false;
        };
        let len = visible.len();
        self.current = Some(visible[pos].seq);
        // The match in the middle of the view when there is room.
        let bottom = (pos + height / 2).min(len - 1);
        self.scroll = len - 1 - bottom;
        true
    }

    /// How many matches the search has among the kept lines.
    pub fn match_count(&self) -> usize {
        self.matches
    }

    /// The kept lines as a file: full timestamps when the engine gave them.
    pub fn export(&self) -> String {
        let mut out = String::new();
        for l in self.lines.iter().filter(|l| self.keeps(l)) {
            if !l.time.is_empty() {
                out.push_str(&l.time);
                out.push(' ');
            }
            out.push_str(&l.text);
            out.push('\n');
        }
        out
    }
}

/// `2026-11-25T16:40:00.123456789Z` → `16:40:00.123`.
pub fn short_time(rfc3339: &str) -> &str {
    rfc3339
        .split_once('T')
        .map(|(_, t)| t.get(..12).unwrap_or(t))
        .unwrap_or(rfc3339)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: usize, cap: usize) -> Logs {
        let mut l = Logs::new(cap);
        for i in 0..n {
            l.push(
                i % 3 == 0,
                format!("2026-11-25T10:00:{:02}.5Z", i % 60),
                format!("line {i}"),
            );
        }
        l
    }

    #[test]
    fn ring_pause_search_filter() {
        let mut l = filled(12_000, 5000);
        assert_eq!(l.lines.len(), 5000);
        assert_eq!(l.lines[0].text, "line 7000");
        l.toggle_pause();
        l.push(false, String::new(), "after pause".into());
        assert!(!l.visible().iter().any(|x| x.text == "after pause"));
        l.toggle_pause();
        assert_eq!(l.visible().last().unwrap().text, "after pause");

        // Search moves to the newest match, then n goes older, N newer.
        assert_eq!(l.set_search(r"line 1199\d", 10).unwrap(), 10);
        let cur = |l: &Logs| {
            l.lines
                .iter()
                .find(|x| Some(x.seq) == l.current)
                .unwrap()
                .text
                .clone()
        };
        assert_eq!(cur(&l), "line 11999");
        assert!(l.jump(true, 10));
        assert_eq!(cur(&l), "line 11998");
        assert!(l.jump(false, 10));
        assert_eq!(cur(&l), "line 11999");
        assert!(!l.jump(false, 10), "no newer match");
        assert!(l.set_search("(", 10).unwrap_err().contains("not a regex"));

        l.set_filter("!line 1").unwrap();
        assert!(l.visible().iter().all(|x| !x.text.starts_with("line 1")));
        l.set_filter("line 1100[0-4]$").unwrap();
        assert_eq!(l.visible().len(), 5);
        assert_eq!(l.export().lines().count(), 5);
        assert!(l.export().starts_with("2026-11-25T10:00:"));
        assert_eq!(short_time("2026-11-25T16:40:00.123456789Z"), "16:40:00.123");
    }
    #[test]
    fn the_match_count_follows_the_ring() {
        let mut l = filled(12_000, 5000);
        assert_eq!(l.set_search(r"line 1199\d", 10).unwrap(), 10);
        for i in 0..4991 {
            l.push(false, String::new(), format!("filler {i}"));
        }
        assert_eq!(l.match_count(), 9, "line 11990 left the ring first");
        // line 11991 leaves as a new match arrives.
        l.push(false, String::new(), "line 11990 again".into());
        assert_eq!(l.match_count(), 9);
        l.push(false, String::new(), "no match".into());
        assert_eq!(l.match_count(), 8);
        let counted = |l: &Logs| {
            l.lines
                .iter()
                .filter(|x| x.text.starts_with("line 1199"))
                .count()
        };
        assert_eq!(l.match_count(), counted(&l));
        // A filter recounts among the kept lines.
        l.set_filter("again").unwrap();
        assert_eq!(l.match_count(), 1);
        l.set_filter("").unwrap();
        assert_eq!(l.match_count(), counted(&l));
    }
}
