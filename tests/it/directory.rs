//! The directory: one conformance suite run against the LDIF backend and against a real
//! slapd loaded from the same `seed/directory.ldif`, plus slapd-only tests (paging, StartTLS,
//! renames, the AD preset, an unavailable server) and the security tests.

use std::time::{Duration, Instant};

use lokal::config::Config;
use lokal::directory::{Directory, DirectoryError, LdapSettings, Mapping, Preset, connect};

use crate::support::slapd::{Data, Options, Slapd, repo};

const SERVICE_DN: &str = "cn=lokal-service,ou=Services,dc=fjordvik,dc=kommune,dc=no";
const SERVICE_PASSWORD: &str = "lokal-service-secret";

/// The mapping the embedded default configuration uses.
fn seed_mapping() -> Mapping {
    Config::default().directory.mapping()
}

fn settings(server: &Slapd) -> LdapSettings {
    settings_for(&server.url, Duration::from_secs(5))
}

/// Service-account settings for any URL, with the given timeout.
fn settings_for(url: &str, timeout: Duration) -> LdapSettings {
    LdapSettings {
        url: url.to_owned(),
        bind_dn: SERVICE_DN.into(),
        bind_password: SERVICE_PASSWORD.into(),
        starttls: false,
        ca_file: None,
        insecure_skip_verify: false,
        timeout,
        page_size: 500,
    }
}

async fn file_directory() -> Box<dyn Directory> {
    let url = format!("file:{}", repo().join("seed/directory.ldif").display());
    connect(&url, seed_mapping(), None).await.unwrap()
}

async fn ldap_directory(server: &Slapd, settings: LdapSettings) -> Box<dyn Directory> {
    connect(&server.url, seed_mapping(), Some(settings))
        .await
        .unwrap()
}

/// Every demo login with its password (seed/demo-logins.md).
const LOGINS: &[(&str, &str)] = &[
    ("ingrid.berg", "ingrid-demo-2027"),
    ("lars.haugen", "lars-demo-2027"),
    ("nora.odegard", "Blåbærsyltetøy-2027"),
    ("astrid.moen", "astrid-clerk-2027"),
    ("erik.dahl", "erik-clerk-2027"),
    ("tone.vik", "tone-admin-2027"),
    ("mari.strand", "mari-argon2-2027"),
];

/// The conformance suite: the same expectations for every backend.
async fn conformance(dir: &dyn Directory) {
    dir.health().await.unwrap();

    // Rooms and their attributes.
    let rooms = dir.rooms().await.unwrap();
    assert_eq!(rooms.len(), 18, "{rooms:#?}");
    let storsalen = rooms.iter().find(|r| r.name == "Storsalen").unwrap();
    assert_eq!(storsalen.id, "769adcb4-f500-5f44-89c0-92ac30737755");
    assert_eq!(storsalen.building.as_deref(), Some("Kulturhuset"));
    assert_eq!(storsalen.capacity, Some(150));
    assert_eq!(storsalen.policy.as_deref(), Some("hall"));
    assert_eq!(storsalen.resource_type.as_deref(), Some("hall"));
    assert_eq!(storsalen.time_zone.as_deref(), Some("Europe/Oslo"));
    // Its calendar-user address (`mail`, allowed on rooms by lokalBookable); every seed room
    // has one.
    assert_eq!(
        storsalen.email.as_deref(),
        Some("storsalen@rom.fjordvik.kommune.no")
    );
    assert!(rooms.iter().all(|r| r.email.is_some()), "{rooms:#?}");
    assert_eq!(
        storsalen.equipment,
        [
            "piano",
            "projector",
            "sound-system",
            "stage",
            "wheelchair-access"
        ]
    );
    assert_eq!(
        storsalen.approver_group.as_deref(),
        Some("cn=lokal-clerks-kulturhuset,ou=Groups,dc=fjordvik,dc=kommune,dc=no")
    );
    let gym = rooms
        .iter()
        .find(|r| r.name == "Gymsal A+B, (delbar)")
        .unwrap();
    assert_eq!(gym.building.as_deref(), Some("Fjordvik skole"));
    // A divisible hall: its parts (lokalPart) are the DNs of its halves, rooms of their own.
    assert_eq!(
        gym.parts,
        [
            "cn=Gymsal A,ou=Fjordvik skole,ou=Buildings,dc=fjordvik,dc=kommune,dc=no",
            "cn=Gymsal B,ou=Fjordvik skole,ou=Buildings,dc=fjordvik,dc=kommune,dc=no"
        ]
    );
    assert!(
        rooms
            .iter()
            .filter(|r| r.name != gym.name)
            .all(|r| r.parts.is_empty())
    );
    assert_eq!(
        gym.dn,
        "cn=Gymsal A\\+B\\, (delbar),ou=Fjordvik skole,ou=Buildings,dc=fjordvik,dc=kommune,dc=no"
    );
    let closed: Vec<&str> = rooms
        .iter()
        .filter(|r| r.policy.as_deref() == Some("under-renovation"))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(closed, ["Galleriet"]);
    let buildings: std::collections::BTreeSet<&str> =
        rooms.iter().filter_map(|r| r.building.as_deref()).collect();
    assert_eq!(
        buildings.into_iter().collect::<Vec<_>>(),
        ["Fjordvik skole", "Idrettshallen", "Kulturhuset", "Rådhuset"]
    );

    // People.
    let astrid = dir.find_person("astrid.moen").await.unwrap().unwrap();
    assert_eq!(astrid.name, "Astrid Moen");
    assert_eq!(
        astrid.email.as_deref(),
        Some("astrid.moen@fjordvik.kommune.no")
    );
    assert_eq!(
        dir.find_person("ASTRID.MOEN").await.unwrap().map(|p| p.id),
        Some(astrid.id.clone())
    );
    assert!(dir.find_person("nobody.here").await.unwrap().is_none());
    // Logins compare as the server's caseIgnoreMatch does: case, width and outer spaces.
    for spelling in ["  Astrid.Moen ", "ＡＳＴＲＩＤ.ＭＯＥＮ"] {
        let found = dir.find_person(spelling).await.unwrap().map(|p| p.id);
        assert_eq!(found, Some(astrid.id.clone()), "{spelling:?}");
    }

    // Authentication: every demo login, including the non-ASCII and {ARGON2} passwords.
    for (login, password) in LOGINS {
        let person = dir
            .authenticate(login, password)
            .await
            .unwrap_or_else(|e| panic!("{login} should log in: {e}"));
        assert_eq!(person.login, *login);
    }
    assert_eq!(
        dir.authenticate("astrid.moen", "wrong").await,
        Err(DirectoryError::InvalidCredentials)
    );
    assert_eq!(
        dir.authenticate("nora.odegard", "Blabaersyltetoy-2027")
            .await,
        Err(DirectoryError::InvalidCredentials)
    );

    // Roles from groups.
    let roles = dir.roles(&astrid).await.unwrap();
    assert!(roles.staff && roles.clerk && !roles.admin, "{roles:?}");
    assert!(roles.is_member_of("CN=lokal-clerks-raadhuset,OU=Groups,DC=fjordvik,DC=kommune,DC=no"));
    assert!(
        !roles.is_member_of("cn=lokal-clerks-kulturhuset,ou=Groups,dc=fjordvik,dc=kommune,dc=no")
    );
    let tone = dir
        .authenticate("tone.vik", "tone-admin-2027")
        .await
        .unwrap();
    let roles = dir.roles(&tone).await.unwrap();
    assert!(roles.admin && !roles.clerk, "{roles:?}");
    let lars = dir
        .authenticate("lars.haugen", "lars-demo-2027")
        .await
        .unwrap();
    let roles = dir.roles(&lars).await.unwrap();
    assert!(!roles.admin && !roles.clerk, "{roles:?}");
    assert_eq!(
        roles.groups,
        ["cn=lokal-staff,ou=Groups,dc=fjordvik,dc=kommune,dc=no"]
    );

    // The members of a room's approver group: who gets the clerks' digest mail.
    let clerks = dir
        .group_members("cn=lokal-clerks-kulturhuset,ou=Groups,dc=fjordvik,dc=kommune,dc=no")
        .await
        .unwrap();
    let found: Vec<(&str, Option<&str>)> = clerks
        .iter()
        .map(|p| (p.login.as_str(), p.email.as_deref()))
        .collect();
    assert_eq!(
        found,
        [("erik.dahl", Some("erik.dahl@fjordvik.kommune.no"))],
        "{clerks:#?}"
    );
    let nobody = dir
        .group_members("cn=no-such-group,ou=Groups,dc=fjordvik,dc=kommune,dc=no")
        .await
        .unwrap_or_default();
    assert!(nobody.is_empty(), "{nobody:#?}");
}

/// Logins that try to widen or break the search, and other ways in that must all fail alike.
async fn security(dir: &dyn Directory) {
    let attempts: &[(&str, &str)] = &[
        ("astrid.moen", ""),
        ("*", "astrid-clerk-2027"),
        ("*", ""),
        (")(uid=*)", "astrid-clerk-2027"),
        ("astrid.moen)(|(uid=*", "astrid-clerk-2027"),
        (
            "uid=astrid.moen,ou=People,dc=fjordvik,dc=kommune,dc=no",
            "astrid-clerk-2027",
        ),
        ("astrid.moen\\2a", "astrid-clerk-2027"),
        ("nobody.here", "whatever"),
        ("astrid.moen", "wrong-password"),
        ("", "astrid-clerk-2027"),
        ("astrid.moen\n", "astrid-clerk-2027"),
        (SERVICE_DN, SERVICE_PASSWORD),
    ];
    for (login, password) in attempts {
        let result = dir.authenticate(login, password).await;
        assert_eq!(
            result,
            Err(DirectoryError::InvalidCredentials),
            "{login:?} / {password:?}"
        );
    }
    // The caller cannot tell an unknown user from a wrong password.
    let unknown = dir
        .authenticate("nobody.here", "x")
        .await
        .unwrap_err()
        .to_string();
    let wrong = dir
        .authenticate("astrid.moen", "x")
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(unknown, wrong);
    assert_eq!(unknown, "invalid login or password");
    // A wildcard never finds a person either.
    assert!(dir.find_person("*").await.unwrap().is_none());
    assert!(dir.find_person("a*").await.unwrap().is_none());
}

#[tokio::test]
async fn the_ldif_backend_passes_the_conformance_suite() {
    conformance(file_directory().await.as_ref()).await;
}

#[tokio::test]
async fn slapd_loaded_with_the_seed_passes_the_same_conformance_suite() {
    let server = Slapd::start(Options::default());
    conformance(ldap_directory(&server, settings(&server)).await.as_ref()).await;
}

#[tokio::test]
async fn both_backends_list_exactly_the_same_rooms() {
    let server = Slapd::start(Options::default());
    let from_ldap = ldap_directory(&server, settings(&server))
        .await
        .rooms()
        .await
        .unwrap();
    let from_file = file_directory().await.rooms().await.unwrap();
    assert_eq!(from_ldap, from_file);
}

#[tokio::test]
async fn the_ldif_backend_rejects_injection_and_empty_passwords() {
    security(file_directory().await.as_ref()).await;
}

#[tokio::test]
async fn slapd_rejects_injection_and_empty_passwords_even_where_anonymous_dn_binds_succeed() {
    // With bind_anon_dn, "DN + empty password" succeeds as an anonymous bind, as on a default
    // Active Directory: only Lokal's own guard stops it.
    let server = Slapd::start(Options {
        allow_anon_dn: true,
        ..Options::default()
    });
    security(ldap_directory(&server, settings(&server)).await.as_ref()).await;
}

#[tokio::test]
async fn paging_returns_every_room_past_a_low_size_limit() {
    let server = Slapd::start(Options {
        size_limit: 5,
        ..Options::default()
    });
    let dir = ldap_directory(
        &server,
        LdapSettings {
            page_size: 3,
            ..settings(&server)
        },
    )
    .await;
    assert_eq!(dir.rooms().await.unwrap().len(), 18);
}

#[tokio::test]
async fn starttls_works_with_the_ca_and_fails_without_it() {
    let server = Slapd::start(Options {
        tls: true,
        ..Options::default()
    });
    let ca = server.tls.as_ref().unwrap().ca_pem.clone();
    // A CA file is often a bundle; the right CA need not be the first certificate in it.
    let bundle = ca.with_file_name("bundle.pem");
    let server_cert = std::fs::read_to_string(ca.with_file_name("server.pem")).unwrap();
    std::fs::write(
        &bundle,
        server_cert + &std::fs::read_to_string(&ca).unwrap(),
    )
    .unwrap();
    let with_ca = ldap_directory(
        &server,
        LdapSettings {
            starttls: true,
            ca_file: Some(bundle),
            ..settings(&server)
        },
    )
    .await;
    assert_eq!(with_ca.rooms().await.unwrap().len(), 18);
    assert!(
        with_ca
            .authenticate("nora.odegard", "Blåbærsyltetøy-2027")
            .await
            .is_ok()
    );

    let without_ca = ldap_directory(
        &server,
        LdapSettings {
            starttls: true,
            ..settings(&server)
        },
    )
    .await;
    match without_ca.rooms().await {
        Err(DirectoryError::Unavailable(message)) => {
            assert!(message.to_lowercase().contains("certificate"), "{message}")
        }
        other => panic!("an unknown CA must be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_renamed_room_keeps_its_id() {
    let server = Slapd::start(Options::default());
    let dir = ldap_directory(&server, settings(&server)).await;
    let before = dir.rooms().await.unwrap();
    let old = before
        .iter()
        .find(|r| r.name == "Lillesalen")
        .unwrap()
        .clone();

    // Rename it as an administrator would, with the server's rootdn.
    let (conn, mut admin) = ldap3::LdapConnAsync::new(&server.url).await.unwrap();
    ldap3::drive!(conn);
    admin
        .simple_bind("cn=admin,dc=fjordvik,dc=kommune,dc=no", "admin")
        .await
        .unwrap()
        .success()
        .unwrap();
    admin
        .modifydn(&old.dn, "cn=Kammersalen", true, None)
        .await
        .unwrap()
        .success()
        .unwrap();

    let after = dir.rooms().await.unwrap();
    let renamed = after.iter().find(|r| r.id == old.id).unwrap();
    assert_eq!(renamed.name, "Kammersalen");
    assert_ne!(renamed.dn, old.dn);
    assert_eq!(after.len(), before.len());
}

/// slapd with the AD-shaped fixture, the AD preset for it, and its service account.
fn ad_fixture() -> (Slapd, Mapping, LdapSettings) {
    let server = Slapd::start(Options {
        data: Data::ActiveDirectory,
        ..Options::default()
    });
    let mut mapping = Mapping::preset(Preset::ActiveDirectory, server.base_dn);
    mapping.clerk_groups =
        vec!["CN=Lokal Clerks Kulturhuset,OU=Groups,DC=ad,DC=fjordvik,DC=no".into()];
    let settings = LdapSettings {
        bind_dn: "CN=svc-lokal,OU=Service Accounts,DC=ad,DC=fjordvik,DC=no".into(),
        bind_password: "svc-lokal-secret".into(),
        ..settings(&server)
    };
    (server, mapping, settings)
}

#[tokio::test]
async fn the_active_directory_preset_reads_an_ad_shaped_directory() {
    let (server, mapping, settings) = ad_fixture();
    let dir = connect(&server.url, mapping, Some(settings)).await.unwrap();

    let rooms = dir.rooms().await.unwrap();
    assert_eq!(rooms.len(), 4, "{rooms:#?}");
    let storsalen = rooms
        .iter()
        .find(|r| r.name == "Kulturhuset Storsalen")
        .unwrap();
    assert_eq!(storsalen.id, "e2c2b2fb-1def-54de-a0f0-09da2ad665d3");
    // The room mailbox's address.
    assert_eq!(storsalen.email.as_deref(), Some("storsalen@ad.fjordvik.no"));
    assert_eq!(storsalen.capacity, Some(150));
    assert_eq!(storsalen.building.as_deref(), Some("Kulturhuset"));
    assert_eq!(
        storsalen.equipment,
        ["Piano", "Projector", "Sound system", "Stage"]
    );
    assert!(
        rooms
            .iter()
            .any(|r| r.building.as_deref() == Some("Rådhuset"))
    );

    let oyvind = dir
        .authenticate("oyvind.naess", "Øyvind-ad-2027")
        .await
        .unwrap();
    let roles = dir.roles(&oyvind).await.unwrap();
    assert!(roles.clerk, "{roles:?}");
    let anna = dir.authenticate("anna.lund", "anna-ad-2027").await.unwrap();
    assert!(!dir.roles(&anna).await.unwrap().clerk);
    assert_eq!(
        dir.authenticate("anna.lund", "").await,
        Err(DirectoryError::InvalidCredentials)
    );
}

#[tokio::test]
async fn a_stopped_slapd_is_unavailable_within_the_timeout() {
    let mut server = Slapd::start(Options::default());
    let timeout = Duration::from_millis(800);
    let dir = ldap_directory(
        &server,
        LdapSettings {
            timeout,
            ..settings(&server)
        },
    )
    .await;
    assert!(dir.health().await.is_ok());
    server.kill();

    let start = Instant::now();
    assert!(matches!(
        dir.rooms().await,
        Err(DirectoryError::Unavailable(_))
    ));
    assert!(matches!(
        dir.authenticate("astrid.moen", "astrid-clerk-2027").await,
        Err(DirectoryError::Unavailable(_))
    ));
    assert!(matches!(
        dir.health().await,
        Err(DirectoryError::Unavailable(_))
    ));
    assert!(start.elapsed() < timeout * 6, "took {:?}", start.elapsed());
}

#[tokio::test]
async fn a_server_that_accepts_but_never_answers_is_unavailable_within_the_timeout() {
    // A listener that accepts connections and then says nothing, like a hung server.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(500);
    let url = format!("ldap://127.0.0.1:{port}");
    let settings = settings_for(&url, timeout);
    let dir = connect(&url, seed_mapping(), Some(settings)).await.unwrap();
    let start = Instant::now();
    assert!(matches!(
        dir.rooms().await,
        Err(DirectoryError::Unavailable(_))
    ));
    assert!(start.elapsed() < timeout * 4, "took {:?}", start.elapsed());
    hold.abort();
}

#[tokio::test]
async fn the_directory_reconnects_after_slapd_comes_back() {
    let server = Slapd::start(Options::default());
    let port = server.port;
    let dir = ldap_directory(&server, settings(&server)).await;
    assert_eq!(dir.rooms().await.unwrap().len(), 18);
    drop(server);
    assert!(matches!(
        dir.rooms().await,
        Err(DirectoryError::Unavailable(_))
    ));
    // The same server back on the same address: the dead connection was dropped, so the next
    // call reconnects on its own.
    let _again = Slapd::start(Options {
        port: Some(port),
        ..Options::default()
    });
    assert_eq!(dir.rooms().await.unwrap().len(), 18);
    assert!(
        dir.authenticate("erik.dahl", "erik-clerk-2027")
            .await
            .is_ok()
    );
}

/// A fake LDAP server that answers binds with success and searches with an entry whose
/// attribute list is not a SEQUENCE: data that makes ldap3's entry parser panic.
#[derive(Clone, Copy)]
enum Garbage {
    /// A search entry whose attribute list is not a SEQUENCE.
    Entry,
    /// A bind response whose diagnostic message is not UTF-8.
    BindDiagnostic,
}

async fn malformed_server(garbage: Garbage) -> (u16, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // Read whole LDAPMessages: 0x30, a length, then the body.
                    while let Some((len, id, op)) = message(&buf) {
                        buf.drain(..len);
                        let reply: Vec<u8> = match (op, garbage) {
                            (0x60, Garbage::BindDiagnostic) => vec![
                                0x30, 0x0e, 0x02, 0x01, id, 0x61, 0x09, 0x0a, 0x01, 0x00, 0x04,
                                0x00, 0x04, 0x02, 0xff, 0xfe,
                            ],
                            (0x60, _) => vec![
                                0x30, 0x0c, 0x02, 0x01, id, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04,
                                0x00, 0x04, 0x00,
                            ],
                            (0x63, _) => {
                                let mut r = vec![
                                    0x30, 0x0d, 0x02, 0x01, id, // message id
                                    0x64, 0x08, 0x04, 0x01, b'x', // entry "x"
                                    0x04, 0x03, b'b', b'a',
                                    b'd', // attributes: an OCTET STRING, not a SEQUENCE
                                ];
                                r.extend([
                                    0x30, 0x0c, 0x02, 0x01, id, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04,
                                    0x00, 0x04, 0x00,
                                ]);
                                r
                            }
                            _ => return,
                        };
                        if socket.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (port, task)
}

/// Parses the head of an LDAPMessage: its total length, one-byte message id and op tag.
fn message(buf: &[u8]) -> Option<(usize, u8, u8)> {
    if buf.len() < 2 || buf[0] != 0x30 {
        return None;
    }
    let (len, head) = if buf[1] & 0x80 == 0 {
        (buf[1] as usize, 2)
    } else {
        let n = (buf[1] & 0x7f) as usize;
        let bytes = buf.get(2..2 + n)?;
        (
            bytes.iter().fold(0usize, |a, &b| (a << 8) | b as usize),
            2 + n,
        )
    };
    if buf.len() < head + len {
        return None;
    }
    // messageID INTEGER: 0x02, length, value (ids stay small here).
    let id_len = *buf.get(head + 1)? as usize;
    let id = *buf.get(head + 1 + id_len)?;
    let op = *buf.get(head + 2 + id_len)?;
    Some((head + len, id, op))
}

#[tokio::test]
async fn malformed_server_data_is_an_error_not_a_panic() {
    let (port, task) = malformed_server(Garbage::Entry).await;
    let url = format!("ldap://127.0.0.1:{port}");
    let settings = settings_for(&url, Duration::from_secs(2));
    let dir = connect(&url, seed_mapping(), Some(settings)).await.unwrap();
    // ldap3's entry parser panics on this entry; the backend catches it.
    assert_eq!(
        dir.rooms().await,
        Err(DirectoryError::Malformed(
            "an entry could not be parsed".into()
        ))
    );
    // The process is still here, and so is the directory object: a second call fails the
    // same way instead of hanging or panicking.
    assert!(dir.rooms().await.is_err());
    task.abort();

    // A reply that panics ldap3 outside entry parsing (a non-UTF-8 diagnostic message in a
    // bind response) is caught too.
    let (port, task) = malformed_server(Garbage::BindDiagnostic).await;
    let url = format!("ldap://127.0.0.1:{port}");
    let settings = settings_for(&url, Duration::from_secs(2));
    let dir = connect(&url, seed_mapping(), Some(settings)).await.unwrap();
    assert!(matches!(
        dir.health().await,
        Err(DirectoryError::Malformed(_))
    ));
    task.abort();
}

/// Runs the `lokal` binary in the repository, with extra environment and standard input.
fn lokal(args: &[&str], env: &[(&str, &str)], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lokal"))
        .current_dir(repo())
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn lokal_directory_rooms_shows_the_seed_rooms_as_a_table_and_as_json() {
    let out = lokal(&["directory", "rooms"], &[], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("Gymsal A+B, (delbar)") && table.ends_with("18 rooms\n"),
        "{table}"
    );

    let out = lokal(&["directory", "rooms", "--format", "json"], &[], "");
    let rooms: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rooms.as_array().unwrap().len(), 18);
}

#[test]
fn lokal_directory_check_login_shows_roles_or_why_not() {
    let out = lokal(
        &[
            "directory",
            "check-login",
            "astrid.moen",
            "--password-stdin",
        ],
        &[],
        "astrid-clerk-2027\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Login OK: Astrid Moen (astrid.moen)"),
        "{stdout}"
    );
    assert!(stdout.contains("roles:  staff, clerk"), "{stdout}");
    assert!(
        stdout.contains("cn=lokal-clerks-raadhuset,ou=Groups,dc=fjordvik,dc=kommune,dc=no"),
        "{stdout}"
    );

    for (user, password) in [
        ("astrid.moen", "nope\n"),
        ("nobody", "x\n"),
        ("astrid.moen", "\n"),
    ] {
        let out = lokal(
            &["directory", "check-login", user, "--password-stdin"],
            &[],
            password,
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("login refused: invalid login or password"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn lokal_directory_reads_its_settings_from_lokal_environment_variables() {
    let server = Slapd::start(Options::default());
    let env = [
        ("LOKAL_DIRECTORY__URL", server.url.as_str()),
        ("LOKAL_DIRECTORY__BIND_PASSWORD", SERVICE_PASSWORD),
    ];
    let out = lokal(
        &[
            "directory",
            "check-login",
            "nora.odegard",
            "--password-stdin",
        ],
        &env,
        "Blåbærsyltetøy-2027\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Login OK: Nora Ødegård"),
        "{}",
        text(&out.stdout)
    );

    let out = lokal(
        &["directory", "rooms"],
        &[("LOKAL_DIRECTORY__URL", "gopher://example")],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unsupported directory URL"),
        "{}",
        text(&out.stderr)
    );
    let out = lokal(
        &["directory", "rooms"],
        &[
            ("LOKAL_DIRECTORY__URL", server.url.as_str()),
            ("LOKAL_DIRECTORY__BIND_PASSWORD", "wrong"),
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("service account"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_config_file_overrides_the_presets_mapping() {
    let dir = std::env::temp_dir().join(format!("lokal-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("lokal.toml");
    std::fs::write(
        &config,
        format!(
            "[directory]\nurl = \"file:{}\"\n\n[directory.mapping]\nbuilding = {{ attribute = \"lokalFloor\" }}\nrooms = {{ all = [{{ object_class = \"room\" }}, {{ equals = [\"lokalResourceType\", \"gym\"] }}] }}\n",
            repo().join("seed/directory.ldif").display()
        ),
    )
    .unwrap();
    let out = lokal(
        &[
            "--config",
            config.to_str().unwrap(),
            "directory",
            "rooms",
            "--format",
            "json",
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rooms: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = rooms.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Gymsal A",
            "Gymsal A+B, (delbar)",
            "Gymsal B",
            "Hovedhallen",
            "Styrkerommet"
        ]
    );
    // The building now comes from the floor attribute.
    assert!(
        rooms.iter().all(|r| r["building"] == r["floor"]),
        "{rooms:?}"
    );

    std::fs::write(&config, "[directory]\nurll = \"typo\"\n").unwrap();
    let out = lokal(
        &["--config", config.to_str().unwrap(), "directory", "rooms"],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("urll"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn referrals_in_the_directory_are_skipped_not_parsed() {
    // A referral object under the base makes slapd send a SearchResultReference in subtree
    // searches; ldap3 would panic parsing it as an entry.
    let dir = std::env::temp_dir().join(format!("lokal-referral-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ldif = dir.join("referral.ldif");
    std::fs::write(
        &ldif,
        "dn: ou=Annex,ou=Buildings,dc=fjordvik,dc=kommune,dc=no\nobjectClass: referral\nobjectClass: extensibleObject\nou: Annex\nref: ldap://annex.example.org/ou=Annex,dc=example,dc=org\n\n",
    )
    .unwrap();
    let server = Slapd::start(Options {
        extra_ldif: vec![ldif],
        ..Options::default()
    });
    let directory = ldap_directory(&server, settings(&server)).await;
    assert_eq!(directory.rooms().await.unwrap().len(), 18);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_ad_fixture_reads_the_same_from_the_file_and_from_slapd() {
    let (server, mapping, settings) = ad_fixture();
    let ldap = connect(&server.url, mapping.clone(), Some(settings))
        .await
        .unwrap();
    let file_url = format!(
        "file:{}",
        repo().join("tests/fixtures/ad/directory.ldif").display()
    );
    let file = connect(&file_url, mapping, None).await.unwrap();
    assert_eq!(ldap.rooms().await.unwrap(), file.rooms().await.unwrap());
    for (login, password) in [
        ("oyvind.naess", "Øyvind-ad-2027"),
        ("anna.lund", "anna-ad-2027"),
    ] {
        let a = ldap.authenticate(login, password).await.unwrap();
        let b = file.authenticate(login, password).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(
            ldap.roles(&a).await.unwrap(),
            file.roles(&b).await.unwrap(),
            "{login}"
        );
    }
}

#[tokio::test]
async fn a_wrong_base_dn_or_a_missing_service_password_is_a_configuration_error() {
    let server = Slapd::start(Options::default());
    let no_password = connect(
        &server.url,
        seed_mapping(),
        Some(LdapSettings {
            bind_password: String::new(),
            ..settings(&server)
        }),
    )
    .await;
    assert!(matches!(no_password, Err(DirectoryError::Config(_))));

    let mut typo = seed_mapping();
    typo.base_dn = "ou=Typo,dc=fjordvik,dc=kommune,dc=no".into();
    let dir = connect(&server.url, typo.clone(), Some(settings(&server)))
        .await
        .unwrap();
    assert!(matches!(dir.health().await, Err(DirectoryError::Config(_))));
    assert!(matches!(dir.rooms().await, Err(DirectoryError::Config(_))));
    let file_url = format!("file:{}", repo().join("seed/directory.ldif").display());
    let file = connect(&file_url, typo, None).await.unwrap();
    assert!(matches!(
        file.health().await,
        Err(DirectoryError::Config(_))
    ));

    let mut empty = seed_mapping();
    empty.base_dn = String::new();
    assert!(matches!(
        connect(&file_url, empty, None).await,
        Err(DirectoryError::Config(_))
    ));
}

#[test]
fn gen_config_prints_a_config_file_that_loads_back_and_hides_the_password() {
    let out = lokal(
        &["gen-config"],
        &[("LOKAL_DIRECTORY__BIND_PASSWORD", "s3cret")],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let generated = text(&out.stdout);
    assert!(!generated.contains("s3cret"), "{generated}");
    assert!(
        generated.contains("url = \"file:seed/directory.ldif\""),
        "{generated}"
    );
    let dir = std::env::temp_dir().join(format!("lokal-gen-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lokal.toml");
    std::fs::write(&path, &generated).unwrap();
    let out = lokal(
        &[
            "--config",
            path.to_str().unwrap(),
            "directory",
            "rooms",
            "--format",
            "json",
        ],
        &[],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();
}
