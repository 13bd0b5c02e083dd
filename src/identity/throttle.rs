//! Failed-login throttling and the registration rate limit, both keyed by client address.
//!
//! Logins: failures are counted per (account, client address) and per client address. After
//! `max_failures` failures for one pair (or `address_max_failures` from one address, whatever
//! the accounts: password spraying), each further failure makes that pair (or address) wait
//! `base_delay`, then twice that, and so on up to `max_delay`, before its next attempt is
//! checked. Failures are forgotten `window` after the last one. A success clears its pair's
//! failures (not the address's: one good account must not wash a spray clean). So a person
//! whose account someone else is hammering signs in from their own address as usual.
//!
//! Only finished checks count: [`Turns`] lets one attempt per pair run at a time (the next
//! waits its turn, then sees the first's outcome: a remembered password or a failure), and a
//! few per address, so parallel guesses cannot all start before the first failure is counted,
//! and ten parallel correct first logins cost one password check, not ten, and all succeed.
//!
//! Directory accounts ([`DirectoryGuard`]): a directory with its own lockout policy (Active
//! Directory's "account lockout threshold", OpenLDAP ppolicy) counts every failed bind, from
//! anywhere. So that strangers cannot use Lokal to make the directory lock a staff member out
//! of every service, Lokal keeps a budget of failed binds per directory person: at most
//! `directory_max_failures` from clients that are not known for the account (a right
//! password from that address within [`KNOWN_FOR`]), of which at most [`ADDRESS_SHARE`]
//! from any one address, and [`KNOWN_EXTRA`] more for its known clients. Binds in flight are
//! counted as they start, so parallel attempts cannot overrun it. Failures are forgotten
//! `directory_window` after the last one; a real successful bind resets the count. Beyond the
//! budget Lokal answers without a bind.
//!
//! Registrations: a token bucket per address (`burst` at once, then one per `interval`).
//!
//! Memory is bounded: account names are kept as 128-bit digests, never as the text an
//! attacker sent, and each map holds at most `max_tracked` entries; when full, expired
//! entries go first, then the half that failed longest ago.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest as _, Sha256};

use super::client::AddrKey;
use crate::clock::Clock;

/// The settings of [`LoginThrottle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failures for one account from one address before delays start.
    pub max_failures: u32,
    /// Failures from one address, over all accounts, before delays start.
    pub address_max_failures: u32,
    /// How long failures are remembered after the last one.
    pub window: TimeDelta,
    /// The first delay; each further failure doubles it.
    pub base_delay: TimeDelta,
    pub max_delay: TimeDelta,
    /// Entries per map at most.
    pub max_tracked: usize,
    /// Failed binds per directory person from clients not known for it, from any addresses,
    /// before only its known clients may try (who get [`KNOWN_EXTRA`] more); 0 turns the
    /// guard off. Lokal causes at most this + [`KNOWN_EXTRA`] failed binds per window.
    pub directory_max_failures: u32,
    /// How long an account's failed directory logins are remembered after the last one.
    pub directory_window: TimeDelta,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            max_failures: 5,
            address_max_failures: 20,
            window: TimeDelta::minutes(15),
            base_delay: TimeDelta::seconds(1),
            max_delay: TimeDelta::minutes(5),
            max_tracked: 100_000,
            directory_max_failures: 6,
            directory_window: TimeDelta::minutes(30),
        }
    }
}

/// An account name, as the throttle keeps it: a digest, 16 bytes whatever was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountKey(u128);

impl AccountKey {
    pub fn of(login: &str) -> AccountKey {
        let digest = Sha256::digest(super::normalize_email(login).as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        AccountKey(u128::from_le_bytes(first))
    }
}

#[derive(Clone, Copy, Debug)]
struct Record {
    failures: u32,
    last: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// One map of failure records with a size cap.
struct Tracked<K> {
    map: HashMap<K, Record>,
}

impl<K: Eq + Hash + Copy> Tracked<K> {
    fn new() -> Self {
        Tracked {
            map: HashMap::new(),
        }
    }

    fn expired(r: &Record, now: DateTime<Utc>, window: TimeDelta) -> bool {
        now >= r.until && now - r.last >= window
    }

    /// How long `key` must still wait, if at all.
    fn wait(&mut self, key: K, now: DateTime<Utc>, window: TimeDelta) -> Option<TimeDelta> {
        let r = self.map.get(&key)?;
        if Self::expired(r, now, window) {
            self.map.remove(&key);
            return None;
        }
        (r.until > now).then(|| r.until - now)
    }

    fn fail(&mut self, key: K, now: DateTime<Utc>, free: u32, s: &ThrottleSettings) {
        if !self.map.contains_key(&key) && self.map.len() >= s.max_tracked {
            self.prune(now, s);
        }
        let r = self.map.entry(key).or_insert(Record {
            failures: 0,
            last: now,
            until: now,
        });
        if Self::expired(r, now, s.window) {
            r.failures = 0;
        }
        r.failures = r.failures.saturating_add(1);
        r.last = now;
        if r.failures >= free {
            let doublings = (r.failures - free).min(30);
            let delay = s
                .base_delay
                .checked_mul(1 << doublings)
                .unwrap_or(s.max_delay)
                .min(s.max_delay);
            r.until = now + delay;
        }
    }

    /// Makes room: expired entries go, then (if still full) the half that failed longest ago.
    fn prune(&mut self, now: DateTime<Utc>, s: &ThrottleSettings) {
        self.map.retain(|_, r| !Self::expired(r, now, s.window));
        if self.map.len() >= s.max_tracked {
            let mut lasts: Vec<DateTime<Utc>> = self.map.values().map(|r| r.last).collect();
            let middle = lasts.len() / 2;
            let (_, cut, _) = lasts.select_nth_unstable(middle);
            let cut = *cut;
            self.map.retain(|_, r| r.last > cut);
        }
    }
}

/// Failed-login throttling per (account, address) and per address.
pub struct LoginThrottle {
    clock: Arc<dyn Clock>,
    settings: ThrottleSettings,
    pairs: Mutex<Tracked<(AccountKey, AddrKey)>>,
    addresses: Mutex<Tracked<AddrKey>>,
    /// Pairs whose password was right lately ([`KNOWN_FOR`]): the account holder's own
    /// device. They are not slowed by their address's failures (a town hall's NAT, a library,
    /// mobile CGNAT: one stranger spraying from the same address must not lock out everyone
    /// behind it), only by their own pair's.
    known: Mutex<HashMap<(AccountKey, AddrKey), DateTime<Utc>>>,
}

/// How long a right password keeps its pair out of its address's delays.
const KNOWN_FOR: TimeDelta = TimeDelta::days(7);

/// Whole seconds to wait, at least 1.
fn secs(wait: TimeDelta) -> u64 {
    let ms = wait.num_milliseconds().max(0);
    u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1)
}

impl LoginThrottle {
    pub fn new(clock: Arc<dyn Clock>, settings: ThrottleSettings) -> Self {
        LoginThrottle {
            clock,
            settings,
            pairs: Mutex::new(Tracked::new()),
            addresses: Mutex::new(Tracked::new()),
            known: Mutex::new(HashMap::new()),
        }
    }

    /// Whether this account gave its right password from this address within [`KNOWN_FOR`].
    pub fn known(&self, account: AccountKey, addr: AddrKey) -> bool {
        self.is_known(account, addr, self.clock.now())
    }

    fn is_known(&self, account: AccountKey, addr: AddrKey, now: DateTime<Utc>) -> bool {
        lock(&self.known)
            .get(&(account, addr))
            .is_some_and(|at| now - *at < KNOWN_FOR)
    }

    /// `Err(seconds)` when this account from this address (or this address at all) must wait.
    pub fn check(&self, account: AccountKey, addr: AddrKey) -> Result<(), u64> {
        let now = self.clock.now();
        let window = self.settings.window;
        let pair = lock(&self.pairs).wait((account, addr), now, window);
        let known = self.is_known(account, addr, now);
        let address = if known {
            None
        } else {
            lock(&self.addresses).wait(addr, now, window)
        };
        match pair.max(address) {
            Some(wait) => Err(secs(wait)),
            None => Ok(()),
        }
    }

    /// A password was found wrong (or the account does not exist).
    pub fn failed(&self, account: AccountKey, addr: AddrKey) {
        let now = self.clock.now();
        let s = &self.settings;
        lock(&self.pairs).fail((account, addr), now, s.max_failures, s);
        lock(&self.addresses).fail(addr, now, s.address_max_failures, s);
    }

    /// The password was right: this pair starts afresh.
    pub fn succeeded(&self, account: AccountKey, addr: AddrKey) {
        lock(&self.pairs).map.remove(&(account, addr));
        let now = self.clock.now();
        let mut known = lock(&self.known);
        if !known.contains_key(&(account, addr)) && known.len() >= self.settings.max_tracked {
            known.retain(|_, at| now - *at < KNOWN_FOR);
            if known.len() >= self.settings.max_tracked {
                // Still full: the half seen longest ago goes.
                let mut ats: Vec<DateTime<Utc>> = known.values().copied().collect();
                let middle = ats.len() / 2;
                let (_, cut, _) = ats.select_nth_unstable(middle);
                let cut = *cut;
                known.retain(|_, at| *at > cut);
            }
        }
        known.insert((account, addr), now);
    }

    /// Entries held: (pairs, addresses).
    pub fn tracked(&self) -> (usize, usize) {
        (lock(&self.pairs).map.len(), lock(&self.addresses).map.len())
    }
}

/// Failed binds one address that is not known for the account may cause per window.
pub const ADDRESS_SHARE: u32 = 3;
/// Failed binds the account's known clients may cause beyond `directory_max_failures`.
pub const KNOWN_EXTRA: u32 = 2;

/// The budget of failed directory binds per person (see the module comment).
pub struct DirectoryGuard {
    clock: Arc<dyn Clock>,
    budget: u32,
    window: TimeDelta,
    max_tracked: usize,
    accounts: Mutex<HashMap<AccountKey, Spent>>,
}

#[derive(Debug, Default)]
struct Spent {
    failures: u32,
    in_flight: u32,
    last: Option<DateTime<Utc>>,
    /// Failures per address that was not known for the account (at most `budget` entries).
    by_address: Vec<(AddrKey, u32)>,
}

impl Spent {
    fn share(&self, addr: AddrKey) -> u32 {
        self.by_address
            .iter()
            .find(|(a, _)| *a == addr)
            .map_or(0, |(_, n)| *n)
    }
}

/// One bind Lokal is about to make, counted while it runs. Say how it ended with
/// [`BindTicket::refused`] or [`BindTicket::bound`]; dropped without either (the directory did
/// not answer), it is simply no longer in flight.
pub struct BindTicket {
    guard: Arc<DirectoryGuard>,
    account: AccountKey,
    addr: AddrKey,
    known: bool,
    open: bool,
}

impl DirectoryGuard {
    pub fn new(clock: Arc<dyn Clock>, settings: &ThrottleSettings) -> Arc<DirectoryGuard> {
        Arc::new(DirectoryGuard {
            clock,
            budget: settings.directory_max_failures,
            window: settings.directory_window,
            max_tracked: settings.max_tracked,
            accounts: Mutex::new(HashMap::new()),
        })
    }

    /// A ticket for one bind of `account` (a directory person) from `addr`, or `Err(seconds)`
    /// until the budget frees up.
    pub fn admit(
        self: &Arc<Self>,
        account: AccountKey,
        addr: AddrKey,
        known: bool,
    ) -> Result<BindTicket, u64> {
        let ticket = |open| BindTicket {
            guard: self.clone(),
            account,
            addr,
            known,
            open,
        };
        if self.budget == 0 {
            return Ok(ticket(false));
        }
        let now = self.clock.now();
        let mut accounts = lock(&self.accounts);
        if !accounts.contains_key(&account) && accounts.len() >= self.max_tracked {
            self.prune(&mut accounts, now);
        }
        let spent = accounts.entry(account).or_default();
        if spent.last.is_some_and(|last| now - last >= self.window) {
            spent.failures = 0;
            spent.by_address.clear();
            spent.last = None;
        }
        let taken = spent.failures + spent.in_flight;
        let allowed = if known {
            taken < self.budget + KNOWN_EXTRA
        } else {
            taken < self.budget && spent.share(addr) < ADDRESS_SHARE
        };
        if !allowed {
            // Only failures keep an account here: one with binds in flight only frees up as
            // they end, soon; say a second.
            let wait = spent
                .last
                .map_or(TimeDelta::seconds(1), |last| last + self.window - now);
            return Err(secs(wait));
        }
        spent.in_flight += 1;
        Ok(ticket(true))
    }

    fn end(&self, account: AccountKey, addr: AddrKey, known: bool, outcome: Option<bool>) {
        let now = self.clock.now();
        let mut accounts = lock(&self.accounts);
        let Some(spent) = accounts.get_mut(&account) else {
            return;
        };
        spent.in_flight = spent.in_flight.saturating_sub(1);
        match outcome {
            Some(true) => {
                accounts.remove(&account);
            }
            Some(false) => {
                spent.failures = spent.failures.saturating_add(1);
                spent.last = Some(now);
                if !known {
                    match spent.by_address.iter_mut().find(|(a, _)| *a == addr) {
                        Some((_, n)) => *n += 1,
                        None => spent.by_address.push((addr, 1)),
                    }
                }
            }
            None => {
                if spent.failures == 0 && spent.in_flight == 0 {
                    accounts.remove(&account);
                }
            }
        }
    }

    /// Makes room: forgotten accounts go, then the half with the oldest failures that have not
    /// spent their budget (a spent one must not be washed out by a flood of others).
    fn prune(&self, accounts: &mut HashMap<AccountKey, Spent>, now: DateTime<Utc>) {
        accounts.retain(|_, s| s.in_flight > 0 || s.last.is_some_and(|l| now - l < self.window));
        if accounts.len() >= self.max_tracked {
            let mut lasts: Vec<DateTime<Utc>> = accounts
                .values()
                .filter(|s| s.failures < self.budget && s.in_flight == 0)
                .filter_map(|s| s.last)
                .collect();
            if lasts.is_empty() {
                return;
            }
            let middle = lasts.len() / 2;
            let (_, cut, _) = lasts.select_nth_unstable(middle);
            let cut = *cut;
            let budget = self.budget;
            accounts.retain(|_, s| {
                s.failures >= budget || s.in_flight > 0 || s.last.is_none_or(|l| l > cut)
            });
        }
    }

    /// Persons with failures or binds in flight remembered.
    pub fn tracked(&self) -> usize {
        lock(&self.accounts).len()
    }
}

impl BindTicket {
    /// The directory refused the password.
    pub fn refused(mut self) {
        if self.open {
            self.open = false;
            self.guard
                .end(self.account, self.addr, self.known, Some(false));
        }
    }

    /// The bind succeeded: the count starts afresh.
    pub fn bound(mut self) {
        if self.open {
            self.open = false;
            self.guard
                .end(self.account, self.addr, self.known, Some(true));
        }
    }
}

impl Drop for BindTicket {
    fn drop(&mut self) {
        if self.open {
            self.guard.end(self.account, self.addr, self.known, None);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// New accounts per address: a token bucket as a "theoretical arrival time" (GCRA): one
/// instant per address.
pub struct RegistrationThrottle {
    clock: Arc<dyn Clock>,
    burst: u32,
    interval: TimeDelta,
    max_tracked: usize,
    next: Mutex<HashMap<AddrKey, DateTime<Utc>>>,
}

impl RegistrationThrottle {
    pub fn new(clock: Arc<dyn Clock>, burst: u32, interval: TimeDelta, max_tracked: usize) -> Self {
        RegistrationThrottle {
            clock,
            burst: burst.max(1),
            interval,
            max_tracked,
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one registration for `addr`, or says how many seconds until one is free.
    pub fn take(&self, addr: AddrKey) -> Result<(), u64> {
        let now = self.clock.now();
        let allowance = self
            .interval
            .checked_mul(i32::try_from(self.burst).unwrap_or(i32::MAX))
            .unwrap_or(TimeDelta::MAX);
        let mut map = lock(&self.next);
        if !map.contains_key(&addr) && map.len() >= self.max_tracked {
            map.retain(|_, t| *t > now);
            if map.len() >= self.max_tracked {
                let mut ts: Vec<DateTime<Utc>> = map.values().copied().collect();
                let middle = ts.len() / 2;
                let (_, cut, _) = ts.select_nth_unstable(middle);
                let cut = *cut;
                map.retain(|_, t| *t > cut);
            }
        }
        let tat = map.get(&addr).copied().unwrap_or(now).max(now);
        let new_tat = tat + self.interval;
        if new_tat - now > allowance {
            return Err(secs(new_tat - allowance - now));
        }
        map.insert(addr, new_tat);
        Ok(())
    }

    /// Returns a registration that was not used (the server was too busy to hash).
    pub fn give_back(&self, addr: AddrKey) {
        let now = self.clock.now();
        let mut map = lock(&self.next);
        if let Some(t) = map.get_mut(&addr) {
            *t -= self.interval;
            if *t <= now {
                map.remove(&addr);
            }
        }
    }

    pub fn tracked(&self) -> usize {
        lock(&self.next).len()
    }
}

/// Entries shared by the attempts running or waiting for one key.
type Shared<K, V> = Arc<Mutex<HashMap<K, Arc<V>>>>;

/// Whose turn it is: one attempt per (account, address) at a time, and at most
/// `per_address` at a time from one address. Waiting is not failing.
pub struct Turns {
    pairs: Shared<(AccountKey, AddrKey), tokio::sync::Mutex<()>>,
    addresses: Shared<AddrKey, tokio::sync::Semaphore>,
    per_address: usize,
}

/// Holds a turn; gives it back (and forgets idle keys) when dropped.
pub struct Turn {
    // Fields drop in order: the permits first, then the tickets that clean the maps.
    _pair: Option<tokio::sync::OwnedMutexGuard<()>>,
    _address: Option<tokio::sync::OwnedSemaphorePermit>,
    _pair_ticket: Ticket<(AccountKey, AddrKey), tokio::sync::Mutex<()>>,
    _address_ticket: Ticket<AddrKey, tokio::sync::Semaphore>,
}

/// A share in one map entry; the last share out removes the entry, also when the waiting
/// request is cancelled.
struct Ticket<K: Eq + Hash + Copy, V> {
    map: Shared<K, V>,
    key: K,
    value: Arc<V>,
}

impl<K: Eq + Hash + Copy, V> Ticket<K, V> {
    fn take(map: &Shared<K, V>, key: K, make: impl FnOnce() -> V) -> Self {
        let value = lock(map)
            .entry(key)
            .or_insert_with(|| Arc::new(make()))
            .clone();
        Ticket {
            map: map.clone(),
            key,
            value,
        }
    }
}

impl<K: Eq + Hash + Copy, V> Drop for Ticket<K, V> {
    fn drop(&mut self) {
        let mut map = lock(&self.map);
        // Shares are made under this lock, so a count of 2 (the map's and this one) means
        // nobody else holds or waits for this entry.
        if Arc::strong_count(&self.value) == 2
            && map
                .get(&self.key)
                .is_some_and(|v| Arc::ptr_eq(v, &self.value))
        {
            map.remove(&self.key);
        }
    }
}

impl Turns {
    pub fn new(per_address: usize) -> Self {
        Turns {
            pairs: Arc::new(Mutex::new(HashMap::new())),
            addresses: Arc::new(Mutex::new(HashMap::new())),
            per_address: per_address.max(1),
        }
    }

    /// Waits for this pair's turn, then for a place among the address's attempts.
    pub async fn wait(&self, account: AccountKey, addr: AddrKey) -> Turn {
        let pair_ticket =
            Ticket::take(&self.pairs, (account, addr), || tokio::sync::Mutex::new(()));
        let address_ticket = Ticket::take(&self.addresses, addr, || {
            tokio::sync::Semaphore::new(self.per_address)
        });
        let pair = pair_ticket.value.clone().lock_owned().await;
        let address = address_ticket.value.clone().acquire_owned().await.ok();
        Turn {
            _pair: Some(pair),
            _address: address,
            _pair_ticket: pair_ticket,
            _address_ticket: address_ticket,
        }
    }

    /// Keys with an attempt running or waiting: (pairs, addresses).
    pub fn tracked(&self) -> (usize, usize) {
        (lock(&self.pairs).len(), lock(&self.addresses).len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn at() -> DateTime<Utc> {
        "2027-01-04T09:00:00Z".parse().unwrap()
    }

    fn throttle(clock: &Arc<ManualClock>, settings: ThrottleSettings) -> LoginThrottle {
        LoginThrottle::new(clock.clone(), settings)
    }

    const HOME: AddrKey = AddrKey::V4(0x7f00_0002);
    const ELSEWHERE: AddrKey = AddrKey::V4(0x7f00_0003);

    #[test]
    fn delays_start_after_the_free_failures_and_double_up_to_the_cap() {
        let clock = Arc::new(ManualClock::new(at()));
        let t = throttle(
            &clock,
            ThrottleSettings {
                max_delay: TimeDelta::seconds(8),
                ..ThrottleSettings::default()
            },
        );
        let erik = AccountKey::of("erik.dahl");
        for _ in 0..4 {
            assert_eq!(t.check(erik, HOME), Ok(()));
            t.failed(erik, HOME);
        }
        assert_eq!(t.check(erik, HOME), Ok(()));
        t.failed(erik, HOME);
        let mut waits = Vec::new();
        for _ in 0..6 {
            let Err(wait) = t.check(erik, HOME) else {
                panic!("the fifth failure makes the next attempt wait");
            };
            waits.push(wait);
            clock.advance(TimeDelta::seconds(i64::try_from(wait).unwrap()));
            assert_eq!(t.check(erik, HOME), Ok(()));
            t.failed(erik, HOME);
        }
        assert_eq!(waits, [1, 2, 4, 8, 8, 8]);
        // The account itself is not locked: from another address it is checked at once.
        assert_eq!(t.check(erik, ELSEWHERE), Ok(()));
        // Names are compared as logins are: case and spaces do not make a new pair.
        assert!(t.check(AccountKey::of(" Erik.Dahl "), HOME).is_err());
    }

    #[test]
    fn failures_are_forgotten_after_the_window_and_a_success_clears_its_pair() {
        let clock = Arc::new(ManualClock::new(at()));
        let t = throttle(&clock, ThrottleSettings::default());
        let kari = AccountKey::of("kari@example.no");
        for _ in 0..5 {
            t.failed(kari, HOME);
        }
        assert_eq!(t.check(kari, HOME), Err(1));
        clock.advance(TimeDelta::minutes(15));
        assert_eq!(t.check(kari, HOME), Ok(()));
        assert_eq!(t.tracked(), (0, 0), "expired records are dropped when seen");
        // Four failures, a success, four more: never a delay.
        for _ in 0..4 {
            t.failed(kari, HOME);
        }
        t.succeeded(kari, HOME);
        for _ in 0..4 {
            t.failed(kari, HOME);
        }
        assert_eq!(t.check(kari, HOME), Ok(()));
    }

    #[test]
    fn spraying_one_password_over_many_accounts_slows_the_address_not_the_accounts() {
        let clock = Arc::new(ManualClock::new(at()));
        let t = throttle(&clock, ThrottleSettings::default());
        for n in 0..20 {
            let account = AccountKey::of(&format!("person{n}@example.no"));
            assert_eq!(t.check(account, HOME), Ok(()), "attempt {n}");
            t.failed(account, HOME);
        }
        let next = AccountKey::of("person20@example.no");
        assert_eq!(t.check(next, HOME), Err(1));
        // A success for one's own account does not wash the address clean.
        t.succeeded(AccountKey::of("spray@example.no"), HOME);
        assert_eq!(t.check(next, HOME), Err(1));
        assert_eq!(t.check(next, ELSEWHERE), Ok(()));
    }

    #[test]
    fn strangers_cannot_spend_a_persons_bind_budget_beyond_it_nor_alone_and_known_clients_still_try()
     {
        let clock = Arc::new(ManualClock::new(at()));
        let g = DirectoryGuard::new(clock.clone(), &ThrottleSettings::default());
        let erik = AccountKey::of("uuid-of-erik");
        let stranger = |n: u32| AddrKey::V4(0xc000_0200 + n);
        // One stranger's address may cause at most ADDRESS_SHARE failed binds.
        for _ in 0..ADDRESS_SHARE {
            g.admit(erik, stranger(0), false).unwrap().refused();
        }
        assert!(g.admit(erik, stranger(0), false).is_err());
        assert!(
            g.admit(erik, stranger(1), false).is_ok(),
            "another address still may"
        );
        // Binds in flight count as they start: parallel attempts cannot overrun the budget.
        let in_flight: Vec<BindTicket> = (1..10)
            .filter_map(|n| g.admit(erik, stranger(n), false).ok())
            .collect();
        assert_eq!(in_flight.len(), 3, "6 - 3 failures = 3 may run at once");
        for t in in_flight {
            t.refused();
        }
        // Spent for strangers and new devices, for 30 minutes after the last failure...
        assert_eq!(g.admit(erik, stranger(50), false).err(), Some(30 * 60));
        // ...while a known client gets KNOWN_EXTRA more, and no more.
        let office = AddrKey::V4(0x0a00_0001);
        g.admit(erik, office, true).unwrap().refused();
        g.admit(erik, office, true).unwrap().refused();
        assert!(
            g.admit(erik, office, true).is_err(),
            "8 failed binds at most"
        );
        // Another person is untouched.
        assert!(
            g.admit(AccountKey::of("uuid-of-kari"), stranger(0), false)
                .is_ok()
        );
        // A bind that ends without an answer frees its slot and counts nothing.
        clock.advance(TimeDelta::minutes(30));
        drop(g.admit(erik, stranger(0), false).unwrap());
        // A real successful bind starts the count afresh.
        for n in 0..6 {
            g.admit(erik, stranger(n), false).unwrap().refused();
        }
        assert!(g.admit(erik, stranger(60), false).is_err());
        g.admit(erik, office, true).unwrap().bound();
        assert!(g.admit(erik, stranger(60), false).is_ok());
        // Off when the budget is 0.
        let off = DirectoryGuard::new(
            clock.clone(),
            &ThrottleSettings {
                directory_max_failures: 0,
                ..ThrottleSettings::default()
            },
        );
        for _ in 0..100 {
            off.admit(erik, stranger(0), false).unwrap().refused();
        }
        assert_eq!(off.tracked(), 0);
    }

    #[test]
    fn someone_who_logged_in_from_a_shared_address_is_not_slowed_by_a_stranger_spraying_from_it() {
        let clock = Arc::new(ManualClock::new(at()));
        let t = throttle(&clock, ThrottleSettings::default());
        let kari = AccountKey::of("kari@example.no");
        assert_eq!(t.check(kari, HOME), Ok(()));
        t.succeeded(kari, HOME);
        // A stranger behind the same NAT sprays.
        for n in 0..25 {
            t.failed(AccountKey::of(&format!("person{n}@example.no")), HOME);
        }
        let stranger = AccountKey::of("person25@example.no");
        assert!(t.check(stranger, HOME).is_err(), "the sprayer is slowed");
        // Kari, known from this address, is not; her own wrong passwords still count.
        assert_eq!(t.check(kari, HOME), Ok(()));
        for _ in 0..5 {
            t.failed(kari, HOME);
        }
        assert!(t.check(kari, HOME).is_err());
        // Known for a week, not for ever.
        t.succeeded(kari, HOME);
        clock.advance(KNOWN_FOR);
        for n in 0..25 {
            t.failed(AccountKey::of(&format!("person{n}@example.no")), HOME);
        }
        assert!(t.check(kari, HOME).is_err());
    }

    #[test]
    fn memory_stays_under_the_cap_whatever_names_and_addresses_are_sent() {
        let clock = Arc::new(ManualClock::new(at()));
        let t = throttle(
            &clock,
            ThrottleSettings {
                max_tracked: 1000,
                ..ThrottleSettings::default()
            },
        );
        for n in 0..10_000u32 {
            // A long random-looking name each time, from an IPv6 address of its own /64.
            let name = format!("{n}-{}", "x".repeat(2000));
            t.failed(AccountKey::of(&name), AddrKey::V6(u64::from(n)));
            let (pairs, addresses) = t.tracked();
            assert!(pairs <= 1000 && addresses <= 1000, "{pairs} {addresses}");
        }
        // The newest are kept: the last attacker is still remembered.
        assert!(t.tracked().0 > 400);
        let r = RegistrationThrottle::new(clock.clone(), 2, TimeDelta::seconds(60), 1000);
        for n in 0..10_000u64 {
            let _ = r.take(AddrKey::V6(n));
            assert!(r.tracked() <= 1000);
        }
    }

    #[test]
    fn registrations_come_in_a_burst_then_one_per_interval_and_unused_ones_return() {
        let clock = Arc::new(ManualClock::new(at()));
        let r = RegistrationThrottle::new(clock.clone(), 3, TimeDelta::seconds(60), 100);
        for _ in 0..3 {
            assert_eq!(r.take(HOME), Ok(()));
        }
        assert_eq!(r.take(HOME), Err(60));
        assert_eq!(r.take(ELSEWHERE), Ok(()));
        r.give_back(HOME);
        assert_eq!(r.take(HOME), Ok(()));
        clock.advance(TimeDelta::seconds(59));
        assert_eq!(r.take(HOME), Err(1));
        clock.advance(TimeDelta::seconds(1));
        assert_eq!(r.take(HOME), Ok(()));
        clock.advance(TimeDelta::hours(1));
        for _ in 0..3 {
            assert_eq!(r.take(HOME), Ok(()));
        }
    }

    #[tokio::test]
    async fn one_turn_per_pair_a_few_per_address_and_idle_keys_are_forgotten() {
        let turns = Arc::new(Turns::new(2));
        let kari = AccountKey::of("kari@example.no");
        let first = turns.wait(kari, HOME).await;
        // The same pair waits; a waiter that gives up leaves nothing behind.
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), turns.wait(kari, HOME))
                .await;
        assert!(waiting.is_err(), "a second attempt of the pair waits");
        // Another account from the same address runs beside it; a third waits for a place.
        let second = turns.wait(AccountKey::of("ola@example.no"), HOME).await;
        let third = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            turns.wait(AccountKey::of("per@example.no"), HOME),
        )
        .await;
        assert!(third.is_err(), "two per address at a time");
        drop(first);
        let again = turns.wait(kari, HOME).await;
        drop((again, second));
        assert_eq!(turns.tracked(), (0, 0));
    }
}
