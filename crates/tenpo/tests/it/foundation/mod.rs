mod auth;
mod bad_input;
mod isolation;
mod operations;
mod outbox;
