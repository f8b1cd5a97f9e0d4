//! The control plane: where the configuration comes from (`source`), reloading it
//! (`reload`), the admin listener (`admin`) the saved key spend (`state_file`) and
//! fleet mode's sync with Redis (`fleet`).

pub mod admin;
pub mod console;
pub mod fleet;
pub mod reload;
pub mod source;
pub mod state_file;
