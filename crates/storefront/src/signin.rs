//! Signing up, in and out, and the forgotten password, as pages: each form posts to the very
//! function the JSON API's account routes call (`customers::account`), with the same
//! settings, throttle and client address, so no rule is written twice. The token the API
//! would answer is kept in the `tenpo_shopper` cookie (HttpOnly, SameSite=Lax, the store's
//! path) beside the cart's; signing in gives the cart in the cookie to the account (the API's
//! `PUT carts/{id}/customer`).
//!
//! Where a form leads afterwards is a fixed word (`next=checkout`), never a URL from the query.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use checkout::CheckoutError;
use console::error::Failure;
use console::form::Fields;
use customers::account::{self, EmailOnly, ResetPassword, SignIn, SignUp, SignedIn, VerifyEmail};
use http_api::AppState;
use http_api::extract::ClientIp;
use http_api::shop::account_settings;
use kernel::CustomerId;
use maud::{Markup, html};
use serde::Deserialize;

use crate::layout::{self, input};
use crate::pages::encode;
use crate::shop::Shop;

#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    /// `checkout`: back to the checkout afterwards; else the account page.
    next: Option<String>,
    /// The email typed on the step before (a code was sent to it).
    email: Option<String>,
    /// What the step before did, in fixed words.
    done: Option<String>,
}

impl AccountQuery {
    fn next(&self) -> &str {
        if self.next.as_deref() == Some("checkout") { "checkout" } else { "" }
    }
}

/// The form's `next` (a fixed word).
fn next_of(f: &Fields) -> &'static str {
    if f.get("next") == "checkout" { "checkout" } else { "" }
}

/// The 6-digit code from the mail.
fn code_field(failure: Option<&Failure>) -> Markup {
    html! {
        div.field {
            label for="code" { "確認コード" }
            input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="20";
            (console::layout::field_error(failure, "code"))
        }
    }
}

/// Where a signed-in shopper goes: the checkout, or their account.
fn next_path(shop: &Shop, next: &str) -> String {
    if next == "checkout" { format!("{}/checkout", shop.base()) } else { format!("{}/account", shop.base()) }
}

/// `?next=...&email=...` for the next step's link.
fn carry(next: &str, email: &str) -> String {
    let mut q = format!("?email={}", encode(email));
    if next == "checkout" {
        q.push_str("&next=checkout");
    }
    q
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())
}

pub fn with_cookies(mut res: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The cart in the cookie becomes the account's (the API's `PUT carts/{id}/customer`).
/// `false` when it cannot: it was ordered, is gone, or is another account's.
pub async fn claim_cart(s: &AppState, shop: &Shop, headers: &HeaderMap, customer: CustomerId) -> Result<bool, Failure> {
    let Some(key) = shop.cart(headers) else { return Ok(true) };
    let mut tx = shop.begin(s).await?;
    match checkout::cart::bind_customer(&mut tx, shop.store_id, &key, customer).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(true)
        }
        Err(CheckoutError::CartNotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Signed in: the cookie keeps the token for the session's life, the cart joins the account.
async fn signed_in(s: &AppState, shop: &Shop, headers: &HeaderMap, signed: SignedIn, next: &str) -> Response {
    let mut cookies = Vec::new();
    match claim_cart(s, shop, headers, signed.customer_id).await {
        Ok(true) => {}
        Ok(false) => cookies.push(shop.forget_cart()),
        Err(f) => return layout::failure_page(None, &f),
    }
    let secs = (signed.expires_at - chrono::Utc::now()).num_seconds().max(0) as u64;
    cookies.push(shop.keep_shopper(&signed.token, secs));
    with_cookies(Redirect::to(&next_path(shop, next)).into_response(), &cookies)
}

/// The refusal above a form: in Japanese for what a shopper meets, with the API's own words.
fn refusal(f: Option<&Failure>, shown: &[&str]) -> Markup {
    let said = f.and_then(|f| match f.code {
        "invalid_credentials" => Some("メールアドレスまたはパスワードが正しくありません。"),
        "email_not_verified" => {
            Some("メールアドレスの確認がまだ済んでいません。お送りした確認コードを入力してください。")
        }
        "account_exists" => Some("このメールアドレスのアカウントはすでにあります。ログインしてください。"),
        "invalid_code" => Some("確認コードが正しくないか、有効期限が切れています。"),
        _ => None,
    });
    let throttled = f.filter(|f| f.code == "too_many_attempts").map(|f| wait_text(f.retry_after));
    html! {
        @if let Some(text) = said { p.problem-ja role="alert" { (text) } }
        @if let Some(text) = throttled { p.problem-ja #throttled role="alert" { (text) } }
        (console::layout::problem(f, shown))
    }
}

fn status(f: Option<&Failure>) -> StatusCode {
    f.map(|f| f.status).unwrap_or(StatusCode::OK)
}

/// How long a throttled shopper waits, honestly: the lockout's own length, rounded up.
fn wait_text(retry_after: Option<u64>) -> String {
    match retry_after {
        Some(secs) if secs >= 60 => {
            format!("試行回数が多すぎます。約{}分後にもう一度お試しください。", secs.div_ceil(60))
        }
        Some(secs) => format!("試行回数が多すぎます。{secs}秒後にもう一度お試しください。"),
        None => "試行回数が多すぎます。しばらくしてからもう一度お試しください。".to_string(),
    }
}

/// A form page with the refusal it shows, if any: its status and, for a throttled attempt, the
/// API's `Retry-After` header (the seconds until the lockout passes).
async fn form_page(s: &AppState, shop: &Shop, title: &str, failure: Option<&Failure>, body: Markup) -> Response {
    let mut res = shop.page(s, title, status(failure), body).await;
    if let Some(secs) = failure.and_then(|f| f.retry_after) {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
    }
    res
}

// ---- sign in ----

pub async fn sign_in_form(State(s): State<AppState>, shop: Shop, Query(q): Query<AccountQuery>) -> Response {
    let f = Fields::from_pairs(vec![("email".into(), q.email.clone().unwrap_or_default())]);
    sign_in_page(&s, &shop, &f, q.next(), q.done.as_deref(), None).await
}

async fn sign_in_page(
    s: &AppState,
    shop: &Shop,
    f: &Fields,
    next: &str,
    done: Option<&str>,
    failure: Option<&Failure>,
) -> Response {
    let base = shop.base();
    let q = carry(next, f.get("email"));
    let body = html! {
        h1 { "ログイン" }
        @match done {
            Some("reset") => p.notice role="status" { "パスワードを変更しました。新しいパスワードでログインしてください。" },
            Some("signed_out") => p.notice role="status" { "ログアウトしました。" },
            _ => {}
        }
        (refusal(failure, &["email", "password"]))
        @if failure.is_some_and(|f| f.code == "email_not_verified") {
            p { a #to-verify href={ (base) "/account/verify" (q) } { "確認コードを入力する" } }
        }
        form.account #sign-in method="post" action={ (base) "/account/signin" } novalidate {
            input type="hidden" name="next" value=(next);
            (input("email", "メールアドレス", "email", f.get("email"), "email", failure))
            (input("password", "パスワード", "password", "", "current-password", failure))
            div.actions { button.primary type="submit" { "ログイン" } }
        }
        p { a #to-reset href={ (base) "/account/password-reset" (q) } { "パスワードをお忘れの方" } }
        p { "はじめての方は " a #to-sign-up href={ (base) "/account/signup" (q) } { "アカウントを作成" } }
        @if next == "checkout" {
            p { a #as-guest href={ (base) "/checkout" } { "ログインせずに購入する（ゲスト購入）" } }
        }
    };
    form_page(s, shop, "ログイン", failure, body).await
}

pub async fn sign_in(
    State(s): State<AppState>,
    shop: Shop,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let next = next_of(&f);
    let input = SignIn { email: f.get("email").to_string(), password: f.get("password").to_string() };
    let done = async {
        let db = s.db.store(shop.store_id).await?;
        let settings = account_settings(&s);
        Ok::<_, Failure>(
            account::sign_in(&db, shop.tenant_id, shop.store_id, &settings, input, ip, user_agent(&headers)).await?,
        )
    }
    .await;
    match done {
        Ok(signed) => signed_in(&s, &shop, &headers, signed, next).await,
        Err(e) => sign_in_page(&s, &shop, &f, next, None, Some(&e)).await,
    }
}

// ---- sign up and the email's code ----

pub async fn sign_up_form(State(s): State<AppState>, shop: Shop, Query(q): Query<AccountQuery>) -> Response {
    let f = Fields::from_pairs(vec![("email".into(), q.email.clone().unwrap_or_default())]);
    sign_up_page(&s, &shop, &f, q.next(), None).await
}

async fn sign_up_page(s: &AppState, shop: &Shop, f: &Fields, next: &str, failure: Option<&Failure>) -> Response {
    let base = shop.base();
    let body = html! {
        h1 { "アカウントを作成" }
        (refusal(failure, &["email", "password", "name", "name_kana"]))
        form.account #sign-up method="post" action={ (base) "/account/signup" } novalidate {
            input type="hidden" name="next" value=(next);
            (input("email", "メールアドレス", "email", f.get("email"), "email", failure))
            (input("password", "パスワード（10文字以上）", "password", "", "new-password", failure))
            (input("name", "お名前", "text", f.get("name"), "name", failure))
            (input("name_kana", "お名前（フリガナ）", "text", f.get("name_kana"), "off", failure))
            p.muted { "ご登録のメールアドレスに確認コードをお送りします。" }
            div.actions { button.primary type="submit" { "登録する" } }
        }
        p { "アカウントをお持ちの方は " a href={ (base) "/account/signin" (carry(next, f.get("email"))) } { "ログイン" } }
    };
    form_page(s, shop, "アカウントを作成", failure, body).await
}

pub async fn sign_up(State(s): State<AppState>, shop: Shop, body: Bytes) -> Response {
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let next = next_of(&f);
    let input = SignUp {
        email: f.get("email").to_string(),
        password: f.get("password").to_string(),
        name: f.opt("name"),
        name_kana: f.opt("name_kana"),
    };
    let done = async {
        let mut tx = shop.begin(&s).await?;
        let up = account::sign_up(&mut tx, shop.store_id, input).await?;
        tx.commit().await?;
        Ok::<_, Failure>(up)
    }
    .await;
    match done {
        Ok(up) => Redirect::to(&format!("{}/account/verify{}", shop.base(), carry(next, &up.email))).into_response(),
        Err(e) => sign_up_page(&s, &shop, &f, next, Some(&e)).await,
    }
}

pub async fn verify_form(State(s): State<AppState>, shop: Shop, Query(q): Query<AccountQuery>) -> Response {
    let f = Fields::from_pairs(vec![("email".into(), q.email.clone().unwrap_or_default())]);
    verify_page(&s, &shop, &f, q.next(), q.done.as_deref(), None).await
}

async fn verify_page(
    s: &AppState,
    shop: &Shop,
    f: &Fields,
    next: &str,
    done: Option<&str>,
    failure: Option<&Failure>,
) -> Response {
    let base = shop.base();
    let body = html! {
        h1 { "メールアドレスの確認" }
        @if done == Some("resent") {
            p.notice role="status" { "確認コードを再送しました（1分に1回まで）。" }
        }
        p { "メールでお送りした6桁の確認コードを入力してください（有効期限30分）。" }
        (refusal(failure, &["email", "code"]))
        form.account #verify method="post" action={ (base) "/account/verify" } novalidate {
            input type="hidden" name="next" value=(next);
            (input("email", "メールアドレス", "email", f.get("email"), "email", failure))
            (code_field(failure))
            div.actions { button.primary type="submit" { "確認してログイン" } }
        }
        form.inline method="post" action={ (base) "/account/verify/resend" } {
            input type="hidden" name="next" value=(next);
            input type="hidden" name="email" value=(f.get("email"));
            button.link type="submit" { "確認コードを再送する" }
        }
    };
    form_page(s, shop, "メールアドレスの確認", failure, body).await
}

pub async fn verify(
    State(s): State<AppState>,
    shop: Shop,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let next = next_of(&f);
    let input = VerifyEmail { email: f.get("email").to_string(), code: f.get("code").to_string() };
    let done = async {
        let db = s.db.store(shop.store_id).await?;
        let settings = account_settings(&s);
        Ok::<_, Failure>(
            account::verify_email(&db, shop.tenant_id, shop.store_id, &settings, input, ip, user_agent(&headers))
                .await?,
        )
    }
    .await;
    match done {
        Ok(signed) => signed_in(&s, &shop, &headers, signed, next).await,
        Err(e) => verify_page(&s, &shop, &f, next, None, Some(&e)).await,
    }
}

pub async fn resend(State(s): State<AppState>, shop: Shop, body: Bytes) -> Response {
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let next = next_of(&f);
    let done = async {
        let mut tx = shop.begin(&s).await?;
        account::resend_verification(&mut tx, shop.store_id, EmailOnly { email: f.get("email").to_string() }).await?;
        tx.commit().await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => {
            Redirect::to(&format!("{}/account/verify{}&done=resent", shop.base(), carry(next, f.get("email").trim())))
                .into_response()
        }
        Err(e) => verify_page(&s, &shop, &f, next, None, Some(&e)).await,
    }
}

// ---- sign out ----

/// Ends the session (the API's sign-out) and forgets the token and the cart (the account's).
pub async fn sign_out(State(s): State<AppState>, shop: Shop, headers: HeaderMap) -> Response {
    let done = async {
        if let Some(ctx) = shop.shopper(&s, &headers).await? {
            let mut tx = shop.begin(&s).await?;
            account::sign_out(&mut tx, &ctx).await?;
            tx.commit().await?;
        }
        Ok::<_, Failure>(())
    }
    .await;
    if let Err(f) = done {
        return layout::failure_page(None, &f);
    }
    let to = format!("{}/account/signin?done=signed_out", shop.base());
    with_cookies(Redirect::to(&to).into_response(), &[shop.forget_shopper(), shop.forget_cart()])
}

// ---- the forgotten password ----

pub async fn reset_form(State(s): State<AppState>, shop: Shop, Query(q): Query<AccountQuery>) -> Response {
    let f = Fields::from_pairs(vec![("email".into(), q.email.clone().unwrap_or_default())]);
    reset_page(&s, &shop, &f, None).await
}

async fn reset_page(s: &AppState, shop: &Shop, f: &Fields, failure: Option<&Failure>) -> Response {
    let base = shop.base();
    let body = html! {
        h1 { "パスワードの再設定" }
        p { "ご登録のメールアドレスに、パスワード再設定用の確認コードをお送りします。" }
        (refusal(failure, &["email"]))
        form.account #reset method="post" action={ (base) "/account/password-reset" } novalidate {
            (input("email", "メールアドレス", "email", f.get("email"), "email", failure))
            div.actions { button.primary type="submit" { "確認コードを送る" } }
        }
    };
    form_page(s, shop, "パスワードの再設定", failure, body).await
}

/// Sends a reset code (answers the same whatever the email, as the API does).
pub async fn request_reset(State(s): State<AppState>, shop: Shop, body: Bytes) -> Response {
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let done = async {
        let mut tx = shop.begin(&s).await?;
        account::request_password_reset(&mut tx, shop.store_id, EmailOnly { email: f.get("email").to_string() })
            .await?;
        tx.commit().await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => {
            Redirect::to(&format!("{}/account/password-reset/confirm{}", shop.base(), carry("", f.get("email").trim())))
                .into_response()
        }
        Err(e) => reset_page(&s, &shop, &f, Some(&e)).await,
    }
}

pub async fn reset_confirm_form(State(s): State<AppState>, shop: Shop, Query(q): Query<AccountQuery>) -> Response {
    let f = Fields::from_pairs(vec![("email".into(), q.email.clone().unwrap_or_default())]);
    reset_confirm_page(&s, &shop, &f, None).await
}

async fn reset_confirm_page(s: &AppState, shop: &Shop, f: &Fields, failure: Option<&Failure>) -> Response {
    let base = shop.base();
    let body = html! {
        h1 { "新しいパスワードの設定" }
        p { "メールでお送りした確認コードと、新しいパスワードを入力してください。" }
        (refusal(failure, &["email", "code", "password"]))
        form.account #reset-confirm method="post" action={ (base) "/account/password-reset/confirm" } novalidate {
            (input("email", "メールアドレス", "email", f.get("email"), "email", failure))
            (code_field(failure))
            (input("password", "新しいパスワード（10文字以上）", "password", "", "new-password", failure))
            div.actions { button.primary type="submit" { "パスワードを変更する" } }
        }
    };
    form_page(s, shop, "新しいパスワードの設定", failure, body).await
}

/// Sets the new password (every session of the account ends, as in the API), then to sign-in.
pub async fn reset_confirm(State(s): State<AppState>, shop: Shop, ClientIp(ip): ClientIp, body: Bytes) -> Response {
    let f = match Fields::parse(&body) {
        Ok(f) => f,
        Err(e) => return layout::failure_page(None, &e),
    };
    let input = ResetPassword {
        email: f.get("email").to_string(),
        code: f.get("code").to_string(),
        password: f.get("password").to_string(),
    };
    let done = async {
        let db = s.db.store(shop.store_id).await?;
        account::reset_password(&db, shop.tenant_id, shop.store_id, &account_settings(&s), input, ip).await?;
        Ok::<_, Failure>(())
    }
    .await;
    match done {
        Ok(()) => {
            let to = format!("{}/account/signin{}&done=reset", shop.base(), carry("", f.get("email").trim()));
            with_cookies(Redirect::to(&to).into_response(), &[shop.forget_shopper()])
        }
        Err(e) => reset_confirm_page(&s, &shop, &f, Some(&e)).await,
    }
}
