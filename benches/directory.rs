//! Listing 10,000 rooms from a real slapd, page by page (RFC 2696), the way Lokal syncs rooms
//! from a large directory. The server caps unpaged searches at 500 entries, as AD caps them
//! at 1,000, so only a paged search can return them all. Run with
//! `cargo bench --bench directory`; the figure is in docs/performance.md (target: ≤ 2 s).

use std::fmt::Write as _;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use lokal::config::Config;
use lokal::directory::{LdapSettings, connect};

#[allow(dead_code)]
#[path = "../tests/it/support/slapd.rs"]
mod slapd;

const ROOMS: usize = 10_000;

/// An LDIF file with `ROOMS` generated rooms in one extra building.
fn generated_rooms(dir: &std::path::Path) -> std::path::PathBuf {
    let base = "ou=Buildings,dc=fjordvik,dc=kommune,dc=no";
    let mut ldif =
        format!("dn: ou=Generert,{base}\nobjectClass: organizationalUnit\nou: Generert\n\n");
    for i in 0..ROOMS {
        let _ = write!(
            ldif,
            "dn: cn=Rom {i:05},ou=Generert,{base}\nobjectClass: room\nobjectClass: lokalBookable\ncn: Rom {i:05}\n\
             lokalCapacity: {}\nlokalPolicy: meeting-room\nlokalResourceType: meeting-room\nlokalEquipment: whiteboard\n\
             lokalTimeZone: Europe/Oslo\nentryUUID: 00000000-0000-4000-8000-{i:012}\n\n",
            4 + i % 200
        );
    }
    let path = dir.join("rooms-10k.ldif");
    std::fs::write(&path, ldif).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

fn list_rooms(c: &mut Criterion) {
    let work = std::env::temp_dir().join(format!("lokal-bench-directory-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap_or_else(|e| panic!("{e}"));
    let server = slapd::Slapd::start(slapd::Options {
        extra_ldif: vec![generated_rooms(&work)],
        size_limit: 500,
        ..slapd::Options::default()
    });
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let settings = LdapSettings {
        url: server.url.clone(),
        bind_dn: "cn=lokal-service,ou=Services,dc=fjordvik,dc=kommune,dc=no".into(),
        bind_password: "lokal-service-secret".into(),
        starttls: false,
        ca_file: None,
        insecure_skip_verify: false,
        timeout: Duration::from_secs(30),
        page_size: 500,
    };
    let directory = runtime
        .block_on(connect(
            &server.url,
            Config::default().directory.mapping(),
            Some(settings),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let count = runtime
        .block_on(directory.rooms())
        .map(|r| r.len())
        .unwrap_or(0);
    assert_eq!(
        count,
        ROOMS + 16,
        "every generated room and the 16 seed rooms"
    );

    let mut group = c.benchmark_group("directory");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.bench_function("list-10k-rooms-paged", |b| {
        b.iter(|| {
            runtime
                .block_on(directory.rooms())
                .map(|r| r.len())
                .unwrap_or(0)
        })
    });
    group.finish();
    drop(server);
    let _ = std::fs::remove_dir_all(&work);
}

criterion_group!(benches, list_rooms);
criterion_main!(benches);
