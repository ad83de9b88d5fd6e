//! Customers of the staff member's store: list and search, detail, create, update, merge,
//! erase, saved addresses, CSV import, and the store's customer-sync setting.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use customers::address::{self, CreateAddress, CustomerAddress, UpdateAddress};
use customers::customer::{self, CreateCustomer, CustomerDetail, CustomerSearch, CustomerSummary};
use customers::import::{self, ImportReport};
use customers::merge::{self, MergeCustomers};
use customers::profile::UpdateCustomer;
use customers::sync::{self, SyncSetting, UpdateSyncSetting};
use kernel::access::Acting;
use kernel::{AddressId, CustomerId, Page};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::problem::{ApiError, ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, create_customer))
        .routes(routes!(import_customers))
        .routes(routes!(get_customer, update_customer, delete_customer))
        .routes(routes!(merge_customers))
        .routes(routes!(list_addresses, create_address))
        .routes(routes!(update_address, delete_address))
        .routes(routes!(get_customer_sync, set_customer_sync))
}

/// The store's customers (those with a profile in this store), searchable by name, kana,
/// email or phone.
#[utoipa::path(get, path = "/admin/v1/customers", tag = "customers", security(("staff" = [])), params(CustomerSearch),
    responses((status = 200, body = Page<CustomerSummary>), (status = 400, body = ProblemBody)))]
async fn list_customers(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(query): ApiQuery<CustomerSearch>,
) -> ApiResult<Json<Page<CustomerSummary>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let page = customer::list_customers(&mut tx, ctx.store_id, Acting::Staff(&ctx), &query).await?;
    tx.commit().await?;
    Ok(Json(page))
}

/// Add a customer to this store. The email or phone is resolved through the tenant's identity
/// map: someone already known in another store gets a profile here, not a duplicate.
#[utoipa::path(post, path = "/admin/v1/customers", tag = "customers", security(("staff" = [])), request_body = CreateCustomer,
    responses((status = 201, body = CustomerDetail), (status = 409, body = ProblemBody, description = "customer_exists"),
              (status = 422, body = ProblemBody)))]
async fn create_customer(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<CreateCustomer>,
) -> ApiResult<(StatusCode, Json<CustomerDetail>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let detail = customer::create_customer(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(detail)))
}

/// Import customers from a CSV file (`Content-Type: text/csv`, UTF-8, header row with
/// `email`, `phone`, `name`, `name_kana`, `notes`, `external_id`). Rows resolve through the
/// identity map; bad rows are reported and skipped.
#[utoipa::path(post, path = "/admin/v1/customers/import", tag = "customers", security(("staff" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportReport), (status = 415, body = ProblemBody),
              (status = 422, body = ProblemBody, description = "unreadable_csv")))]
async fn import_customers(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportReport>> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if !matches!(essence.as_deref(), Some("text/csv" | "application/csv")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file with Content-Type: text/csv",
        ));
    }
    let report = import::import_csv(
        &s.db.store(ctx.store_id).await?,
        ctx.tenant_id,
        ctx.store_id,
        Acting::Staff(&ctx),
        &body,
        &mut |_| {},
    )
    .await?;
    Ok(Json(report))
}

/// A customer with this store's profile, identities and addresses. The id of a merged
/// customer answers its survivor.
#[utoipa::path(get, path = "/admin/v1/customers/{customer_id}", tag = "customers", security(("staff" = [])),
    responses((status = 200, body = CustomerDetail), (status = 404, body = ProblemBody)))]
async fn get_customer(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<CustomerId>,
) -> ApiResult<Json<CustomerDetail>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let detail = customer::get_customer(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(detail))
}

/// Change this store's profile of a customer. A new email or phone joins the customer's
/// identities (409 `identity_taken` if another customer has it).
#[utoipa::path(patch, path = "/admin/v1/customers/{customer_id}", tag = "customers", security(("staff" = [])),
    request_body = UpdateCustomer,
    responses((status = 200, body = CustomerDetail), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "identity_taken")))]
async fn update_customer(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<CustomerId>,
    ApiJson(input): ApiJson<UpdateCustomer>,
) -> ApiResult<Json<CustomerDetail>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let detail = customer::update_customer(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(detail))
}

/// Erase a customer's personal data, in every store of the tenant and every database holding
/// one (docs/CUSTOMERS.md). Order records keep their amounts. Repeating it finishes an erasure
/// that a database's 503 stopped half-way.
#[utoipa::path(delete, path = "/admin/v1/customers/{customer_id}", tag = "customers", security(("staff" = [])),
    responses((status = 204), (status = 403, body = ProblemBody), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "customer_has_open_orders")))]
async fn delete_customer(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<CustomerId>,
) -> ApiResult<StatusCode> {
    // every database of the tenant; checkout erases what it keeps of the person (docs/CUSTOMERS.md)
    let also = checkout::erasure::CheckoutErasure;
    customers::erase::erase_customer(&s.db, ctx.tenant_id, ctx.store_id, Acting::Staff(&ctx), id, &also).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Merge a duplicate into this customer: identities, profiles, addresses, carts and orders
/// move here; the duplicate's id keeps answering this customer.
#[utoipa::path(post, path = "/admin/v1/customers/{customer_id}/merge", tag = "customers", security(("staff" = [])),
    request_body = MergeCustomers,
    responses((status = 200, body = CustomerDetail), (status = 404, body = ProblemBody),
              (status = 422, body = ProblemBody, description = "cannot_merge_self")))]
async fn merge_customers(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<CustomerId>,
    ApiJson(input): ApiJson<MergeCustomers>,
) -> ApiResult<Json<CustomerDetail>> {
    let duplicate = input.duplicate_id;
    let here = s.db.store(ctx.store_id).await?;
    let mut tx = here.begin(ctx.tenant_id).await?;
    let detail = merge::merge_customers(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    // the tenant's other databases (the identity map's, other stores'): docs/CUSTOMERS.md
    merge::spread(&s.db, ctx.tenant_id, here.db_key(), detail.id, duplicate).await?;
    Ok(Json(detail))
}

/// List the customer's addresses.
#[utoipa::path(get, path = "/admin/v1/customers/{customer_id}/addresses", tag = "customers", security(("staff" = [])),
    responses((status = 200, body = Vec<CustomerAddress>), (status = 404, body = ProblemBody)))]
async fn list_addresses(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<CustomerId>,
) -> ApiResult<Json<Vec<CustomerAddress>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let list = address::list_addresses(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Save an address. Invalid fields answer 422 `validation_failed` naming each one.
#[utoipa::path(post, path = "/admin/v1/customers/{customer_id}/addresses", tag = "customers", security(("staff" = [])),
    request_body = CreateAddress,
    responses((status = 201, body = CustomerAddress), (status = 404, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn create_address(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<CustomerId>,
    ApiJson(input): ApiJson<CreateAddress>,
) -> ApiResult<(StatusCode, Json<CustomerAddress>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let saved = address::create_address(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Change one of the customer's addresses.
#[utoipa::path(patch, path = "/admin/v1/customers/{customer_id}/addresses/{address_id}", tag = "customers",
    security(("staff" = [])), request_body = UpdateAddress,
    responses((status = 200, body = CustomerAddress), (status = 404, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn update_address(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((id, address_id)): ApiPath<(CustomerId, AddressId)>,
    ApiJson(input): ApiJson<UpdateAddress>,
) -> ApiResult<Json<CustomerAddress>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let saved = address::update_address(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, address_id, input).await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// Delete one of the customer's addresses.
#[utoipa::path(delete, path = "/admin/v1/customers/{customer_id}/addresses/{address_id}", tag = "customers",
    security(("staff" = [])), responses((status = 204), (status = 404, body = ProblemBody)))]
async fn delete_address(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath((id, address_id)): ApiPath<(CustomerId, AddressId)>,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    address::delete_address(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, address_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether profile changes in this store reach the tenant's other synced stores (and theirs
/// this one).
#[utoipa::path(get, path = "/admin/v1/store/customer-sync", tag = "customers", security(("staff" = [])),
    responses((status = 200, body = SyncSetting)))]
async fn get_customer_sync(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<SyncSetting>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let setting = sync::get_sync_setting(&mut tx, ctx.store_id, Acting::Staff(&ctx)).await?;
    tx.commit().await?;
    Ok(Json(setting))
}

/// Turn customer sync on or off for this store (needs `store_manage`).
#[utoipa::path(put, path = "/admin/v1/store/customer-sync", tag = "customers", security(("staff" = [])),
    request_body = UpdateSyncSetting, responses((status = 200, body = SyncSetting), (status = 403, body = ProblemBody)))]
async fn set_customer_sync(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<UpdateSyncSetting>,
) -> ApiResult<Json<SyncSetting>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let setting = sync::set_sync_setting(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(setting))
}
