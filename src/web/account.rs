//! Signing in and out, registering as a resident, and the language switch.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::session::{LANG_COOKIE, set_cookie};
use super::{
    FieldErrors, Lang, Page, PagePath, PageQuery, Visitor, check_csrf, parse_form, render,
    safe_next, see_other,
};
use crate::app::AppState;
use crate::identity::{ClientAddr, NewResident, Principal, RegistrationError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/register", get(register_page).post(register))
        .route("/lang/{code}", get(switch_language))
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Page,
    next: String,
    login: String,
    errors: FieldErrors,
    /// A message for the whole form (wrong password, too many tries, directory down).
    problem: Option<String>,
}

fn login_form(
    v: &Visitor,
    status: StatusCode,
    next: String,
    login: String,
    problem: Option<String>,
    errors: FieldErrors,
) -> Response {
    let page = Page::new(v, "login", v.lang.t("login-title"));
    render(
        v,
        status,
        &LoginPage {
            page,
            next,
            login,
            errors,
            problem,
        },
    )
}

async fn login_page(v: Visitor, PageQuery(q): PageQuery<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref()).unwrap_or_default();
    login_form(
        &v,
        StatusCode::OK,
        next,
        String::new(),
        None,
        FieldErrors::default(),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Where a person lands after signing in when no page asked for it.
fn home_of(p: &Principal) -> &'static str {
    match p {
        Principal::Resident { .. } => "/my/bookings",
        Principal::Staff { .. } if p.is_clerk() => "/console",
        Principal::Staff { .. } => "/",
    }
}

async fn login(
    State(state): State<AppState>,
    v: Visitor,
    client: ClientAddr,
    body: Bytes,
) -> Response {
    let form: LoginForm = match parse_form(&v, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = check_csrf(&v, &form.csrf) {
        return r.into_response();
    }
    let next = safe_next(Some(&form.next)).unwrap_or_default();
    let login = form.login.trim().to_owned();
    let mut errors = FieldErrors::default();
    if login.is_empty() {
        errors.add("login", v.lang.t("login-error-login-missing"));
    }
    if form.password.is_empty() {
        errors.add("password", v.lang.t("login-error-password-missing"));
    }
    if !errors.is_empty() {
        return login_form(
            &v,
            StatusCode::UNPROCESSABLE_ENTITY,
            next,
            login,
            None,
            errors,
        );
    }
    let principal = match state
        .identity
        .authenticate(&login, &form.password, client)
        .await
    {
        Ok(p) => p,
        Err(e) => {
            let refusal = super::error::identity(v.lang, &e);
            let page = login_form(
                &v,
                refusal.status,
                next,
                login,
                Some(refusal.message.clone()),
                FieldErrors::default(),
            );
            return refusal.mark(page);
        }
    };
    let cookie = match v.sign_in(&state, &principal).await {
        Ok(c) => c,
        Err(e) => return super::unavailable(&v, e),
    };
    let to = if next.is_empty() {
        home_of(&principal).to_owned()
    } else {
        next
    };
    see_other(&v, &to, &[cookie])
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(state): State<AppState>, v: Visitor, body: Bytes) -> Response {
    let form: CsrfForm = match parse_form(&v, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = check_csrf(&v, &form.csrf) {
        return r.into_response();
    }
    let cookie = v.sign_out(&state).await;
    see_other(&v, "/?notice=signed-out", &[cookie])
}

#[derive(askama::Template)]
#[template(path = "register.html")]
struct RegisterPage {
    page: Page,
    next: String,
    name: String,
    email: String,
    errors: FieldErrors,
}

async fn register_page(v: Visitor, PageQuery(q): PageQuery<NextQuery>) -> Response {
    let page = Page::new(&v, "register", v.lang.t("register-title"));
    render(
        &v,
        StatusCode::OK,
        &RegisterPage {
            page,
            next: safe_next(q.next.as_deref()).unwrap_or_default(),
            name: String::new(),
            email: String::new(),
            errors: FieldErrors::default(),
        },
    )
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
    #[serde(default)]
    next: String,
}

async fn register(
    State(state): State<AppState>,
    v: Visitor,
    client: ClientAddr,
    body: Bytes,
) -> Response {
    let form: RegisterForm = match parse_form(&v, &body) {
        Ok(f) => f,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = check_csrf(&v, &form.csrf) {
        return r.into_response();
    }
    let next = safe_next(Some(&form.next)).unwrap_or_default();
    let t = |k: &str| v.lang.t(k);
    let mut errors = FieldErrors::default();
    let name = form.name.trim();
    if !crate::limits::fits(name, crate::limits::NAME_CHARS) {
        errors.add("name", t("register-error-name"));
    }
    let email = form.email.trim();
    if !email.contains('@') || email.len() > 254 {
        errors.add("email", t("register-error-email"));
    }
    let length = form.password.chars().count();
    if !(10..=1024).contains(&length) {
        errors.add("password", t("register-error-password"));
    } else if form.password != form.password_again {
        errors.add("password_again", t("register-error-password-again"));
    }
    let again = |errors: FieldErrors, status| {
        let page = Page::new(&v, "register", v.lang.t("register-title"));
        render(
            &v,
            status,
            &RegisterPage {
                page,
                next: next.clone(),
                name: name.to_owned(),
                email: email.to_owned(),
                errors,
            },
        )
    };
    if !errors.is_empty() {
        return again(errors, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Mails to the resident are written in the language they registered in.
    let new = NewResident {
        email,
        password: &form.password,
        name,
        lang: v.lang,
    };
    let principal = match state.identity.register(new, client).await {
        Ok(r) => Principal::Resident {
            id: r.id,
            email: r.email,
            name: r.name,
        },
        Err(RegistrationError::Exists) => {
            let mut errors = FieldErrors::default();
            errors.add("email", t("register-error-exists"));
            return again(errors, StatusCode::CONFLICT);
        }
        Err(RegistrationError::Invalid(message)) => {
            // The checks above mirror the store's; this names what still failed.
            let field = if message.starts_with("email") {
                "email"
            } else if message.starts_with("password") {
                "password"
            } else {
                "name"
            };
            let mut errors = FieldErrors::default();
            errors.add(field, t(&format!("register-error-{field}")));
            return again(errors, StatusCode::UNPROCESSABLE_ENTITY);
        }
        Err(e @ (RegistrationError::TooMany { .. } | RegistrationError::Busy { .. })) => {
            // Said above the form, which keeps what was typed (not the passwords).
            let Some(refusal) = super::error::registration_wait(v.lang, &e) else {
                return super::unavailable(&v, e);
            };
            let mut errors = FieldErrors::default();
            errors.add("email", refusal.message.clone());
            return refusal.mark(again(errors, refusal.status));
        }
        Err(RegistrationError::Unavailable(e)) => return super::unavailable(&v, e),
    };
    let cookie = match v.sign_in(&state, &principal).await {
        Ok(c) => c,
        Err(e) => return super::unavailable(&v, e),
    };
    let to = if next.is_empty() {
        "/?notice=registered".to_owned()
    } else {
        next
    };
    see_other(&v, &to, &[cookie])
}

/// Sets the language cookie and goes back to the page. A GET, so the switch is a plain link.
async fn switch_language(
    State(state): State<AppState>,
    v: Visitor,
    PagePath(code): PagePath<String>,
    PageQuery(q): PageQuery<NextQuery>,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    // A signed-in resident's mails follow the language they switch to.
    if let Some(Principal::Resident { id, .. }) = &v.user
        && let Err(e) = state
            .bookings
            .sessions()
            .set_language(id, lang.code())
            .await
    {
        tracing::warn!(error = %e, "storing a resident's language failed");
    }
    let cookie = set_cookie(LANG_COOKIE, lang.code(), Some(60 * 60 * 24 * 365), v.secure);
    let to = safe_next(q.next.as_deref()).unwrap_or_else(|| "/".to_owned());
    see_other(&v, &to, &[cookie])
}
