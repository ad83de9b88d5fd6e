mod auth;
pub mod bad_input;
mod demo;
mod events;
mod isolation;
mod operations;
mod outbox;
