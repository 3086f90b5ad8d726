//! Themes are files (`themes/*.yml`, shipped in the binary; the user's
//! config dir `themes/` adds or overrides), picked in settings.yml.

use include_dir::{Dir, include_dir};
use ratatui::style::Color;
use serde::Deserialize;

static THEMES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/themes");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    text: String,
    dim: String,
    accent: String,
    title: String,
    selected_bg: String,
    selected_fg: String,
    ok: String,
    warn: String,
    error: String,
    border: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Color,
    pub dim: Color,
    pub accent: Color,
    pub title: Color,
    pub selected_bg: Color,
    pub selected_fg: Color,
    pub ok: Color,
    pub warn: Color,
    pub error: Color,
    pub border: Color,
}

fn color(s: &str) -> Result<Color, String> {
    s.parse::<Color>()
        .map_err(|_| format!("\"{s}\" is not a colour (a name such as cyan, or #rrggbb)"))
}

impl Theme {
    fn from_file(f: ThemeFile) -> Result<Theme, String> {
        Ok(Theme {
            text: color(&f.text)?,
            dim: color(&f.dim)?,
            accent: color(&f.accent)?,
            title: color(&f.title)?,
            selected_bg: color(&f.selected_bg)?,
            selected_fg: color(&f.selected_fg)?,
            ok: color(&f.ok)?,
            warn: color(&f.warn)?,
            error: color(&f.error)?,
            border: color(&f.border)?,
            name: f.name,
        })
    }

    /// Names of the shipped themes.
    pub fn shipped() -> Vec<String> {
        let mut v: Vec<String> = THEMES
            .files()
            .filter_map(|f| {
                f.path()
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
            })
            .collect();
        v.sort();
        v
    }

    /// The named theme: the user's themes folder first, then the shipped one.
    pub fn load(name: &str, user_dir: Option<&std::path::Path>) -> Result<Theme, String> {
        let file = format!("{name}.yml");
        let text = match user_dir.map(|d| d.join(&file)).filter(|p| p.is_file()) {
            Some(p) => std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?,
            None => THEMES
                .get_file(&file)
                .and_then(|f| f.contents_utf8())
                .ok_or_else(|| {
                    format!(
                        "no theme \"{name}\"; themes: {}",
                        Self::shipped().join(", ")
                    )
                })?
                .to_string(),
        };
        let parsed: ThemeFile = crate::config::parse_yaml(std::path::Path::new(&file), &text)
            .map_err(|e| e.to_string())?;
        Theme::from_file(parsed)
    }

    pub fn dark() -> Theme {
        Theme::load("dark", None).expect("the shipped dark theme parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_theme_loads() {
        let names = Theme::shipped();
        assert_eq!(names, ["dark", "high-contrast", "light"]);
        for n in names {
            Theme::load(&n, None).unwrap();
        }
        assert!(
            Theme::load("nope", None)
                .unwrap_err()
                .contains("dark, high-contrast, light")
        );
    }
}
