//! minijinja templates: built into the binary, any file overridable from a theme folder.
//!
//! Autoescape is on for HTML, undefined variables are errors, and user input is only ever
//! a value in a context, never a template.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use include_dir::{Dir, include_dir};
use minijinja::{Environment, UndefinedBehavior, Value};

use super::Assets;

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

#[derive(Clone)]
pub struct Templates {
    env: Arc<Environment<'static>>,
}

impl Templates {
    pub fn new(theme_dir: Option<PathBuf>, assets: Arc<Assets>) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None }
        });
        env.set_loader(move |name| {
            if name.split('/').any(|part| part == ".." || part.is_empty()) {
                return Ok(None);
            }
            if let Some(dir) = &theme_dir {
                let path = dir.join("templates").join(name);
                if path.is_file() {
                    return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                        minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, "cannot read theme template")
                            .with_source(e)
                    });
                }
            }
            Ok(BUILT_IN.get_file(name).and_then(|f| f.contents_utf8()).map(str::to_owned))
        });
        env.add_function("asset", move |name: &str| Value::from_safe_string(assets.url(name)));
        env.add_filter("datetime", datetime_filter);
        Self { env: Arc::new(env) }
    }

    pub fn render(&self, name: &str, context: Value) -> anyhow::Result<String> {
        let template = self.env.get_template(name).with_context(|| format!("loading template {name}"))?;
        template.render(context).with_context(|| format!("rendering template {name}"))
    }

    /// Every built-in template name (for the test that renders them all).
    pub fn built_in_names() -> Vec<String> {
        fn walk(dir: &Dir<'static>, out: &mut Vec<String>) {
            for file in dir.files() {
                out.push(file.path().to_string_lossy().into_owned());
            }
            for sub in dir.dirs() {
                walk(sub, out);
            }
        }
        let mut names = Vec::new();
        walk(&BUILT_IN, &mut names);
        names.sort();
        names
    }
}

/// Formats an RFC 3339 timestamp as `2026-11-21 14:03 UTC`.
fn datetime_filter(value: Value) -> String {
    let text = value.to_string();
    match chrono::DateTime::parse_from_rfc3339(&text) {
        Ok(t) => t.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => text,
    }
}
