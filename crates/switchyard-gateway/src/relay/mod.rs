//! Relaying an upstream answer to the client: byte for byte (`passthrough`), event by event or
//! whole with translation and usage read on the way (`translated`), and answers the gateway
//! already holds (`deliver`).

pub mod deliver;
pub mod passthrough;
pub mod translated;
