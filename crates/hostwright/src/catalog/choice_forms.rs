//! A product's options and add-ons as the order and upgrade forms carry them: the rows a
//! form shows (with what was typed and, on the order form, what each value costs) and the
//! choices read back from the `opt_<id>` and `addon_<id>` fields.

use std::collections::BTreeMap;

use minijinja::{Value, context};

use super::model::{option, option_value};
use super::options::{self, OptionKind};
use super::pricing::Choice;
use crate::ids::{AddonId, ConfigOptionId, ConfigOptionValueId};
use crate::state::AppState;
use crate::web::{AppError, AppResult};

/// What each option value costs on the order form, per cycle key (empty when it adds nothing).
pub type ValuePrices = BTreeMap<ConfigOptionValueId, BTreeMap<String, String>>;

/// An option as the order and upgrade forms show it, with what was typed (`opt_<id>` fields)
/// and, on the order form, what each value costs per cycle.
pub fn option_row(
    o: &option::Model,
    values: &[option_value::Model],
    typed: &BTreeMap<String, String>,
    prices: &ValuePrices,
) -> Value {
    let kind = OptionKind::parse(&o.kind).unwrap_or(OptionKind::Dropdown);
    let field = format!("opt_{}", o.id);
    let typed_value = typed.get(&field).cloned().unwrap_or_default();
    let own: Vec<Value> = values
        .iter()
        .filter(|v| v.option_id == o.id && !v.hidden)
        .map(|v| {
            context! {
                id => v.id,
                label => v.label.clone(),
                checked => typed_value == v.id.to_string(),
                prices => prices.get(&v.id).cloned().unwrap_or_default(),
            }
        })
        .collect();
    context! {
        id => o.id,
        field => field,
        name => o.name.clone(),
        kind => kind.key(),
        values => own,
        min => o.quantity_min,
        max => o.quantity_max,
        step => o.quantity_step.max(1),
        unit => o.unit_label.clone(),
        typed => if typed_value.is_empty() && kind == OptionKind::Quantity { o.quantity_min.to_string() } else { typed_value },
    }
}

/// The most option and add-on fields one form may carry: far more than any product has, and
/// few enough that a form of a million fields is refused before any work.
pub const MAX_CHOICE_FIELDS: usize = 200;

/// Reads the option and add-on fields. Only ids are taken from the form: what they mean is
/// looked up (all in one query), and pricing checks they belong to the product.
pub async fn parse_choices(
    state: &AppState,
    fields: &BTreeMap<String, String>,
) -> AppResult<(Vec<(ConfigOptionId, Choice)>, Vec<AddonId>)> {
    let chosen = fields.keys().filter(|k| k.starts_with("opt_") || k.starts_with("addon_")).count();
    if chosen > MAX_CHOICE_FIELDS {
        return Err(AppError::BadRequest("That is more options than any product has.".into()));
    }
    let option_ids = fields.keys().filter_map(|k| k.strip_prefix("opt_")?.parse::<ConfigOptionId>().ok());
    let known: BTreeMap<ConfigOptionId, _> =
        options::find_options(&state.db, option_ids).await?.into_iter().map(|o| (o.id, o)).collect();
    let mut choices = Vec::new();
    let mut addons = Vec::new();
    for (key, value) in fields {
        if let Some(id) = key.strip_prefix("opt_") {
            let value = value.trim();
            let (Ok(option_id), false) = (id.parse::<ConfigOptionId>(), value.is_empty()) else { continue };
            let Some(o) = known.get(&option_id) else {
                choices.push((option_id, Choice::Quantity(0)));
                continue;
            };
            let choice = if OptionKind::parse(&o.kind) == Some(OptionKind::Quantity) {
                Choice::Quantity(
                    value.parse().map_err(|_| AppError::BadRequest(format!("{}: enter a number.", o.name)))?,
                )
            } else {
                Choice::Value(
                    value.parse::<ConfigOptionValueId>().map_err(|_| AppError::BadRequest("Choose a value.".into()))?,
                )
            };
            choices.push((option_id, choice));
        } else if let Some(id) = key.strip_prefix("addon_")
            && let Ok(addon_id) = id.parse::<AddonId>()
        {
            addons.push(addon_id);
        }
    }
    Ok((choices, addons))
}
