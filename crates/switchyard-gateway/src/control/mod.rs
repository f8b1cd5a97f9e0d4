//! The control plane: where the configuration comes from (`source`), reloading it
//! (`reload`), the admin listener (`admin`) and the saved key spend (`state_file`).

pub mod admin;
pub mod reload;
pub mod source;
pub mod state_file;
