mod auth;
mod bad_input;
mod demo;
mod isolation;
mod operations;
mod outbox;
