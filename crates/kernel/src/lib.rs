//! The shared vocabulary of Tenpo.
//!
//! Everything here is plain data with no I/O: typed ids, [`Money`], the [`Problem`] trait that
//! every domain error implements (status + stable code), field validation, and cursor pagination.

pub mod access;
pub mod clock;
pub mod consistency;
pub mod csv_file;
pub mod holidays;
pub mod id;
pub mod jp;
pub mod money;
pub mod origin;
pub mod page;
pub mod problem;
pub mod text;
pub mod validate;

pub use clock::Clock;
pub use id::*;
pub use money::{Currency, Money, MoneyError};
pub use page::{Cursor, Page, PageError, PageRequest};
pub use problem::{FieldError, Problem};
pub use validate::{ValidationErrors, Validator};
