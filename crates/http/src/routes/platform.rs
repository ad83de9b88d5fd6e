//! `/platform/v1`: the operator's API.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use kernel::access::Acting;
use kernel::{Page, PageRequest, StatementId, StoreId, TenantId, VendorId};
use mall::statements::{self, MarkPaid, Statement, StatementFilter};
use tenancy::locations::{self, CreateLocation, Location};
use tenancy::staff::{self, CreateStaff, StaffMember};
use tenancy::stores::{self, CreateStore, Store};
use tenancy::tenants::{self, CreateTenant, Tenant, UpdateTenant};
use tenancy::vendors::{self, CreateVendor, UpdateVendor, Vendor};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::download::{self, CsvQuery};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Operator};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, update_tenant))
        .routes(routes!(create_store, list_stores))
        .routes(routes!(get_store))
        .routes(routes!(create_location, list_locations))
        .routes(routes!(create_staff, list_staff))
        .routes(routes!(create_vendor, list_vendors))
        .routes(routes!(get_vendor, update_vendor))
        .routes(routes!(open_statement))
        .routes(routes!(close_statement))
        .routes(routes!(list_statements))
        .routes(routes!(get_statement))
        .routes(routes!(statement_csv))
        .routes(routes!(statement_paid))
}

/// Create a tenant. A single-brand tenant gets its house vendor at once.
#[utoipa::path(post, path = "/platform/v1/tenants", tag = "platform", security(("operator" = [])),
    request_body = CreateTenant,
    responses((status = 201, body = Tenant), (status = "4XX", body = ProblemBody, content_type = "application/problem+json")))]
async fn create_tenant(
    _: Operator,
    State(s): State<AppState>,
    ApiJson(input): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    Ok((StatusCode::CREATED, Json(tenants::create_tenant(&s.db, input).await?)))
}

/// List tenants.
#[utoipa::path(get, path = "/platform/v1/tenants", tag = "platform", security(("operator" = [])),
    params(PageRequest), responses((status = 200, body = Page<Tenant>)))]
async fn list_tenants(
    _: Operator,
    State(s): State<AppState>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<Tenant>>> {
    Ok(Json(tenants::list_tenants(&s.db, &page).await?))
}

/// One tenant.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = Tenant), (status = 404, body = ProblemBody)))]
async fn get_tenant(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(tenant_id): ApiPath<TenantId>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(tenants::get_tenant(&s.db, tenant_id).await?))
}

/// Rename a tenant, or suspend it (its staff cannot sign in while suspended).
#[utoipa::path(patch, path = "/platform/v1/tenants/{tenant_id}", tag = "platform", security(("operator" = [])),
    request_body = UpdateTenant, responses((status = 200, body = Tenant), (status = 404, body = ProblemBody)))]
async fn update_tenant(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(tenant_id): ApiPath<TenantId>,
    ApiJson(input): ApiJson<UpdateTenant>,
) -> ApiResult<Json<Tenant>> {
    Ok(Json(tenants::update_tenant(&s.db, tenant_id, input).await?))
}

/// Create a store, with its settings and (unless `default_location` is false) a `main` location.
#[utoipa::path(post, path = "/platform/v1/tenants/{tenant_id}/stores", tag = "platform", security(("operator" = [])),
    request_body = CreateStore, responses((status = 201, body = Store), (status = 409, body = ProblemBody)))]
async fn create_store(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(tenant_id): ApiPath<TenantId>,
    ApiJson(input): ApiJson<CreateStore>,
) -> ApiResult<(StatusCode, Json<Store>)> {
    Ok((StatusCode::CREATED, Json(stores::create_store(&s.db, tenant_id, input).await?)))
}

/// List the tenant's stores.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/stores", tag = "platform", security(("operator" = [])),
    params(PageRequest), responses((status = 200, body = Page<Store>)))]
async fn list_stores(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(tenant_id): ApiPath<TenantId>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<Store>>> {
    let mut tx = s.db.begin(tenant_id).await?;
    tenants::find(&mut tx).await?.ok_or(tenancy::TenancyError::TenantNotFound)?;
    let list = stores::list_stores(&mut tx, &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// One store of the tenant.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/stores/{store_id}", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = Store), (status = 404, body = ProblemBody)))]
async fn get_store(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, store_id)): ApiPath<(TenantId, StoreId)>,
) -> ApiResult<Json<Store>> {
    let mut tx = s.db.begin(tenant_id).await?;
    let store = stores::get_store(&mut tx, store_id).await?;
    tx.commit().await?;
    Ok(Json(store))
}

/// Add a location (warehouse or shop) to a store.
#[utoipa::path(post, path = "/platform/v1/tenants/{tenant_id}/stores/{store_id}/locations", tag = "platform", security(("operator" = [])),
    request_body = CreateLocation, responses((status = 201, body = Location),
        (status = 404, body = ProblemBody, description = "store_not_found, vendor_not_found"), (status = 409, body = ProblemBody)))]
async fn create_location(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, store_id)): ApiPath<(TenantId, StoreId)>,
    ApiJson(input): ApiJson<CreateLocation>,
) -> ApiResult<(StatusCode, Json<Location>)> {
    let mut tx = s.db.store(store_id).await?.begin(tenant_id).await?;
    let location = locations::create_location(&mut tx, store_id, Acting::Operator, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(location)))
}

/// List a store's locations.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/stores/{store_id}/locations", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = Vec<Location>)))]
async fn list_locations(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, store_id)): ApiPath<(TenantId, StoreId)>,
) -> ApiResult<Json<Vec<Location>>> {
    let mut tx = s.db.store(store_id).await?.begin(tenant_id).await?;
    stores::get_store(&mut tx, store_id).await?;
    let list = locations::list_locations(&mut tx, store_id, Acting::Operator).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Add a staff member; this is how a store gets its first owner.
#[utoipa::path(post, path = "/platform/v1/tenants/{tenant_id}/stores/{store_id}/staff", tag = "platform", security(("operator" = [])),
    request_body = CreateStaff, responses((status = 201, body = StaffMember),
        (status = 404, body = ProblemBody, description = "store_not_found, vendor_not_found"), (status = 409, body = ProblemBody)))]
async fn create_staff(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, store_id)): ApiPath<(TenantId, StoreId)>,
    ApiJson(input): ApiJson<CreateStaff>,
) -> ApiResult<(StatusCode, Json<StaffMember>)> {
    let mut tx = s.db.begin(tenant_id).await?;
    let member = staff::create_staff(&mut tx, store_id, Acting::Operator, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// List a store's staff.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/stores/{store_id}/staff", tag = "platform", security(("operator" = [])),
    params(PageRequest), responses((status = 200, body = Page<StaffMember>)))]
async fn list_staff(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, store_id)): ApiPath<(TenantId, StoreId)>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<StaffMember>>> {
    let mut tx = s.db.begin(tenant_id).await?;
    stores::get_store(&mut tx, store_id).await?;
    let list = staff::list_staff(&mut tx, store_id, Acting::Operator, &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Add a vendor to a mall tenant.
#[utoipa::path(post, path = "/platform/v1/tenants/{tenant_id}/vendors", tag = "platform", security(("operator" = [])),
    request_body = CreateVendor, responses((status = 201, body = Vendor), (status = 422, body = ProblemBody)))]
async fn create_vendor(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(tenant_id): ApiPath<TenantId>,
    ApiJson(input): ApiJson<CreateVendor>,
) -> ApiResult<(StatusCode, Json<Vendor>)> {
    let mut tx = s.db.begin(tenant_id).await?;
    let vendor = vendors::create_vendor(&mut tx, Acting::Operator, input).await?;
    tx.commit().await?;
    db::mirror::refresh_tenant_or_warn(&s.db, tenant_id).await;
    Ok((StatusCode::CREATED, Json(vendor)))
}

/// List the tenant's vendors.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/vendors", tag = "platform", security(("operator" = [])),
    params(PageRequest), responses((status = 200, body = Page<Vendor>)))]
async fn list_vendors(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(tenant_id): ApiPath<TenantId>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<Vendor>>> {
    let mut tx = s.db.begin(tenant_id).await?;
    tenants::find(&mut tx).await?.ok_or(tenancy::TenancyError::TenantNotFound)?;
    let list = vendors::list_vendors(&mut tx, Acting::Operator, &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// One vendor of a mall tenant.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/vendors/{vendor_id}", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = Vendor), (status = 404, body = ProblemBody, description = "vendor_not_found")))]
async fn get_vendor(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, vendor_id)): ApiPath<(TenantId, VendorId)>,
) -> ApiResult<Json<Vendor>> {
    let mut tx = s.db.begin(tenant_id).await?;
    let vendor = vendors::find_vendor(&mut tx, Acting::Operator, vendor_id).await?;
    tx.commit().await?;
    Ok(Json(vendor))
}

/// Change a vendor: name, status (`suspended` takes its products off sale), a new commission
/// rate from a day, its registration number, its bank account.
#[utoipa::path(patch, path = "/platform/v1/tenants/{tenant_id}/vendors/{vendor_id}", tag = "platform", security(("operator" = [])),
    request_body = UpdateVendor,
    responses((status = 200, body = Vendor), (status = 404, body = ProblemBody, description = "vendor_not_found"),
              (status = 422, body = ProblemBody, description = "validation_failed, not_a_mall")))]
async fn update_vendor(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, vendor_id)): ApiPath<(TenantId, VendorId)>,
    ApiJson(input): ApiJson<UpdateVendor>,
) -> ApiResult<Json<Vendor>> {
    let mut tx = s.db.begin(tenant_id).await?;
    let vendor = vendors::update_vendor(&mut tx, Acting::Operator, vendor_id, input).await?;
    tx.commit().await?;
    db::mirror::refresh_tenant_or_warn(&s.db, tenant_id).await;
    Ok(Json(vendor))
}

/// A vendor's open statement: what closing now would count (not stored).
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/vendors/{vendor_id}/statements/open", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = Statement), (status = 404, body = ProblemBody, description = "vendor_not_found"),
              (status = 422, body = ProblemBody, description = "not_a_mall")))]
async fn open_statement(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, vendor_id)): ApiPath<(TenantId, VendorId)>,
) -> ApiResult<Json<Statement>> {
    let mut tx = tenancy::stores::tenant_data_database(&s.db, tenant_id).await?.begin(tenant_id).await?;
    let st = statements::open(&mut tx, Acting::Operator, vendor_id).await?;
    tx.commit().await?;
    Ok(Json(st))
}

/// Close a vendor's statement now: what is settled by now and not yet counted, numbered and
/// final (the worker closes them at the mall's closing day).
#[utoipa::path(post, path = "/platform/v1/tenants/{tenant_id}/vendors/{vendor_id}/statements/close", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = Statement), (status = 404, body = ProblemBody, description = "vendor_not_found"),
              (status = 422, body = ProblemBody, description = "not_a_mall")))]
async fn close_statement(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, vendor_id)): ApiPath<(TenantId, VendorId)>,
) -> ApiResult<Json<Statement>> {
    let mut tx = tenancy::stores::tenant_data_database(&s.db, tenant_id).await?.begin(tenant_id).await?;
    let st = statements::close_now(&mut tx, Acting::Operator, vendor_id).await?;
    tx.commit().await?;
    Ok(Json(st))
}

/// A tenant's closed and paid statements, newest first, of every vendor.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/statements", tag = "platform", security(("operator" = [])),
    params(StatementFilter, PageRequest),
    responses((status = 200, body = Page<Statement>), (status = 404, body = ProblemBody, description = "tenant_not_found")))]
async fn list_statements(
    _: Operator,
    State(s): State<AppState>,
    ApiPath(tenant_id): ApiPath<TenantId>,
    ApiQuery(q): ApiQuery<StatementFilter>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<Statement>>> {
    let mut tx = tenancy::stores::tenant_data_database(&s.db, tenant_id).await?.begin(tenant_id).await?;
    tenants::find(&mut tx).await?.ok_or(tenancy::TenancyError::TenantNotFound)?;
    let list = statements::list(&mut tx, Acting::Operator, &q, &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// One statement of a tenant, with its lines.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/statements/{statement_id}", tag = "platform", security(("operator" = [])),
    responses((status = 200, body = Statement), (status = 404, body = ProblemBody, description = "statement_not_found")))]
async fn get_statement(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, id)): ApiPath<(TenantId, StatementId)>,
) -> ApiResult<Json<Statement>> {
    let mut tx = tenancy::stores::tenant_data_database(&s.db, tenant_id).await?.begin(tenant_id).await?;
    let st = statements::get(&mut tx, Acting::Operator, id).await?;
    tx.commit().await?;
    Ok(Json(st))
}

/// The statement as CSV (UTF-8 with a BOM unless `encoding` says otherwise), with the vendor's
/// registration number.
#[utoipa::path(get, path = "/platform/v1/tenants/{tenant_id}/statements/{statement_id}/csv", tag = "platform", security(("operator" = [])),
    params(CsvQuery),
    responses((status = 200, content_type = "text/csv", body = String),
              (status = 404, body = ProblemBody, description = "statement_not_found"),
              (status = 422, body = ProblemBody, description = "csv_unencodable")))]
async fn statement_csv(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, id)): ApiPath<(TenantId, StatementId)>,
    ApiQuery(q): ApiQuery<CsvQuery>,
) -> ApiResult<Response> {
    let mut tx = tenancy::stores::tenant_data_database(&s.db, tenant_id).await?.begin(tenant_id).await?;
    let text = statements::csv(&mut tx, Acting::Operator, id).await?;
    tx.commit().await?;
    download::csv(&text, &q, kernel::csv_file::CsvEncoding::Utf8Bom, "statement.csv")
}

/// Record a statement's payout: the day and the bank's reference (payouts happen offline).
#[utoipa::path(post, path = "/platform/v1/tenants/{tenant_id}/statements/{statement_id}/paid", tag = "platform", security(("operator" = [])),
    request_body = MarkPaid,
    responses((status = 200, body = Statement), (status = 404, body = ProblemBody, description = "statement_not_found"),
              (status = 409, body = ProblemBody, description = "statement_paid")))]
async fn statement_paid(
    _: Operator,
    State(s): State<AppState>,
    ApiPath((tenant_id, id)): ApiPath<(TenantId, StatementId)>,
    ApiJson(input): ApiJson<MarkPaid>,
) -> ApiResult<Json<Statement>> {
    let mut tx = tenancy::stores::tenant_data_database(&s.db, tenant_id).await?.begin(tenant_id).await?;
    let st = statements::mark_paid(&mut tx, Acting::Operator, id, input).await?;
    tx.commit().await?;
    Ok(Json(st))
}
