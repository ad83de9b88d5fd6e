//! The admin console (docs/CONSOLE.md): pages driven in a real headless Chromium, and its
//! sessions and CSRF checked over plain HTTP.

mod carrier;
mod customers;
mod mall;
mod media;
mod orders;
mod printing;
mod products;
mod security;
mod settings;
mod staff;
mod webhooks;

use std::collections::BTreeMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::support::TestApp;

/// A console visitor over plain HTTP: keeps the cookies it is given, follows no redirects.
pub struct Visitor<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    last_sign_in: Option<(String, String, String)>,
}

pub struct Seen {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Visitor { app, client, cookies: BTreeMap::new(), last_sign_in: None }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn seen(&mut self, res: reqwest::Response) -> Seen {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let set_cookies: Vec<String> =
            headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect();
        for c in &set_cookies {
            let first = c.split(';').next().unwrap();
            let (k, v) = first.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let location = headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = res.text().await.unwrap();
        Seen { status, location, set_cookies, headers, body }
    }

    pub async fn get(&mut self, path: &str) -> Seen {
        let res = self.client.get(self.app.url(path)).header(COOKIE, self.cookie_header()).send().await.unwrap();
        self.seen(res).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Seen {
        let res =
            self.client.post(self.app.url(path)).header(COOKIE, self.cookie_header()).form(form).send().await.unwrap();
        self.seen(res).await
    }

    /// The Set-Cookie of a fresh sign-in's session cookie (the visitor is signed in again).
    pub async fn set_cookie_of_sign_in(&mut self) -> String {
        let store = self.last_sign_in.clone().expect("signed in before");
        let page = self.get("/console/login").await;
        let csrf = csrf_in(&page.body);
        let done = self
            .post(
                "/console/login",
                &[("_csrf", &csrf), ("store", &store.0), ("login", &store.1), ("password", &store.2)],
            )
            .await;
        done.set_cookies.into_iter().find(|c| c.starts_with("tenpo_console=")).expect("the session cookie")
    }

    /// Signs in through the console's form; answers the session cookie's token.
    pub async fn sign_in(&mut self, store: &str, login: &str, password: &str) -> String {
        let page = self.get("/console/login").await;
        let csrf = csrf_in(&page.body);
        let done = self
            .post("/console/login", &[("_csrf", &csrf), ("store", store), ("login", login), ("password", password)])
            .await;
        assert_eq!(done.status, 303, "sign-in: {}", done.body);
        self.last_sign_in = Some((store.to_string(), login.to_string(), password.to_string()));
        self.cookies.get("tenpo_console").cloned().expect("the session cookie")
    }
}

/// The CSRF token of the first form of a page.
pub fn csrf_in(html: &str) -> String {
    let at =
        html.find("name=\"_csrf\" value=\"").expect("a form with its CSRF token") + "name=\"_csrf\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}
