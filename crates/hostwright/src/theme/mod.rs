//! The look of the product: templates and assets built into the binary, any file of which a
//! theme folder may override.

mod assets;
mod templates;

pub use assets::{Asset, Assets};
pub use templates::Templates;
