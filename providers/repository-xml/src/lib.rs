//! Helpers shared by the repository providers (Redis, blob, registry). Not a provider itself.
//!
//! - [`element`]: one element's text exactly as ASP.NET Core stores it
//!   (`XElement.ToString(SaveOptions.DisableFormatting)`), and the friendly name of an element
//!   read back from a store that keeps no names (a Redis list, a blob document).
//! - [`document`]: the Azure Blob layout, one `<repository>` document holding every element.
//! - [`config`]: provider configuration from its JSON document, with clear errors.

#![forbid(unsafe_code)]

pub mod config;
pub mod document;
pub mod element;
