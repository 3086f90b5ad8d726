//! The console's hold on the terminal, as ratatui's component template
//! keeps it: entered once, suspended for a shell and resumed, and given
//! back by `Drop` on every way out — mouse capture and cursor included,
//! which `ratatui::init`'s own hook leaves behind. A panic is the crash
//! hook's ([`crate::crash`]): it restores the same way before reporting.

use std::io::{self, Stdout, stdout};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::terminal::{Clear, ClearType, EnterAlternateScreen, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub struct Tui {
    pub terminal: Terminal<CrosstermBackend<Stdout>>,
    mouse: bool,
    entered: bool,
}

impl Tui {
    /// Raw mode, the alternate screen, and mouse capture when `mouse`.
    pub fn enter(mouse: bool) -> io::Result<Tui> {
        let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        let mut tui = Tui {
            terminal,
            mouse,
            entered: false,
        };
        tui.resume()?;
        Ok(tui)
    }

    /// Takes the terminal (again, after [`Tui::suspend`]).
    pub fn resume(&mut self) -> io::Result<()> {
        crate::crash::terminal_taken(true);
        self.entered = true;
        enable_raw_mode()?;
        crossterm::execute!(stdout(), EnterAlternateScreen)?;
        if self.mouse {
            crossterm::execute!(stdout(), EnableMouseCapture)?;
        }
        // A fresh Terminal: empty buffers, so the next frame paints every
        // cell over what the shell left. (`Terminal::clear` would ask the
        // terminal for the cursor position, which can time out here.)
        crossterm::execute!(stdout(), Clear(ClearType::All))?;
        self.terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        Ok(())
    }

    /// Gives the terminal back for a while (a shell in a container).
    pub fn suspend(&mut self) {
        if self.entered {
            self.entered = false;
            crate::crash::restore_terminal();
            crate::crash::terminal_taken(false);
        }
    }

    /// Clicks and the wheel on or off (`m`).
    pub fn set_mouse(&mut self, on: bool) {
        self.mouse = on;
        if self.entered {
            let _ = if on {
                crossterm::execute!(stdout(), EnableMouseCapture)
            } else {
                crossterm::execute!(stdout(), DisableMouseCapture)
            };
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        self.suspend();
    }
}
