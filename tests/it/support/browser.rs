//! A browser without JavaScript for the HTML pages: keeps cookies from `Set-Cookie`, does
//! not follow redirects (the tests look at each 303), asks for `text/html`, posts forms
//! url-encoded, and reads form tokens out of the pages it is shown.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName,
    HeaderValue, LOCATION, SET_COOKIE,
};

use super::app::TestApp;

/// The password of residents registered through [`Browser::register`].
pub const PASSWORD: &str = "a-long-password-2027";

/// One browser: its own cookie jar and headers, shared by `&self` so a test can hand it around.
pub struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: Mutex<BTreeMap<String, String>>,
    /// Headers sent with every request (Origin, Accept-Language, X-Forwarded-Proto, …).
    headers: Mutex<HeaderMap>,
}

/// A response, read.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub content_type: String,
    pub disposition: String,
    pub cache_control: String,
    /// The raw `Set-Cookie` values, flags and all.
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Browser {
    /// A browser for the app under test.
    pub fn new(app: &TestApp) -> Browser {
        Browser::at(&app.base)
    }

    /// A browser for the Lokal at `base` (`http://host:port`, no trailing slash).
    pub fn at(base: &str) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: Mutex::new(BTreeMap::new()),
            headers: Mutex::new(HeaderMap::new()),
        }
    }

    /// A browser signed in through the login form.
    pub async fn signed_in(app: &TestApp, login: &str, password: &str) -> Browser {
        let b = Browser::new(app);
        b.sign_in(login, password).await;
        b
    }

    /// Signs in through the login form; panics unless it is accepted.
    pub async fn sign_in(&self, login: &str, password: &str) {
        let page = self
            .submit(
                "/login",
                "/login",
                &[("login", login), ("password", password)],
            )
            .await;
        assert_eq!(page.status, 303, "signing in as {login}: {}", page.body);
    }

    /// Registers a resident through the form (password [`PASSWORD`]); signed in afterwards.
    pub async fn register(&self, name: &str, email: &str) {
        let done = self
            .submit(
                "/register",
                "/register",
                &[
                    ("next", ""),
                    ("name", name),
                    ("email", email),
                    ("password", PASSWORD),
                    ("password_again", PASSWORD),
                ],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
        assert!(self.cookie("lokal_session").is_some());
    }

    /// The value of a cookie in the jar.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    /// All the cookies in the jar.
    pub fn cookies(&self) -> BTreeMap<String, String> {
        self.cookies.lock().unwrap().clone()
    }

    /// Puts a cookie in the jar, as if the server had set it.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    /// Sends this header with every request from now on (replacing one of that name).
    pub fn header(&self, name: &'static str, value: &str) {
        self.headers.lock().unwrap().insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
    }

    /// Sends no extra headers any more.
    pub fn clear_headers(&self) {
        self.headers.lock().unwrap().clear();
    }

    /// The full address of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to build further and hand to [`Browser::send`].
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends `req` with the jar's cookies, this browser's headers and `Accept: text/html`
    /// (each unless `req` has its own), keeps the cookies it sets and reads the answer.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let mut req = req.build().unwrap();
        let headers = req.headers_mut();
        for (name, value) in self.headers.lock().unwrap().iter() {
            headers.entry(name).or_insert_with(|| value.clone());
        }
        headers
            .entry(ACCEPT)
            .or_insert(HeaderValue::from_static("text/html"));
        let jar = self
            .cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !jar.is_empty() {
            headers
                .entry(COOKIE)
                .or_insert(HeaderValue::from_str(&jar).unwrap());
        }
        let response = self.client.execute(req).await.unwrap();
        self.read(response).await
    }

    async fn read(&self, response: reqwest::Response) -> Answer {
        let set_cookies: Vec<String> = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|c| c.to_str().unwrap().to_owned())
            .collect();
        {
            let mut jar = self.cookies.lock().unwrap();
            for c in &set_cookies {
                let pair = c.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if value.is_empty() || c.contains("Max-Age=0") {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        Answer {
            status: response.status().as_u16(),
            location: header(LOCATION),
            content_type: header(CONTENT_TYPE).unwrap_or_default(),
            disposition: header(CONTENT_DISPOSITION).unwrap_or_default(),
            cache_control: header(CACHE_CONTROL).unwrap_or_default(),
            set_cookies,
            body: response.text().await.unwrap(),
        }
    }

    /// GETs a page.
    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// POSTs `form`, url-encoded, as a form is sent.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.send(self.request(reqwest::Method::POST, path).form(form))
            .await
    }

    /// Opens `page`, reads its form token and posts `form` with it to `action`.
    pub async fn submit(&self, page: &str, action: &str, form: &[(&str, &str)]) -> Answer {
        let shown = self.get(page).await;
        assert_eq!(shown.status, 200, "{page}: {}", shown.body);
        let token = hidden(&shown.body, "csrf");
        let mut fields = vec![("csrf", token.as_str())];
        fields.extend_from_slice(form);
        self.post(action, &fields).await
    }
}

/// The value of the first hidden input named `name`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The element with this id, from its id up to its closing tag `</tag>`.
pub fn element<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let end = html[start..]
        .find(&format!("</{tag}>"))
        .unwrap_or_else(|| panic!("no </{tag}> after #{id}"))
        + start;
    &html[start..end]
}
