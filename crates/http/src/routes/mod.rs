//! Routes by audience. Each handler is thin: parse, resolve the caller, call one service.

pub(crate) mod account;
mod admin;
pub(crate) mod carts;
pub(crate) mod checkout;
mod databases;
mod downloads;
mod media;
mod platform;
pub(crate) mod postal;
mod search;
pub(crate) mod storefront;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::problem::ProblemBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tenpo API",
        description = "Multi-tenant commerce backend for merchants selling in Japan.\n\n\
            * `/platform/v1` — the operator (Authorization: Bearer TENPO_OPERATOR_TOKEN)\n\
            * `/admin/v1` — store staff (Authorization: Bearer token from `POST /admin/v1/auth/login`)\n\
            * `/store/v1/stores/{store}` — storefront, public\n\n\
            Errors are `application/problem+json` with a stable `code` (docs/ERRORS.md). \
            Lists use cursor pagination: pass `next_cursor` back as `cursor`.",
        license(name = "Apache-2.0")
    ),
    components(schemas(ProblemBody)),
    modifiers(&Security),
    tags(
        (name = "platform", description = "Operator: tenants, stores, locations, first staff, a mall's vendors and their statements, store databases"),
        (name = "auth", description = "Staff sign-in and sessions"),
        (name = "store", description = "The signed-in staff member's store, its locations and staff"),
        (name = "customers", description = "Customers of the store: profiles, identities, addresses, merge, erasure, CSV import, store sync"),
        (name = "inventory", description = "Stock levels, adjustments with reasons, movement history"),
        (name = "catalog", description = "Products, variants, locations that carry them, digital settings, CSV import and export"),
        (name = "storefront", description = "Public storefront: products with prices and availability, Japan Post postal codes"),
        (name = "checkout", description = "Promotion codes on a cart, checkout options, placing an order, viewing it by its token"),
        (name = "orders", description = "Orders, payments, shipments, cancellations, promotions and checkout settings for staff"),
        (name = "promotions", description = "Promotion codes"),
        (name = "account", description = "Shoppers' accounts: sign-up with email verification, sign-in, password reset, profile, addresses, order history"),
        (name = "cart", description = "Shoppers' carts: lines hold stock while the shopper decides; flash-sale items are queued"),
        (name = "mall", description = "Mall mode: the mall's settings, vendors' statements"),
        (name = "webhooks", description = "Webhook endpoints: topics, signing secrets and their rotation, the delivery log, resend, replay and ping"),
        (name = "digital", description = "Digital goods: variant files, deliveries of paid orders, downloads by order token, signed local file links"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("TENPO_OPERATOR_TOKEN")).build(),
            ),
        );
        components.add_security_scheme(
            "shopper",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("token from POST /store/v1/stores/{store}/account/login or .../verify"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "staff",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("token from POST /admin/v1/auth/login"))
                    .build(),
            ),
        );
    }
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(platform::router())
        .merge(databases::router())
        .merge(admin::router())
        .merge(storefront::router())
        .merge(postal::router())
        .merge(search::router())
        .merge(carts::router())
        .merge(checkout::router())
        .merge(account::router())
        .merge(downloads::router())
        .merge(media::router())
}

/// Routes that stream large request bodies: served with their own timeout and no body limit.
pub fn uploads() -> OpenApiRouter<AppState> {
    admin::uploads()
}
