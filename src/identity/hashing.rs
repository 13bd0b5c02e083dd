//! Password hashing on a bounded pool: a fixed set of long-lived threads, each with one
//! argon2 memory block it reuses for every hash, and a queue with a limit.
//!
//! Invariants:
//! - Memory for argon2 is at most `threads` × one block (19 MiB with the default params),
//!   whatever the number of concurrent registrations and logins: a thread allocates its block
//!   on its first job and keeps it. (`spawn_blocking` would start new threads, and glibc gives
//!   each new thread an arena that keeps its freed 19 MiB.)
//! - At most `queue` jobs wait or run; one more is refused at once ([`HashError::Busy`], which
//!   the faces answer 503 with `Retry-After`). Registrations may use only half of the queue,
//!   so a flood of registrations leaves room for people signing in.
//! - The PHC strings are the argon2 crate's own (argon2id, v19, the crate's default params), so
//!   hashes stored before the pool existed verify, and the crate verifies ours. A hash is
//!   checked by parsing its params and salt from the PHC string, recomputing, and comparing in
//!   constant time.
//! - A job whose caller went away (the client hung up) is skipped, not computed.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};

/// The most memory a stored hash may ask for (in 1 KiB blocks): 64 MiB. Lokal writes 19 MiB.
const MAX_BLOCKS: usize = 64 * 1024;

/// A stored-looking hash of a password nobody knows, with Lokal's params, for logins whose
/// account does not exist: checking against it costs what checking a real one costs.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$bG9rYWwtbm8tc3VjaC11c2Vy$2Dn9W0lJrEoS8A3r3cgd7m1lQJ2WwWbOQ4bD3pD2b5c";

/// Why a password could not be hashed or checked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The queue is full: try again after this many seconds.
    #[error("the server is busy checking other passwords; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    /// No randomness for a salt, or the hashing threads are gone.
    #[error("passwords cannot be hashed: {0}")]
    Failed(String),
}

/// Who is waiting: registrations may fill only half of the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    Login,
    Registration,
}

enum Work {
    Hash { password: String, salt: [u8; 16] },
    Verify { phc: String, password: String },
}

enum Done {
    Hashed(Result<String, String>),
    Verified(bool),
}

struct Job {
    work: Work,
    reply: tokio::sync::oneshot::Sender<Done>,
}

/// The pool. Dropping it lets its threads finish the queue and stop.
pub struct HashPool {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    shared: Arc<Shared>,
    threads: usize,
    queue: usize,
}

struct Shared {
    /// Jobs waiting or running.
    queued: AtomicUsize,
    /// A running average of one job's time, in microseconds, for `Retry-After`.
    average_micros: AtomicU64,
}

impl HashPool {
    /// Starts `threads` hashing threads (0: one per core) with room for `queue` jobs.
    pub fn start(threads: usize, queue: usize) -> Result<Arc<HashPool>, HashError> {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            threads
        };
        let queue = queue.max(threads).max(2);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let shared = Arc::new(Shared {
            queued: AtomicUsize::new(0),
            average_micros: AtomicU64::new(100_000),
        });
        let mut started = 0;
        for n in 0..threads {
            let rx = rx.clone();
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("lokal-argon2-{n}"))
                .spawn(move || work(&rx, &shared));
            if spawned.is_ok() {
                started += 1;
            }
        }
        if started == 0 {
            return Err(HashError::Failed(
                "no hashing thread could be started".into(),
            ));
        }
        Ok(Arc::new(HashPool {
            jobs: Mutex::new(Some(tx)),
            shared,
            threads: started,
            queue,
        }))
    }

    /// Hashing threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// An argon2id PHC string for `password`, with a fresh random salt.
    pub async fn hash(&self, password: &str, lane: Lane) -> Result<String, HashError> {
        let salt = crate::identity::random_bytes::<16>()
            .map_err(|e| HashError::Failed(format!("{e} (for a salt)")))?;
        let work = Work::Hash {
            password: password.to_owned(),
            salt,
        };
        match self.run(work, lane).await? {
            Done::Hashed(r) => r.map_err(HashError::Failed),
            Done::Verified(_) => Err(HashError::Failed("the pool answered the wrong job".into())),
        }
    }

    /// Whether `password` matches the PHC string `phc`.
    pub async fn verify(&self, phc: &str, password: &str) -> Result<bool, HashError> {
        let work = Work::Verify {
            phc: phc.to_owned(),
            password: password.to_owned(),
        };
        match self.run(work, Lane::Login).await? {
            Done::Verified(ok) => Ok(ok),
            Done::Hashed(_) => Err(HashError::Failed("the pool answered the wrong job".into())),
        }
    }

    /// Checks `password` against a hash no password matches, at the cost of a real check:
    /// a login whose account does not exist takes as long as a wrong password.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), HashError> {
        self.verify(DUMMY_PHC, password).await.map(|_| ())
    }

    async fn run(&self, work: Work, lane: Lane) -> Result<Done, HashError> {
        let limit = match lane {
            Lane::Login => self.queue,
            Lane::Registration => (self.queue / 2).max(1),
        };
        let reserved = self
            .shared
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            });
        if reserved.is_err() {
            return Err(HashError::Busy {
                retry_after_secs: self.retry_after(),
            });
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let sent = {
            let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            jobs.as_ref()
                .map(|tx| tx.send(Job { work, reply }).is_ok())
                .unwrap_or(false)
        };
        if !sent {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(HashError::Failed("the hashing threads have stopped".into()));
        }
        answer
            .await
            .map_err(|_| HashError::Failed("a hashing thread stopped".into()))
    }

    /// Seconds until the queue has likely room again: the jobs ahead, spread over the threads.
    fn retry_after(&self) -> u64 {
        let queued = self.shared.queued.load(Ordering::Acquire) as u64;
        let micros = self.shared.average_micros.load(Ordering::Relaxed);
        let secs = (queued * micros / self.threads.max(1) as u64).div_ceil(1_000_000);
        secs.clamp(1, 60)
    }
}

impl Drop for HashPool {
    fn drop(&mut self) {
        // The threads see the channel close once the queue is empty, and end.
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// One hashing thread: takes jobs until the pool is dropped, reusing one memory block.
fn work(rx: &Mutex<mpsc::Receiver<Job>>, shared: &Shared) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
            rx.recv()
        };
        let Ok(job) = job else { return };
        if job.reply.is_closed() {
            // Nobody waits for this answer any more.
            shared.queued.fetch_sub(1, Ordering::AcqRel);
            continue;
        }
        let started = Instant::now();
        let done = match job.work {
            Work::Hash { password, salt } => {
                Done::Hashed(hash_with(&mut memory, password.as_bytes(), &salt))
            }
            Work::Verify { phc, password } => {
                Done::Verified(verify_with(&mut memory, &phc, password.as_bytes()))
            }
        };
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let old = shared.average_micros.load(Ordering::Relaxed);
        shared
            .average_micros
            .store((old * 7 + took) / 8, Ordering::Relaxed);
        shared.queued.fetch_sub(1, Ordering::AcqRel);
        let _ = job.reply.send(done);
    }
}

/// `memory`, grown once to `blocks` (never shrunk: it is this thread's for good).
fn blocks(memory: &mut Vec<Block>, blocks: usize) -> &mut [Block] {
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
    &mut memory[..blocks]
}

/// An argon2id PHC string with the crate's default params, computed in `memory`.
fn hash_with(memory: &mut Vec<Block>, password: &[u8], salt: &[u8]) -> Result<String, String> {
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2
        .hash_password_into_with_memory(
            password,
            salt,
            &mut out,
            blocks(memory, params.block_count()),
        )
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `phc`: its algorithm, version, params and salt, recomputed in
/// The most passes a stored hash may ask for (Lokal's own use 2).
const MAX_T_COST: u32 = 16;

/// `memory` and compared in constant time. Anything unreadable is a mismatch.
fn verify_with(memory: &mut Vec<Block>, phc: &str, password: &[u8]) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    // A stored hash with absurd costs (only someone who can write the database can plant
    // one) must not tie up a hashing thread for minutes.
    if params.block_count() > MAX_BLOCKS || params.t_cost() > MAX_T_COST || params.p_cost() > 16 {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    argon2
        .hash_password_into_with_memory(
            password,
            salt,
            &mut out,
            blocks(memory, params.block_count()),
        )
        .is_ok()
        && crate::identity::constant_time_eq(&out, expected.as_bytes())
}

/// A PHC string for `password` on the calling thread (for tools and tests; the server uses
/// the pool).
pub fn hash_now(password: &str) -> Result<String, String> {
    let salt = crate::identity::random_bytes::<16>().map_err(|e| format!("{e} (for a salt)"))?;
    hash_with(&mut Vec::new(), password.as_bytes(), &salt)
}

/// Whether `password` matches `phc`, on the calling thread (for tools and tests).
pub fn verify_now(phc: &str, password: &str) -> bool {
    verify_with(&mut Vec::new(), phc, password.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    #[test]
    fn our_hashes_and_the_crates_hashes_verify_both_ways_with_reused_memory() {
        let mut memory = Vec::new();
        let ours = hash_with(&mut memory, b"correct horse", b"0123456789abcdef").unwrap();
        // The crate's default hasher writes the same string for the same salt.
        let theirs = Argon2::default()
            .hash_password_with_salt(b"correct horse", b"0123456789abcdef")
            .unwrap()
            .to_string();
        assert_eq!(ours, theirs);
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        // The memory is dirty from the first hash now; results do not depend on it.
        let stored_before = Argon2::default()
            .hash_password_with_salt(b"old password", b"fedcba9876543210")
            .unwrap()
            .to_string();
        assert!(verify_with(&mut memory, &stored_before, b"old password"));
        assert!(!verify_with(&mut memory, &stored_before, b"old passwore"));
        let fresh = hash_now("another one").unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"another one", fresh.as_str())
                .is_ok()
        );
        assert!(!verify_with(&mut memory, "not a hash", b"x"));
        assert_eq!(memory.len(), Params::default().block_count());
    }

    #[test]
    fn the_dummy_hash_has_the_real_params_and_matches_nothing() {
        let dummy = PasswordHash::new(DUMMY_PHC).unwrap();
        let real = PasswordHash::new(&hash_now("whatever-123").unwrap()).unwrap();
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!verify_now(DUMMY_PHC, "whatever-123"));
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once_and_registrations_get_half() {
        let pool = HashPool::start(1, 4).unwrap();
        // Fill the queue by hand: two registrations' worth is the registration lane's limit.
        pool.shared.queued.store(2, Ordering::Release);
        assert!(matches!(
            pool.hash("a-password-1", Lane::Registration).await,
            Err(HashError::Busy { .. })
        ));
        pool.shared.queued.store(4, Ordering::Release);
        let Err(HashError::Busy { retry_after_secs }) = pool.verify(DUMMY_PHC, "x").await else {
            panic!("a full queue must refuse");
        };
        assert!((1..=60).contains(&retry_after_secs));
        pool.shared.queued.store(0, Ordering::Release);
        let phc = pool.hash("a-password-1", Lane::Registration).await.unwrap();
        assert!(pool.verify(&phc, "a-password-1").await.unwrap());
        assert!(!pool.verify(&phc, "a-password-2").await.unwrap());
        assert_eq!(pool.shared.queued.load(Ordering::Acquire), 0);
    }
}
