//! `/admin/v1`: store staff. Every route acts inside the caller's own store; another store's or
//! tenant's resource is a 404 (row-level security and store scoping both hide it).

mod auth;
mod customers;
mod digital;
mod images;
mod inventory;
mod mall;
mod orders;
pub(crate) use orders::documents_answer;
mod products;
mod shipments;
pub(crate) mod statements;
mod store;
mod webhooks;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(store::router())
        .merge(customers::router())
        .merge(products::router())
        .merge(images::router())
        .merge(inventory::router())
        .merge(orders::router())
        .merge(shipments::router())
        .merge(digital::router())
        .merge(mall::router())
        .merge(statements::router())
        .merge(webhooks::router())
}

pub fn uploads() -> OpenApiRouter<AppState> {
    digital::uploads().merge(images::uploads())
}
