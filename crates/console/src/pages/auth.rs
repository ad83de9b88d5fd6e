//! Sign-in, sign-out and the language switch.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, html};
use tenancy::auth::LoginRequest;

use crate::error::Failure;
use crate::i18n::Lang;
use crate::layout::{csrf, field_error, problem};
use crate::session::{
    LANG_COOKIE, PRE_COOKIE, Posted, PostedSignIn, SESSION_COOKIE, clear_cookie, cookie, random_token, set_cookie,
};
use crate::{BASE, Console};

pub fn routes() -> Router<Console> {
    Router::new()
        .route("/login", get(sign_in_page).post(sign_in))
        .route("/logout", post(sign_out))
        .route("/lang/{lang}", get(switch_language))
}

struct Typed<'a> {
    store: &'a str,
    login: &'a str,
}

fn sign_in_form(l: Lang, pre: &str, typed: Typed<'_>, failed: Option<&Failure>) -> String {
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (l.t("サインイン", "Sign in")) " · Tenpo" }
                link rel="stylesheet" href={ (BASE) "/assets/console.css" };
            }
            body {
                main {
                    section.signin {
                        h1 { (l.t("Tenpo 管理画面にサインイン", "Sign in to the Tenpo console")) }
                        (problem(failed, &["store", "login", "password"]))
                        form method="post" action={ (BASE) "/login" } {
                            (csrf(pre))
                            div {
                                label for="store" { (l.t("ストア", "Store")) }
                                input #store name="store" value=(typed.store) required autocomplete="organization";
                                (field_error(failed, "store"))
                            }
                            div {
                                label for="login" { (l.t("メールアドレス・ログインID・電話番号", "Email, login id or phone")) }
                                input #login name="login" value=(typed.login) required autocomplete="username";
                                (field_error(failed, "login"))
                            }
                            div {
                                label for="password" { (l.t("パスワード", "Password")) }
                                input #password name="password" type="password" required autocomplete="current-password";
                                (field_error(failed, "password"))
                            }
                            button type="submit" { (l.t("サインイン", "Sign in")) }
                        }
                        p.muted {
                            a href={ (BASE) "/lang/" (if l == Lang::Ja { "en" } else { "ja" }) } {
                                (if l == Lang::Ja { "English" } else { "日本語" })
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}

/// The sign-in form, with a fresh pre-session CSRF token when there is none.
async fn sign_in_page(State(state): State<Console>, l: Lang, headers: HeaderMap) -> Response {
    let pre = cookie(&headers, PRE_COOKIE).filter(|p| p.len() >= 32).unwrap_or_else(random_token);
    let page = sign_in_form(l, &pre, Typed { store: "", login: "" }, None);
    ([(header::SET_COOKIE, set_cookie(&state, PRE_COOKIE, &pre, None))], Html(page)).into_response()
}

fn client_ip(state: &Console, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
    if state.settings.trust_forwarded_for {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok());
        if forwarded.is_some() {
            return forwarded;
        }
    }
    peer.map(|p| p.ip())
}

/// Signs in through the API's own sign-in; the token goes into the session cookie.
async fn sign_in(State(state): State<Console>, posted: PostedSignIn) -> Response {
    let PostedSignIn { lang: l, form, headers, peer } = posted;
    let input = LoginRequest {
        store: form.get("store").to_string(),
        login: form.get("login").to_string(),
        password: form.get("password").to_string(),
    };
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let ip = client_ip(&state, &headers, peer);
    match tenancy::auth::login(&state.db, &state.settings.auth, input, ip, ua).await {
        Ok(done) => {
            let age = state.settings.auth.session_ttl.as_secs();
            let mut res = Redirect::to(&format!("{BASE}/")).into_response();
            let h = res.headers_mut();
            for c in [set_cookie(&state, SESSION_COOKIE, &done.token, Some(age)), clear_cookie(&state, PRE_COOKIE)] {
                if let Ok(v) = c.parse() {
                    h.append(header::SET_COOKIE, v);
                }
            }
            res
        }
        Err(e) => {
            let failed = Failure::from(e);
            if !failed.is_form_error() && failed.status != StatusCode::UNAUTHORIZED {
                return failed.into_response();
            }
            let pre = cookie(&headers, PRE_COOKIE).unwrap_or_default();
            let page =
                sign_in_form(l, &pre, Typed { store: form.get("store"), login: form.get("login") }, Some(&failed));
            (failed.status, Html(page)).into_response()
        }
    }
}

/// Ends the session (its row is revoked, as the API's sign-out does).
async fn sign_out(State(state): State<Console>, posted: Posted) -> Response {
    if let Err(e) = tenancy::auth::logout(&state.db, &posted.signed.ctx).await {
        return Failure::from(e).into_response();
    }
    let mut res = Redirect::to(&format!("{BASE}/login")).into_response();
    if let Ok(v) = clear_cookie(&state, SESSION_COOKIE).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// Sets the language and goes back to the page it was chosen on (a console page only).
async fn switch_language(State(state): State<Console>, Path(lang): Path<String>, headers: HeaderMap) -> Response {
    let Some(l) = Lang::parse(&lang) else {
        return Failure::new(StatusCode::NOT_FOUND, "not_found", "no such language").into_response();
    };
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .filter(|p| p.starts_with(BASE) && !p.starts_with(&format!("{BASE}/lang/")))
        .unwrap_or(BASE)
        .to_string();
    let mut res = Redirect::to(&back).into_response();
    let c = format!("{}; Max-Age=31536000", set_cookie(&state, LANG_COOKIE, l.code(), None));
    if let Ok(v) = c.parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}
