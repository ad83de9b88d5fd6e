//! Staff and their roles: the store's members (a vendor's staff see their vendor's), a new
//! member, a member's role and status, ending a member's sessions. The admin API's use cases
//! (`tenancy::staff`), so who may manage whom (an admin manages staff, an owner anyone; the
//! last active owner stays) is decided there, with the same messages.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kernel::access::{Acting, Permission, Role};
use kernel::{FieldError, PageRequest, StaffId, VendorId};
use maud::html;
use serde::Deserialize;
use tenancy::staff::{self, CreateStaff, StaffMember, StaffStatus, UpdateStaff};

use super::{parse_id, query};
use crate::error::Failure;
use crate::form::Fields;
use crate::i18n::Lang;
use crate::layout::{self, csrf, field_error, notice, problem};
use crate::session::{Posted, Signed};
use crate::{BASE, Console};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/staff", get(list).post(create))
        .route("/staff/{staff_id}", post(change))
        .route("/staff/{staff_id}/revoke-sessions", post(revoke))
}

const ROLES: [Role; 3] = [Role::Owner, Role::Admin, Role::Staff];

fn role_label(l: Lang, r: Role) -> &'static str {
    match r {
        Role::Owner => l.t("オーナー", "Owner"),
        Role::Admin => l.t("管理者", "Admin"),
        Role::Staff => l.t("スタッフ", "Staff"),
    }
}

fn role_of(field: &str, raw: &str) -> Result<Role, FieldError> {
    match raw {
        "owner" => Ok(Role::Owner),
        "admin" => Ok(Role::Admin),
        "staff" => Ok(Role::Staff),
        _ => Err(FieldError::new(field, "invalid", "must be owner, admin or staff")),
    }
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

/// Which form of the page failed.
#[derive(Clone, Copy, PartialEq)]
enum Form {
    New,
    Member(StaffId),
}

async fn list(State(state): State<Console>, s: Signed, RawQuery(raw): RawQuery) -> Result<Response, Failure> {
    let done: Done = query(raw.as_deref()).unwrap_or_default();
    render(&state, &s, done.done.as_deref(), None, &Fields::default()).await
}

async fn render(
    state: &Console,
    s: &Signed,
    done: Option<&str>,
    failed: Option<(Form, &Failure)>,
    typed: &Fields,
) -> Result<Response, Failure> {
    let l = s.lang;
    let by = Acting::Staff(&s.ctx);
    let mut tx = state.db.begin(s.ctx.tenant_id).await?;
    let members: Vec<StaffMember> =
        staff::list_staff(&mut tx, s.ctx.store_id, by, &PageRequest { limit: Some(200), cursor: None }).await?.items;
    let vendors = if s.ctx.vendor_id.is_none() && tenancy::vendors::house_vendor(&mut tx).await?.is_none() {
        let page = PageRequest { limit: Some(200), cursor: None };
        Some(tenancy::vendors::list_vendors(&mut tx, by, &page).await?.items)
    } else {
        None
    };
    tx.commit().await?;
    let err = |form: Form| failed.filter(|(f, _)| *f == form).map(|(_, e)| e);
    let can_manage = s.ctx.allows(Permission::StaffManage);
    let token = s.csrf();
    let vendor_name = |id: Option<VendorId>| {
        id.and_then(|id| vendors.as_ref()?.iter().find(|v| v.id == id).map(|v| v.name.clone())).unwrap_or_default()
    };
    let body = html! {
        h1 { (l.t("スタッフ", "Staff")) }
        (notice(l, done))
        div.table-wrap {
            table.responsive.staff {
                thead { tr {
                    th { (l.t("氏名", "Name")) } th { (l.t("サインイン", "Sign-in")) } th { (l.t("権限", "Role")) }
                    th { (l.t("状態", "Status")) } @if vendors.is_some() { th { (l.t("出店者", "Vendor")) } } th {}
                } }
                tbody {
                    @for m in &members {
                        @let e = err(Form::Member(m.id));
                        @let manageable = can_manage && s.ctx.role.can_manage(m.role) || m.id == s.ctx.staff_id;
                        tr data-staff=(m.email.clone().or(m.login_id.clone()).unwrap_or_default()) {
                            td data-label=(l.t("氏名", "Name")) { (m.name) @if m.id == s.ctx.staff_id { " " span.muted { (l.t("（自分）", "(you)")) } } }
                            td data-label=(l.t("サインイン", "Sign-in")) { (m.email.clone().or(m.login_id.clone()).or(m.phone.clone()).unwrap_or_default()) }
                            @if manageable && can_manage {
                                td colspan="2" data-label=(l.t("権限・状態", "Role · status")) {
                                    form.member method="post" action={ (BASE) "/staff/" (m.id) } {
                                        (csrf(&token))
                                        (problem(e, &["role", "status"]))
                                        select name="role" aria-label=(l.t("権限", "Role")) {
                                            @for r in ROLES { option value=(r.as_str()) selected[r == m.role] { (role_label(l, r)) } }
                                        }
                                        (field_error(e, "role"))
                                        select name="status" aria-label=(l.t("状態", "Status")) {
                                            option value="active" { (l.t("有効", "Active")) }
                                            option value="disabled" selected[m.status == StaffStatus::Disabled] { (l.t("停止", "Disabled")) }
                                        }
                                        button.secondary type="submit" { (l.t("変更", "Change")) }
                                    }
                                }
                            } @else {
                                td data-label=(l.t("権限", "Role")) { (role_label(l, m.role)) }
                                td data-label=(l.t("状態", "Status")) { (if m.status == StaffStatus::Disabled { l.t("停止", "Disabled") } else { l.t("有効", "Active") }) }
                            }
                            @if vendors.is_some() { td data-label=(l.t("出店者", "Vendor")) { (vendor_name(m.vendor_id)) } }
                            td {
                                @if manageable {
                                    form method="post" action={ (BASE) "/staff/" (m.id) "/revoke-sessions" } {
                                        (csrf(&token))
                                        button.link type="submit" data-confirm=(l.t("このスタッフのすべてのセッションを終了しますか？", "End all of this member's sessions?")) { (l.t("セッション終了", "End sessions")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if can_manage {
            @let e = err(Form::New);
            section.panel.new-staff {
                h2 { (l.t("スタッフを追加", "Add a member")) }
                (problem(e, &["name", "email", "login_id", "phone", "password", "role", "vendor_id"]))
                form.new-staff method="post" action={ (BASE) "/staff" } {
                    (csrf(&token))
                    @for (name, label, kind) in [("name", l.t("氏名", "Name"), "text"), ("email", l.t("メールアドレス", "Email"), "email"), ("login_id", l.t("ログインID", "Login id"), "text"), ("phone", l.t("電話番号", "Phone"), "tel")] {
                        div {
                            label for={ "new-" (name) } { (label) }
                            input id={ "new-" (name) } name=(name) type=(kind) value=(typed.get(name));
                            (field_error(e, name))
                        }
                    }
                    div {
                        label for="new-password" { (l.t("初期パスワード（10文字以上）", "Password (10+ characters)")) }
                        input #new-password name="password" type="password" autocomplete="new-password";
                        (field_error(e, "password"))
                    }
                    div {
                        label for="new-role" { (l.t("権限", "Role")) }
                        select #new-role name="role" {
                            @for r in ROLES.iter().rev() { option value=(r.as_str()) selected[typed.get("role") == r.as_str()] { (role_label(l, *r)) } }
                        }
                        (field_error(e, "role"))
                    }
                    @if let Some(vendors) = &vendors {
                        div {
                            label for="new-vendor" { (l.t("出店者（モールのスタッフは空欄）", "Vendor (empty: the mall's)")) }
                            select #new-vendor name="vendor_id" {
                                option value="" { "—" }
                                @for v in vendors.iter().filter(|v| !v.is_house) { option value=(v.id) selected[typed.get("vendor_id") == v.id.to_string()] { (v.name) } }
                            }
                            (field_error(e, "vendor_id"))
                        }
                    }
                    button type="submit" { (l.t("追加", "Add")) }
                }
            }
        }
    };
    let status = failed.map(|(_, f)| f.status).unwrap_or(StatusCode::OK);
    Ok(layout::page_with_status(s, "/staff", l.t("スタッフ", "Staff"), body, status))
}

/// Runs one form in a transaction: back to the list with a notice, or the list again with the
/// API's messages at the form and nothing changed.
async fn act<F>(state: &Console, posted: Posted, form: Form, done: &str, run: F) -> Result<Response, Failure>
where
    F: AsyncFnOnce(&mut db::Tx, &Signed, &Fields) -> Result<(), Failure>,
{
    let Posted { signed: s, form: fields } = posted;
    let mut tx = state.db.begin(s.ctx.tenant_id).await?;
    match run(&mut tx, &s, &fields).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("{BASE}/staff?done={done}")).into_response())
        }
        Err(f) if f.is_form_error() => {
            tx.rollback().await?;
            render(state, &s, None, Some((form, &f)), &fields).await
        }
        Err(f) => Err(f),
    }
}

async fn create(State(state): State<Console>, posted: Posted) -> Result<Response, Failure> {
    act(&state, posted, Form::New, "created", async |tx, s, f| {
        let role = role_of("role", f.get("role")).map_err(|e| Failure::invalid(vec![e]))?;
        let vendor_id = match f.opt("vendor_id") {
            Some(raw) => Some(Some(raw.parse::<VendorId>().map_err(|_| {
                Failure::invalid(vec![FieldError::new(
                    "vendor_id",
                    "invalid",
                    "must be a UUID (as returned by the API)",
                )])
            })?)),
            None => None,
        };
        let input = CreateStaff {
            name: f.get("name").to_string(),
            email: f.opt("email"),
            login_id: f.opt("login_id"),
            phone: f.opt("phone"),
            password: f.get("password").to_string(),
            role,
            vendor_id,
        };
        staff::create_staff(tx, s.ctx.store_id, Acting::Staff(&s.ctx), input).await?;
        Ok(())
    })
    .await
}

async fn change(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let id: StaffId = parse_id(&id)?;
    act(&state, posted, Form::Member(id), "saved", async |tx, s, f| {
        let role = role_of("role", f.get("role")).map_err(|e| Failure::invalid(vec![e]))?;
        let status = match f.get("status") {
            "disabled" => StaffStatus::Disabled,
            _ => StaffStatus::Active,
        };
        let by = Acting::Staff(&s.ctx);
        let current = staff::get_staff(tx, s.ctx.store_id, by, id).await?;
        // send only what changed: changing nothing is no request to manage the member's role
        let input = UpdateStaff {
            role: (role != current.role).then_some(role),
            status: (status != current.status).then_some(status),
            ..Default::default()
        };
        staff::update_staff(tx, s.ctx.store_id, by, id, input).await?;
        Ok(())
    })
    .await
}

async fn revoke(State(state): State<Console>, Path(id): Path<String>, posted: Posted) -> Result<Response, Failure> {
    let id: StaffId = parse_id(&id)?;
    act(&state, posted, Form::Member(id), "revoked", async |tx, s, _| {
        staff::revoke_sessions(tx, s.ctx.store_id, Acting::Staff(&s.ctx), id).await?;
        Ok(())
    })
    .await
}
