//! A running Lokal for tests: the real router on a free loopback port, a real store (SQLite
//! in a temp folder, or a throwaway PostgreSQL), the seed directory (as LDIF, or a real
//! slapd), the seed policies, and a clock the test moves.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use lokal::app::AppState;
use lokal::clock::ManualClock;
use lokal::config::Config;
use serde_json::Value;

use super::slapd::repo;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: Option<TempDir>,
}

/// A temp folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("lokal-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The test's "now": Monday 4 January 2027, 09:00 UTC.
pub fn test_now() -> DateTime<Utc> {
    "2027-01-04T09:00:00Z".parse().unwrap()
}

/// The configuration tests run with: seed directory and policies, no demo data.
pub fn test_config(store_url: &str) -> Config {
    let mut config = Config::default();
    config.store.url = store_url.to_owned();
    config.directory.url = format!("file:{}", repo().join("seed/directory.ldif").display());
    config.scheduling.policies = repo().join("seed/policies.toml");
    config.scheduling.calendars = repo().join("calendars");
    config.server.demo_data = false;
    config
}

impl TestApp {
    /// A fresh app on SQLite in a temp folder.
    pub async fn sqlite() -> TestApp {
        let dir = TempDir::new("app");
        let url = format!("sqlite:{}", dir.0.join("lokal.db").display());
        let mut app = TestApp::start(test_config(&url)).await;
        app._dir = Some(dir);
        app
    }

    /// Starts the app on `config`, with the clock at [`test_now`].
    pub async fn start(config: Config) -> TestApp {
        let clock = Arc::new(ManualClock::new(test_now()));
        let state = lokal::startup::build_state(&config, clock.clone())
            .await
            .unwrap();
        lokal::startup::sync_rooms(&state).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        let max_body = config.server.max_body_bytes;
        tokio::spawn(async move {
            lokal::startup::serve(listener, serving, max_body, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        TestApp {
            base,
            client: reqwest::Client::new(),
            clock,
            state,
            stop: Some(stop),
            _dir: None,
        }
    }

    /// The id of the room with this name.
    pub async fn room(&self, name: &str) -> String {
        let rooms = self.get("/api/v1/rooms", None).await.1;
        rooms["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no room {name}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn get(&self, path: &str, user: Option<(&str, &str)>) -> (u16, Value) {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some((u, p)) = user {
            req = req.basic_auth(u, Some(p));
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, user: Option<(&str, &str)>, body: Value) -> (u16, Value) {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some((u, p)) = user {
            req = req.basic_auth(u, Some(p));
        }
        read(req.send().await.unwrap()).await
    }

    /// Registers a resident and returns their login.
    pub async fn resident(&self, email: &str) -> (String, String) {
        let password = format!("{email}-password");
        let (status, body) = self
            .post(
                "/api/v1/residents",
                None,
                serde_json::json!({"email": email, "password": password, "name": format!("Resident {email}")}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (email.to_owned(), password)
    }
}

pub async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
