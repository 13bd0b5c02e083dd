//! Every staff member's calendar links: each bookable room's CalDAV collection, its public
//! feed (webcal and https), and whether they follow it (followed rooms show up in their
//! calendar apps' lists, RFC 4791 section 6.2 calendar-home-set).

use axum::extract::State;
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{NoticeQuery, Posted, Staff, StaffForm, not_found, notice_text, service_page};
use crate::app::AppState;
use crate::calendar::Calendars;
use crate::identity::Principal;
use crate::web::{
    Page, PageError, PagePath, PageQuery, Visitor, error_page, render, see_other, sign_in_first,
    unavailable, urlencode,
};

pub struct LinkRow {
    pub id: String,
    pub name: String,
    pub building: String,
    pub caldav: String,
    pub webcal: String,
    pub feed: String,
    pub following: bool,
}

#[derive(askama::Template)]
#[template(path = "console/calendars.html")]
struct LinksPage {
    page: Page,
    notice: Option<String>,
    problem: Option<String>,
    login: String,
    dav: String,
    well_known: String,
    rows: Vec<LinkRow>,
}

/// This site's scheme and host as the browser reached it (through a proxy, as it says).
fn site(v: &Visitor, headers: &HeaderMap) -> (String, String) {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(HOST))
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split(',').next())
        .map(str::trim)
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost")
        .to_owned();
    let scheme = if v.secure { "https" } else { "http" };
    (scheme.to_owned(), host)
}

pub(super) async fn calendar_links(
    State(state): State<AppState>,
    Staff { v, who }: Staff,
    headers: HeaderMap,
    PageQuery(q): PageQuery<NoticeQuery>,
) -> Result<Response, PageError> {
    let Principal::Staff { login, .. } = &who else {
        return Err(sign_in_first(&v).into());
    };
    let cals = Calendars::new(&state.bookings);
    let rooms = cals.rooms().await.map_err(|e| unavailable(&v, e))?;
    let followed: Vec<String> = cals
        .followed(&who.requester_id())
        .await
        .map_err(|e| unavailable(&v, e))?
        .into_iter()
        .map(|c| c.room.room.id)
        .collect();
    let (scheme, host) = site(&v, &headers);
    let base = format!("{scheme}://{host}");
    let rows = rooms
        .into_iter()
        .filter(|c| c.bookable || followed.contains(&c.room.room.id))
        .map(|c| {
            let id = c.room.room.id.clone();
            let path_id = urlencode(&id);
            LinkRow {
                caldav: format!("{base}/dav/calendars/rooms/{path_id}/calendar/"),
                webcal: format!("webcal://{host}/feeds/rooms/{path_id}.ics"),
                feed: format!("{base}/feeds/rooms/{path_id}.ics"),
                following: followed.contains(&id),
                name: c.room.room.name.clone(),
                building: c.room.room.building.clone().unwrap_or_default(),
                id,
            }
        })
        .collect();
    let page = Page::new(&v, "links", v.lang.t("console-links-title"));
    Ok(render(
        &v,
        StatusCode::OK,
        &LinksPage {
            page,
            notice: notice_text(v.lang, &q),
            problem: None,
            login: login.clone(),
            dav: format!("{base}/dav/"),
            well_known: format!("{base}/.well-known/caldav"),
            rows,
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct FollowForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    follow: String,
}

impl Posted for FollowForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub(super) async fn follow(
    State(state): State<AppState>,
    PagePath(room): PagePath<String>,
    StaffForm { v, who, form }: StaffForm<FollowForm>,
) -> Result<Response, PageError> {
    let follow = match form.follow.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            return Err(error_page(
                &v,
                StatusCode::BAD_REQUEST,
                "error-bad-form",
                v.lang.t("console-error-follow"),
            )
            .into());
        }
    };
    match Calendars::new(&state.bookings).room(&room).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(not_found(&v, "console-error-room-unknown").into()),
        Err(e) => return Err(unavailable(&v, e).into()),
    }
    state
        .bookings
        .follow(&who, &room, follow)
        .await
        .map_err(|e| service_page(&v, e))?;
    let notice = if follow { "followed" } else { "unfollowed" };
    Ok(see_other(
        &v,
        &format!(
            "/console/calendars?notice={notice}#room-{}",
            urlencode(&room)
        ),
        &[],
    ))
}
