//! Where a sign-in or registration may send someone on: only back into the same area of the
//! same site.

/// The `next` address to go on to after signing in, or the area's home (`home`) when it is
/// missing or unsafe; `base` is the area's prefix (`/admin`, or empty for the client area).
pub fn safe_next(base_url: &url::Url, next: Option<&str>, base: &str, home: &str) -> String {
    next.and_then(|n| local_path(base_url, n, base)).unwrap_or_else(|| home.to_owned())
}

/// Only local paths inside the area, so `next` cannot send anyone to another site: the path
/// must resolve against `base_url` to the same origin, stay inside the area, and hold no
/// whitespace, control character or backslash (browsers drop a tab from `/\t/evil.example`
/// and follow `//evil.example`), neither as typed nor percent-encoded.
fn local_path(base_url: &url::Url, next: &str, base: &str) -> Option<String> {
    let risky = |text: &str| text.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    let decoded = percent_encoding::percent_decode_str(next).decode_utf8().ok()?;
    if risky(next) || risky(&decoded) || !next.starts_with('/') || next.starts_with("//") || decoded.starts_with("//") {
        return None;
    }
    let resolved = base_url.join(next).ok()?;
    if resolved.origin() != base_url.origin() {
        return None;
    }
    let path = resolved.path();
    let inside = base.is_empty() || path == base || path.starts_with(&format!("{base}/"));
    if !inside || path.starts_with(&format!("{base}/login")) {
        return None;
    }
    Some(match resolved.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    })
}
