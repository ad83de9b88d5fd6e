//! Product images' bytes (leaf crate: the `image` crate is built here only).
//!
//! * [`pixels`]: what a file is, from its content (JPEG, PNG, WebP accepted; SVG, programs and
//!   everything else refused), its dimensions, and resized renditions (never upscaled);
//! * [`upload`]: staff upload an image: read up to `images.max_bytes`, sniffed, stored through
//!   `storage` as the original, recorded by `catalog::image`;
//! * [`worker`]: the background job that makes each image's renditions (200, 600, 1200 px
//!   wide) once, fetching an imported image's original first; claims with a lease, so a
//!   worker killed mid-image loses nothing and nothing is done twice;
//! * [`fetch`]: the bounded, timed-out downloader of imported `Image Src` URLs, held to the
//!   URL rule of crates/outbound (no private addresses unless allowed).
//!
//! The rows (order, alt text, a variant's image, renditions) are `catalog::image`'s.

mod error;
pub mod fetch;
pub mod pixels;
mod settings;
pub mod upload;
pub mod worker;

pub use error::ImageError;
pub use settings::{FetchSettings, ImageSettings};
