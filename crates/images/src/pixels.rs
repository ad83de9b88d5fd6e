//! What an image file is and its resized renditions: pure functions over bytes.
//!
//! [`probe`] decides what a file is from its content alone (never from its name or the
//! `Content-Type` it came with): JPEG, PNG and WebP are accepted; SVG, executables and every
//! other kind are refused with a reason a merchant understands. [`render`] decodes and scales
//! an accepted image to a width, never up.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader, Limits};

/// The widths renditions are made at (px), smallest first.
pub const WIDTHS: [u32; 3] = [200, 600, 1200];

/// The largest image accepted, in pixels per side and in total: beyond that decoding alone
/// would take hundreds of megabytes.
pub const MAX_SIDE: u32 = 12_000;
pub const MAX_PIXELS: u64 = 50_000_000;

/// The formats Tenpo accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
        }
    }

    pub fn from_content_type(t: &str) -> Option<Format> {
        match t {
            "image/jpeg" => Some(Format::Jpeg),
            "image/png" => Some(Format::Png),
            "image/webp" => Some(Format::Webp),
            _ => None,
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::Webp => ImageFormat::WebP,
        }
    }
}

/// Why a file is not an image Tenpo takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("SVG images are not accepted (they can carry scripts); upload JPEG, PNG or WebP")]
    Svg,
    #[error("the file is a program ({0}), not an image; upload JPEG, PNG or WebP")]
    Executable(&'static str),
    #[error("{0} files are not accepted; upload JPEG, PNG or WebP")]
    OtherFormat(&'static str),
    #[error("the file is not a JPEG, PNG or WebP image")]
    Unrecognised,
    #[error("the file looks like {0} but cannot be read: {1}")]
    Corrupt(&'static str, String),
    #[error("the image is {width}×{height} px; at most {MAX_SIDE} px per side and {MAX_PIXELS} pixels")]
    TooManyPixels { width: u32, height: u32 },
    #[error("the file is empty")]
    Empty,
}

/// What [`probe`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// The format a file's first bytes announce; anything but JPEG, PNG and WebP is refused,
/// naming what it is when that is known.
pub fn sniff(bytes: &[u8]) -> Result<Format, Refused> {
    if bytes.is_empty() {
        return Err(Refused::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Ok(Format::Webp);
    }
    let head = &bytes[..bytes.len().min(512)];
    let executables: [(&[u8], &'static str); 8] = [
        (b"\x7fELF", "ELF executable"),
        (b"MZ", "Windows executable"),
        (b"\xfe\xed\xfa\xce", "Mach-O executable"),
        (b"\xfe\xed\xfa\xcf", "Mach-O executable"),
        (b"\xce\xfa\xed\xfe", "Mach-O executable"),
        (b"\xcf\xfa\xed\xfe", "Mach-O executable"),
        (b"\xca\xfe\xba\xbe", "Mach-O universal binary or Java class"),
        (b"#!", "script"),
    ];
    if let Some((_, what)) = executables.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Err(Refused::Executable(what));
    }
    let others: [(&[u8], &'static str); 7] = [
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"%PDF", "PDF"),
        (b"PK\x03\x04", "ZIP"),
        (b"BM", "BMP"),
        (b"II*\0", "TIFF"),
        (b"MM\0*", "TIFF"),
    ];
    if let Some((_, what)) = others.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Err(Refused::OtherFormat(what));
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Err(Refused::OtherFormat("HEIC/AVIF or MP4"));
    }
    // text: SVG (possibly after an XML declaration, comments or a BOM) or HTML
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.contains("<svg") || (text.starts_with("<?xml") && text.contains("svg")) {
        return Err(Refused::Svg);
    }
    if text.starts_with("<!doctype html") || text.starts_with("<html") {
        return Err(Refused::OtherFormat("HTML"));
    }
    Err(Refused::Unrecognised)
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // decoded RGBA at the pixel limit, with room for the decoder's own buffers
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    limits
}

/// Sniffs the file and reads its dimensions from its header (without decoding the pixels).
pub fn probe(bytes: &[u8]) -> Result<Probe, Refused> {
    let format = sniff(bytes)?;
    let name = format.content_type();
    let reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
    let decoder = reader.into_decoder().map_err(|e| Refused::Corrupt(name, e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Refused::Corrupt(name, "it has no pixels".into()));
    }
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Refused::TooManyPixels { width, height });
    }
    Ok(Probe { format, width, height })
}

/// The rendition widths an image `width` px wide gets: those narrower than it (never upscaled).
pub fn widths_for(width: u32) -> Vec<u32> {
    WIDTHS.into_iter().filter(|w| *w < width).collect()
}

/// A resized copy.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// The height an image of `width`×`height` has at `to_width`, keeping its aspect ratio.
pub fn scaled_height(width: u32, height: u32, to_width: u32) -> u32 {
    ((u64::from(height) * u64::from(to_width) + u64::from(width) / 2) / u64::from(width)).max(1) as u32
}

/// Decodes `bytes` and scales them to `to_width` px wide (at most the image's own width),
/// encoded in the image's own format: JPEG at quality 85, PNG, lossless WebP.
pub fn render(bytes: &[u8], to_width: u32) -> Result<Rendered, Refused> {
    let probe = probe(bytes)?;
    let name = probe.format.content_type();
    let mut reader = ImageReader::with_format(Cursor::new(bytes), probe.format.image_format());
    reader.limits(limits());
    let decoded = reader.decode().map_err(|e| Refused::Corrupt(name, e.to_string()))?;
    let width = to_width.min(probe.width).max(1);
    let height = scaled_height(probe.width, probe.height, width);
    let resized = if width == probe.width {
        decoded
    } else {
        decoded.resize_exact(width, height, image::imageops::FilterType::Triangle)
    };
    let mut out = Cursor::new(Vec::new());
    let encoded = match probe.format {
        Format::Jpeg => {
            let rgb = resized.to_rgb8();
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
            rgb.write_with_encoder(encoder)
        }
        Format::Png => resized.write_to(&mut out, ImageFormat::Png),
        Format::Webp => {
            let rgba = resized.to_rgba8();
            rgba.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
        }
    };
    encoded.map_err(|e| Refused::Corrupt(name, e.to_string()))?;
    Ok(Rendered { bytes: out.into_inner(), format: probe.format, width, height })
}

/// A test image of `width`×`height` in `format` (a gradient, so it compresses like a photo).
pub fn sample(format: Format, width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    match format {
        Format::Jpeg => img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)),
        Format::Png => img.write_to(&mut out, ImageFormat::Png),
        Format::Webp => img.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out)),
    }
    .expect("encoding a generated image");
    out.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_formats_by_content() {
        for format in [Format::Jpeg, Format::Png, Format::Webp] {
            let bytes = sample(format, 40, 30);
            assert_eq!(probe(&bytes), Ok(Probe { format, width: 40, height: 30 }));
        }
    }

    #[test]
    fn refuses_svg_programs_and_other_files() {
        let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert_eq!(sniff(svg), Err(Refused::Svg));
        assert_eq!(sniff(b"\xef\xbb\xbf  <svg width='1'/>"), Err(Refused::Svg));
        assert!(matches!(sniff(b"\x7fELF\x02\x01\x01\0\0\0"), Err(Refused::Executable(_))));
        assert!(matches!(sniff(b"MZ\x90\0\x03\0\0\0"), Err(Refused::Executable(_))));
        assert!(matches!(sniff(b"#!/bin/sh\necho hi\n"), Err(Refused::Executable(_))));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Err(Refused::OtherFormat("GIF")));
        assert_eq!(sniff(b"hello"), Err(Refused::Unrecognised));
        assert_eq!(sniff(b""), Err(Refused::Empty));
        // a PNG signature with nothing behind it is not an image
        assert!(matches!(probe(b"\x89PNG\r\n\x1a\n\0\0"), Err(Refused::Corrupt(..))));
    }

    #[test]
    fn renders_narrower_never_wider() {
        assert_eq!(widths_for(1600), vec![200, 600, 1200]);
        assert_eq!(widths_for(800), vec![200, 600]);
        assert_eq!(widths_for(200), Vec::<u32>::new());
        for format in [Format::Jpeg, Format::Png, Format::Webp] {
            let bytes = sample(format, 300, 150);
            let r = render(&bytes, 200).unwrap();
            assert_eq!((r.width, r.height, r.format), (200, 100, format));
            assert_eq!(probe(&r.bytes).unwrap(), Probe { format, width: 200, height: 100 });
            let same = render(&bytes, 600).unwrap();
            assert_eq!((same.width, same.height), (300, 150), "never upscaled");
        }
        assert_eq!(scaled_height(1600, 1000, 600), 375);
        assert_eq!(scaled_height(3000, 1, 200), 1);
    }
}
