//! The web edge: errors, extractors, CSRF, flash, rendering, serving assets and middleware.

pub mod assets;
pub mod context;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod flash;
pub mod forms;
pub mod limits;
pub mod middleware;
pub mod redirects;
pub mod retry;
pub mod view;

pub use context::Page;
pub use error::{AppError, AppResult};
pub use forms::FormErrors;
pub use view::PageView;
