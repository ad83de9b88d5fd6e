mod auth;
pub mod bad_input;
mod demo;
mod events;
mod from_outside;
mod isolation;
mod lifecycle;
mod operations;
mod outbox;
