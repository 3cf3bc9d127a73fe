//! Stylesheet and script, embedded and served under a content hash so browsers may cache
//! them forever; a theme folder's `assets/` overrides any of them.

use std::collections::HashMap;
use std::path::Path;

use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

pub struct Asset {
    pub bytes: Vec<u8>,
    pub hash: String,
    pub content_type: &'static str,
}

/// All assets, loaded once at start.
pub struct Assets {
    files: HashMap<String, Asset>,
}

impl Assets {
    pub fn load(theme_dir: Option<&Path>) -> Self {
        let mut files = HashMap::new();
        for file in BUILT_IN.files() {
            let name = file.path().to_string_lossy().into_owned();
            let override_path = theme_dir.map(|d| d.join("assets").join(&name));
            let bytes = override_path.and_then(|p| std::fs::read(p).ok()).unwrap_or_else(|| file.contents().to_vec());
            let hash = hex::encode(&Sha256::digest(&bytes)[..6]);
            let content_type = content_type(&name);
            files.insert(name, Asset { bytes, hash, content_type });
        }
        Self { files }
    }

    /// The cache-busting address of an asset.
    pub fn url(&self, name: &str) -> String {
        match self.files.get(name) {
            Some(asset) => format!("/assets/{}/{name}", asset.hash),
            None => format!("/assets/missing/{name}"),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.files.get(name)
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}
