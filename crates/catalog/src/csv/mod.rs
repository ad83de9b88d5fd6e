//! Catalog import and export in the column layout of Shopify's product CSV, so merchants can
//! move their catalog in and out.
//!
//! One row per variant; the first row of a handle carries the product's fields. Columns Tenpo
//! reads (others are ignored): Handle, Title, Body (HTML), Vendor, Type, Tags, Published, Status,
//! Option1..3 Name / Value, Variant SKU, Variant Grams, Variant Inventory Qty, Variant Price,
//! Variant Compare At Price, Variant Requires Shipping (false: a digital variant), Variant
//! Barcode, and Tenpo's own Variant Tax Class (standard | reduced) and Variant Hot (true |
//! false), which export writes so that a round trip keeps them; Image Src, Image Position,
//! Image Alt Text and Variant Image (images, fetched in the background by the image worker),
//! SEO Title and SEO Description. Every other column is dropped, with a warning per column in
//! the report. Files may be UTF-8 (with or without BOM) or Shift_JIS, as Japanese Excel saves
//! them.

mod decode;
mod export;
mod import;

pub use decode::{Decoded, Encoding, decode};
pub use export::{export, media_base};
pub use import::{ImportMode, ImportOptions, ImportReport, import, import_with, looks_like_food};

/// The header Tenpo writes, in order.
pub const COLUMNS: &[&str] = &[
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Option3 Name",
    "Option3 Value",
    "Variant SKU",
    "Variant Grams",
    "Variant Inventory Tracker",
    "Variant Inventory Qty",
    "Variant Inventory Policy",
    "Variant Fulfillment Service",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Requires Shipping",
    "Variant Taxable",
    "Variant Barcode",
    "Variant Weight Unit",
    "Status",
    "Variant Tax Class",
    "Variant Hot",
    "Image Src",
    "Image Position",
    "Image Alt Text",
    "Variant Image",
    "SEO Title",
    "SEO Description",
];
