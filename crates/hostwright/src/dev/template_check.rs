//! Renders every built-in template with the samples its module builds beside each view, so
//! a template that breaks (a typo, a variable its view no longer has, a filter that does
//! not exist) fails the tests instead of a customer's page. It lives here, above every
//! module, because it gathers all their samples.

use std::sync::Arc;

use crate::theme::{Assets, Templates};
use crate::web::view::{SCRIPT, SCRIPT_ESCAPED, Sample};

/// Templates that are never rendered on their own: layouts and macros are covered by the
/// pages that extend or import them.
fn is_partial(name: &str) -> bool {
    name.starts_with("layout/") || name.starts_with("macros/") || name == "emails/layout.html"
}

/// Every module's samples.
fn samples() -> Vec<Sample> {
    [
        crate::overviews::template_samples::samples(),
        crate::staff::samples(),
        crate::clients::samples(),
        crate::signin::samples(),
        crate::overviews::samples(),
        crate::ops::samples(),
        crate::provisioning::samples(),
        crate::automation::samples(),
        crate::catalog::samples(),
    ]
    .concat()
}

#[test]
fn every_template_renders_with_a_sample_context() {
    let templates = Templates::new(None, Arc::new(Assets::load(None)));
    let names = Templates::built_in_names();
    let samples = samples();
    let mut problems = Vec::new();

    for name in names.iter().filter(|name| !is_partial(name)) {
        if !samples.iter().any(|sample| &sample.template == name) {
            problems.push(format!(
                "{name}: no sample (build one beside the page's view, and list it in its module's samples())"
            ));
        }
    }
    for (index, Sample { template: name, context }) in samples.iter().enumerate() {
        if !names.contains(name) {
            problems.push(format!("{name} (sample {index}): there is no such built-in template"));
            continue;
        }
        match templates.render(name, context.clone()) {
            Err(err) => problems.push(format!("{name} (sample {index}): {err:#}")),
            Ok(html) if name.ends_with(".html") => {
                if html.contains(SCRIPT) {
                    problems.push(format!("{name} (sample {index}): the <script> sample value is not escaped"));
                } else if !html.contains(SCRIPT_ESCAPED) {
                    problems.push(format!("{name} (sample {index}): the <script> sample value does not appear"));
                }
            }
            Ok(_) => {}
        }
    }
    assert!(problems.is_empty(), "templates that do not render cleanly:\n{}", problems.join("\n"));
}
