//! The staff member's store, its locations, staff and the tenant's vendors.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kernel::access::{Acting, Permission};
use kernel::{LocationId, Page, PageRequest, StaffId, VendorId};
use serde::Serialize;
use tenancy::disclosures::{self, LegalDisclosures, UpdateDisclosures};
use tenancy::locations::{self, CreateLocation, Location, UpdateLocation};
use tenancy::settings::{StoreSettings, UpdateStoreSettings};
use tenancy::staff::{self, CreateStaff, StaffMember, UpdateStaff};
use tenancy::stores::{self, Store, UpdateStore};
use tenancy::vendors::{self, CreateVendor, UpdateVendor, Vendor};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::problem::{ApiResult, ProblemBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_store, update_store))
        .routes(routes!(get_settings, update_settings))
        .routes(routes!(list_locations, create_location))
        .routes(routes!(get_location, update_location, delete_location))
        .routes(routes!(list_staff, create_staff))
        .routes(routes!(get_staff, update_staff, delete_staff))
        .routes(routes!(revoke_staff_sessions))
        .routes(routes!(list_vendors, create_vendor))
        .routes(routes!(get_vendor, update_vendor))
        .routes(routes!(get_disclosures, put_disclosures))
        .routes(routes!(get_vendor_disclosures, put_vendor_disclosures))
}

/// The signed-in staff member's store.
#[utoipa::path(get, path = "/admin/v1/store", tag = "store", security(("staff" = [])), responses((status = 200, body = Store)))]
async fn get_store(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<Store>> {
    Acting::Staff(&ctx).require(Permission::StoreRead)?;
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let store = stores::get_store(&mut tx, ctx.store_id).await?;
    tx.commit().await?;
    Ok(Json(store))
}

/// Change the store's name or details.
#[utoipa::path(patch, path = "/admin/v1/store", tag = "store", security(("staff" = [])), request_body = UpdateStore,
    responses((status = 200, body = Store), (status = 403, body = ProblemBody)))]
async fn update_store(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<UpdateStore>,
) -> ApiResult<Json<Store>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let store = stores::update_store(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    db::mirror::refresh_tenant_or_warn(&s.db, ctx.tenant_id).await;
    Ok(Json(store))
}

/// The store's settings.
#[utoipa::path(get, path = "/admin/v1/store/settings", tag = "store", security(("staff" = [])),
    responses((status = 200, body = StoreSettings)))]
async fn get_settings(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<StoreSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = tenancy::settings::get_settings(&mut tx, ctx.store_id, Acting::Staff(&ctx)).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// Change how long carts hold stock, when carts count as abandoned, the low-stock threshold
/// and whether shoppers see exact stock numbers.
#[utoipa::path(patch, path = "/admin/v1/store/settings", tag = "store", security(("staff" = [])), request_body = UpdateStoreSettings,
    responses((status = 200, body = StoreSettings), (status = 403, body = ProblemBody), (status = 422, body = ProblemBody)))]
async fn update_settings(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<UpdateStoreSettings>,
) -> ApiResult<Json<StoreSettings>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let r = tenancy::settings::update_settings(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(r))
}

/// List the store's locations.
#[utoipa::path(get, path = "/admin/v1/locations", tag = "store", security(("staff" = [])), responses((status = 200, body = Vec<Location>)))]
async fn list_locations(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<Vec<Location>>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let list = locations::list_locations(&mut tx, ctx.store_id, Acting::Staff(&ctx)).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Add a location (warehouse or shop).
#[utoipa::path(post, path = "/admin/v1/locations", tag = "store", security(("staff" = [])), request_body = CreateLocation,
    responses((status = 201, body = Location), (status = 404, body = ProblemBody, description = "vendor_not_found"),
              (status = 409, body = ProblemBody, description = "location_code_taken")))]
async fn create_location(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<CreateLocation>,
) -> ApiResult<(StatusCode, Json<Location>)> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let location = locations::create_location(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(location)))
}

/// One location.
#[utoipa::path(get, path = "/admin/v1/locations/{location_id}", tag = "store", security(("staff" = [])),
    responses((status = 200, body = Location), (status = 404, body = ProblemBody)))]
async fn get_location(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<LocationId>,
) -> ApiResult<Json<Location>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let location = locations::get_location(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(location))
}

/// Change a location.
#[utoipa::path(patch, path = "/admin/v1/locations/{location_id}", tag = "store", security(("staff" = [])), request_body = UpdateLocation,
    responses((status = 200, body = Location), (status = 404, body = ProblemBody)))]
async fn update_location(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<LocationId>,
    ApiJson(input): ApiJson<UpdateLocation>,
) -> ApiResult<Json<Location>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let location = locations::update_location(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(location))
}

/// Delete a location that holds no stock (soft: orders keep referring to it).
#[utoipa::path(delete, path = "/admin/v1/locations/{location_id}", tag = "store", security(("staff" = [])),
    responses((status = 204), (status = 404, body = ProblemBody), (status = 409, body = ProblemBody, description = "location_has_stock")))]
async fn delete_location(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<LocationId>,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    locations::delete_location(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List the store's staff.
#[utoipa::path(get, path = "/admin/v1/staff", tag = "store", security(("staff" = [])), params(PageRequest),
    responses((status = 200, body = Page<StaffMember>)))]
async fn list_staff(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<StaffMember>>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let list = staff::list_staff(&mut tx, ctx.store_id, Acting::Staff(&ctx), &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Add a staff member. Admins may add only the `staff` role; owners any.
#[utoipa::path(post, path = "/admin/v1/staff", tag = "store", security(("staff" = [])), request_body = CreateStaff,
    responses((status = 201, body = StaffMember), (status = 403, body = ProblemBody),
              (status = 404, body = ProblemBody, description = "vendor_not_found"), (status = 409, body = ProblemBody)))]
async fn create_staff(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<CreateStaff>,
) -> ApiResult<(StatusCode, Json<StaffMember>)> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let member = staff::create_staff(&mut tx, ctx.store_id, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// One staff member.
#[utoipa::path(get, path = "/admin/v1/staff/{staff_id}", tag = "store", security(("staff" = [])),
    responses((status = 200, body = StaffMember), (status = 404, body = ProblemBody)))]
async fn get_staff(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<StaffId>,
) -> ApiResult<Json<StaffMember>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let member = staff::get_staff(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(member))
}

/// Change a staff member. Anyone may change their own name, sign-in names and password; a new
/// password, a disabled account or a changed role ends that member's sessions.
#[utoipa::path(patch, path = "/admin/v1/staff/{staff_id}", tag = "store", security(("staff" = [])), request_body = UpdateStaff,
    responses((status = 200, body = StaffMember), (status = 403, body = ProblemBody), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "last_owner or staff_login_taken")))]
async fn update_staff(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<StaffId>,
    ApiJson(input): ApiJson<UpdateStaff>,
) -> ApiResult<Json<StaffMember>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let member = staff::update_staff(&mut tx, ctx.store_id, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    Ok(Json(member))
}

/// Remove a staff member; their sessions end.
#[utoipa::path(delete, path = "/admin/v1/staff/{staff_id}", tag = "store", security(("staff" = [])),
    responses((status = 204), (status = 403, body = ProblemBody), (status = 404, body = ProblemBody),
              (status = 409, body = ProblemBody, description = "last_owner")))]
async fn delete_staff(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<StaffId>,
) -> ApiResult<StatusCode> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    staff::delete_staff(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
struct Revoked {
    revoked: u64,
}

/// End every session of a staff member (a lost device, a departure).
#[utoipa::path(post, path = "/admin/v1/staff/{staff_id}/revoke-sessions", tag = "store", security(("staff" = [])),
    responses((status = 200, body = Revoked), (status = 403, body = ProblemBody), (status = 404, body = ProblemBody)))]
async fn revoke_staff_sessions(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<StaffId>,
) -> ApiResult<Json<Revoked>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let revoked = staff::revoke_sessions(&mut tx, ctx.store_id, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(Revoked { revoked }))
}

/// List the tenant's vendors.
#[utoipa::path(get, path = "/admin/v1/vendors", tag = "store", security(("staff" = [])), params(PageRequest),
    responses((status = 200, body = Page<Vendor>)))]
async fn list_vendors(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> ApiResult<Json<Page<Vendor>>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let list = vendors::list_vendors(&mut tx, Acting::Staff(&ctx), &page).await?;
    tx.commit().await?;
    Ok(Json(list))
}

/// Add a vendor (mall tenants only).
#[utoipa::path(post, path = "/admin/v1/vendors", tag = "store", security(("staff" = [])), request_body = CreateVendor,
    responses((status = 201, body = Vendor), (status = 422, body = ProblemBody, description = "not_a_mall")))]
async fn create_vendor(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<CreateVendor>,
) -> ApiResult<(StatusCode, Json<Vendor>)> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let vendor = vendors::create_vendor(&mut tx, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    db::mirror::refresh_tenant_or_warn(&s.db, ctx.tenant_id).await;
    Ok((StatusCode::CREATED, Json(vendor)))
}

/// One vendor (a vendor's staff see their own).
#[utoipa::path(get, path = "/admin/v1/vendors/{vendor_id}", tag = "store", security(("staff" = [])),
    responses((status = 200, body = Vendor), (status = 404, body = ProblemBody, description = "vendor_not_found")))]
async fn get_vendor(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<VendorId>,
) -> ApiResult<Json<Vendor>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let vendor = vendors::find_vendor(&mut tx, Acting::Staff(&ctx), id).await?;
    tx.commit().await?;
    Ok(Json(vendor))
}

/// Change a vendor: name, status (`suspended` takes its products off sale; its open orders can
/// still be fulfilled), a new commission rate from a day, its registration number, its bank
/// account.
#[utoipa::path(patch, path = "/admin/v1/vendors/{vendor_id}", tag = "store", security(("staff" = [])),
    request_body = UpdateVendor,
    responses((status = 200, body = Vendor), (status = 404, body = ProblemBody, description = "vendor_not_found"),
              (status = 422, body = ProblemBody, description = "validation_failed, not_a_mall")))]
async fn update_vendor(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<VendorId>,
    ApiJson(input): ApiJson<UpdateVendor>,
) -> ApiResult<Json<Vendor>> {
    let mut tx = s.db.begin(ctx.tenant_id).await?;
    let vendor = vendors::update_vendor(&mut tx, Acting::Staff(&ctx), id, input).await?;
    tx.commit().await?;
    db::mirror::refresh_tenant_or_warn(&s.db, ctx.tenant_id).await;
    Ok(Json(vendor))
}

/// The store's commercial disclosures (特定商取引法に基づく表記), drafts included, with the
/// required items still missing.
#[utoipa::path(get, path = "/admin/v1/store/legal-disclosures", tag = "store", security(("staff" = [])),
    responses((status = 200, body = LegalDisclosures), (status = 403, body = ProblemBody)))]
async fn get_disclosures(State(s): State<AppState>, Staff(ctx): Staff) -> ApiResult<Json<LegalDisclosures>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = disclosures::get(&mut tx, ctx.store_id, None, Acting::Staff(&ctx)).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// Replace the store's commercial disclosures. `published: true` shows them on the storefront
/// and needs every required item: each missing one is a field error (`disclosures.<item>`,
/// `required`) and nothing is saved.
#[utoipa::path(put, path = "/admin/v1/store/legal-disclosures", tag = "store", security(("staff" = [])),
    request_body = UpdateDisclosures,
    responses((status = 200, body = LegalDisclosures), (status = 403, body = ProblemBody),
              (status = 422, body = ProblemBody, description = "validation_failed")))]
async fn put_disclosures(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiJson(input): ApiJson<UpdateDisclosures>,
) -> ApiResult<Json<LegalDisclosures>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = disclosures::update(&mut tx, ctx.store_id, None, Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// A mall vendor's own commercial disclosures (the seller of its goods), drafts included. A
/// vendor's staff read their own vendor's.
#[utoipa::path(get, path = "/admin/v1/vendors/{vendor_id}/legal-disclosures", tag = "store", security(("staff" = [])),
    responses((status = 200, body = LegalDisclosures), (status = 404, body = ProblemBody, description = "vendor_not_found"),
              (status = 422, body = ProblemBody, description = "not_a_mall")))]
async fn get_vendor_disclosures(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<VendorId>,
) -> ApiResult<Json<LegalDisclosures>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = disclosures::get(&mut tx, ctx.store_id, Some(id), Acting::Staff(&ctx)).await?;
    tx.commit().await?;
    Ok(Json(d))
}

/// Replace a mall vendor's commercial disclosures (the mall's owners and admins), with the
/// store's rule for publishing.
#[utoipa::path(put, path = "/admin/v1/vendors/{vendor_id}/legal-disclosures", tag = "store", security(("staff" = [])),
    request_body = UpdateDisclosures,
    responses((status = 200, body = LegalDisclosures), (status = 403, body = ProblemBody),
              (status = 404, body = ProblemBody, description = "vendor_not_found"),
              (status = 422, body = ProblemBody, description = "validation_failed, not_a_mall")))]
async fn put_vendor_disclosures(
    State(s): State<AppState>,
    Staff(ctx): Staff,
    ApiPath(id): ApiPath<VendorId>,
    ApiJson(input): ApiJson<UpdateDisclosures>,
) -> ApiResult<Json<LegalDisclosures>> {
    let mut tx = s.db.store(ctx.store_id).await?.begin(ctx.tenant_id).await?;
    let d = disclosures::update(&mut tx, ctx.store_id, Some(id), Acting::Staff(&ctx), input).await?;
    tx.commit().await?;
    Ok(Json(d))
}
