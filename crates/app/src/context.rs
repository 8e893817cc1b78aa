//! The long-running context: one writer thread, a pool of readers, and the snapshot.

use crate::Receipt;
use crate::actor::Actor;
use crate::error::{AppError, AppResult};
use crate::queries::PersonRef;
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use valuetree_core::NaiveDate;
use valuetree_core::clock::Clock;
use valuetree_core::credit::{
    CreditContribution, CreditData, CreditOutcome, Engine, Explanation, Policy, Status, day,
};
use valuetree_core::domain::{EdgeRecord, MemberRecord, PolicyKind};
use valuetree_core::event::Event;
use valuetree_core::org::Placement;
use valuetree_core::state::{EdgeKey, MemberKey, State};
use valuetree_store::{Head, ImportSummary, Preload, Store, StoreError};

/// The immutable state a query reads: the master data of the ledger at `head` (people, org,
/// value tree, memberships, hand-overs, cycles, roles), and a credit engine built on first
/// use. A new snapshot is published after each commit and when another process wrote.
pub struct Snapshot {
    pub head: Option<Head>,
    /// Shared between snapshots while only facts change (every new contribution makes a new
    /// snapshot; copying the master data of a large organisation for each would not do).
    pub state: Arc<State>,
    credit: OnceLock<Result<Arc<Engine>, String>>,
    /// Until credit is asked for: an engine of an earlier head and the events since, which
    /// it follows then (a stream of writes must not pay for updating, and copying, an engine
    /// nobody reads).
    credit_behind: Mutex<Option<CreditBehind>>,
    memberships: OnceLock<Arc<MembershipIndex>>,
    /// The nodes each person leads now, built on first use (a person's record must not walk
    /// every node); kept across catch-ups that change no master data.
    leads: OnceLock<Arc<LeadIndex>>,
    /// The links into each node (the map of links is ordered by parent), built on first use
    /// and kept across catch-ups that change no master data.
    parents: OnceLock<Arc<ParentIndex>>,
    /// The credit breakdowns of the nodes asked for, with the engine they were made from.
    node_credit: Mutex<HashMap<u32, Arc<Vec<Explanation>>>>,
    /// Everyone's placement on a date, for the dates asked.
    placements: Mutex<HashMap<NaiveDate, Arc<OrgOnDate>>>,
    /// The reviews asked of a person in a cycle, by (cycle, person): every home page shows
    /// them, and they take dozens of reviewer rankings to find.
    pub(crate) reviews_to_write:
        Mutex<HashMap<(String, String), Arc<crate::queries::ReviewsToWrite>>>,
    /// The master data with one cycle's ratings and scores, by cycle (see `cycle_state`).
    pub(crate) cycle_states: Mutex<HashMap<String, Arc<State>>>,
    /// What the diagnostics read over every outcome (the org timeline, the contributions,
    /// the warm engine), built on first use: HR's pages ask several in a row.
    pub(crate) diagnostics: OnceLock<Arc<crate::queries::DiagnosticsBase>>,
}

/// How many cycles' states a snapshot keeps: each is a copy of the master data, so one (the
/// cycle being calibrated).
pub(crate) const CYCLE_STATES_KEPT: usize = 1;

/// The organisation on one date: everyone's placement, sorted by unit then person, and each
/// unit's head count.
pub struct OrgOnDate {
    pub placements: Vec<Placement>,
    pub head_counts: HashMap<String, usize>,
}

/// How many dates of placements a snapshot keeps.
const PLACEMENT_DATES: usize = 16;

/// Each person's memberships (keys into `state.members`), built on first use: a person's
/// record must not walk every membership of the organisation.
type MembershipIndex = HashMap<String, Vec<MemberKey>>;

/// The nodes each person leads now, sorted.
type LeadIndex = HashMap<String, Vec<String>>;

/// The keys of the links into each node.
type ParentIndex = HashMap<String, Vec<EdgeKey>>;

/// How many nodes' credit breakdowns a snapshot keeps.
const NODE_CREDIT_KEPT: usize = 4096;

impl Snapshot {
    fn new(head: Option<Head>, state: Arc<State>) -> Snapshot {
        Snapshot {
            head,
            state,
            credit: OnceLock::new(),
            credit_behind: Mutex::new(None),
            memberships: OnceLock::new(),
            leads: OnceLock::new(),
            parents: OnceLock::new(),
            node_credit: Mutex::new(HashMap::new()),
            placements: Mutex::new(HashMap::new()),
            reviews_to_write: Mutex::new(HashMap::new()),
            cycle_states: Mutex::new(HashMap::new()),
            diagnostics: OnceLock::new(),
        }
    }

    /// Everyone employed on `date` with their unit and manager, sorted by unit then person;
    /// computed once per date and snapshot (and kept across catch-ups that change no
    /// master data).
    pub fn placements(&self, date: NaiveDate) -> Arc<OrgOnDate> {
        // Held while computing: the many requests arriving together on a new snapshot wait
        // for one computation rather than each making its own.
        let mut cache = self.placements.lock().ok();
        if let Some(found) = cache.as_ref().and_then(|c| c.get(&date)) {
            return found.clone();
        }
        let mut placements = valuetree_core::org::org_as_of(&self.state, date);
        placements.sort_by(|a, b| (&a.unit_id, &a.person_id).cmp(&(&b.unit_id, &b.person_id)));
        let mut head_counts: HashMap<String, usize> = HashMap::new();
        for p in &placements {
            if let Some(unit) = &p.unit_id {
                *head_counts.entry(unit.clone()).or_default() += 1;
            }
        }
        let placements = Arc::new(OrgOnDate {
            placements,
            head_counts,
        });
        if let Some(cache) = cache.as_mut() {
            if cache.len() >= PLACEMENT_DATES {
                cache.clear();
            }
            cache.insert(date, placements.clone());
        }
        placements
    }

    /// The nodes `person_id` leads now, sorted.
    pub fn nodes_led_by(&self, person_id: &str) -> &[String] {
        let index = self.leads.get_or_init(|| {
            let mut index = LeadIndex::new();
            for node in self.state.nodes.keys() {
                if let Some(lead) = self.state.current_lead(node) {
                    index.entry(lead.clone()).or_default().push(node.clone());
                }
            }
            for nodes in index.values_mut() {
                nodes.sort();
            }
            Arc::new(index)
        });
        index.get(person_id).map_or(&[], Vec::as_slice)
    }

    /// The links into `node_id`, in key order.
    pub fn edges_into(&self, node_id: &str) -> Vec<&EdgeRecord> {
        let index = self.parents.get_or_init(|| {
            let mut index = ParentIndex::new();
            for key in self.state.edges.keys() {
                index.entry(key.1.clone()).or_default().push(key.clone());
            }
            Arc::new(index)
        });
        index
            .get(node_id)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| self.state.edges.get(k))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Node `node`'s credit breakdown by `engine` (this snapshot's), computed once.
    pub fn node_credit(&self, engine: &Engine, node: u32) -> Arc<Vec<Explanation>> {
        if let Ok(kept) = self.node_credit.lock()
            && let Some(lines) = kept.get(&node)
        {
            return lines.clone();
        }
        let lines = Arc::new(engine.explain_node(node));
        if let Ok(mut kept) = self.node_credit.lock() {
            if kept.len() >= NODE_CREDIT_KEPT {
                kept.clear();
            }
            kept.insert(node, lines.clone());
        }
        lines
    }

    /// The person's memberships of nodes, in key order (node, then date joined).
    pub fn memberships_of(&self, person_id: &str) -> Vec<&MemberRecord> {
        let index = self.memberships.get_or_init(|| {
            let mut index = MembershipIndex::new();
            for key in self.state.members.keys() {
                index.entry(key.1.clone()).or_default().push(key.clone());
            }
            Arc::new(index)
        });
        index
            .get(person_id)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| self.state.members.get(k))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The credit engine over every outcome with the default policy, if built already.
    pub fn built_credit(&self) -> Option<Arc<Engine>> {
        self.credit.get().and_then(|r| r.as_ref().ok().cloned())
    }

    /// Whether this snapshot's credit can be had without a rebuild: an engine is built, or
    /// an earlier one waits with the events it is to follow.
    pub fn has_warm_credit(&self) -> bool {
        self.built_credit().is_some()
            || self
                .credit_behind
                .lock()
                .is_ok_and(|behind| behind.is_some())
    }

    /// An engine this snapshot's credit can be had from without a rebuild, with the events
    /// it must follow first.
    fn credit_behind(&self) -> Option<CreditBehind> {
        match self.built_credit() {
            Some(engine) => Some(CreditBehind {
                engine,
                log: Arc::new(Mutex::new(Vec::new())),
                upto: 0,
            }),
            None => self.credit_behind.lock().ok()?.clone(),
        }
    }

    /// Keeps `behind` (an engine and the events it must follow) for when credit is asked
    /// for: applied at once when there are none or too many to keep.
    fn follow_credit(&self, behind: CreditBehind) {
        if behind.upto == 0 {
            let _ = self.credit.set(Ok(behind.engine));
        } else if behind.upto >= CREDIT_PENDING_LIMIT {
            if let Some(updated) = behind.apply() {
                let _ = self.credit.set(Ok(Arc::new(updated)));
            }
        } else if let Ok(mut kept) = self.credit_behind.lock() {
            *kept = Some(behind);
        }
    }
}

/// An engine built for an earlier head, and the events appended since: the first `upto`
/// of a log that the snapshots after that head share and append to (a snapshot must not
/// copy every pending event: they are many while nobody asks for credit).
#[derive(Clone)]
struct CreditBehind {
    engine: Arc<Engine>,
    log: Arc<Mutex<Vec<Event>>>,
    upto: usize,
}

impl CreditBehind {
    /// The same engine followed by `events` as well.
    fn and_then(mut self, events: &[Event]) -> CreditBehind {
        let Ok(mut log) = self.log.lock() else {
            return self;
        };
        if log.len() == self.upto {
            log.extend(events.iter().cloned());
            self.upto = log.len();
            drop(log);
            self
        } else {
            // Another snapshot appended after this one's events: a log of this one's own.
            let mut own = log[..self.upto].to_vec();
            drop(log);
            own.extend(events.iter().cloned());
            CreditBehind {
                engine: self.engine,
                upto: own.len(),
                log: Arc::new(Mutex::new(own)),
            }
        }
    }

    /// The engine after the events; `None` when it must be rebuilt.
    fn apply(self) -> Option<Engine> {
        // A copy, so that the log is not held (a catch-up appending to it would wait, with
        // the snapshot lock) while the engine follows the events.
        let events = self.log.lock().ok()?[..self.upto].to_vec();
        update_credit(self.engine, &events)
    }
}

/// Events kept for a credit engine to follow before they are applied anyway (a bound on
/// the memory they hold; applying them costs about one copy of the engine).
const CREDIT_PENDING_LIMIT: usize = 200_000;

/// What is left of a job once its work ran: answering its caller, told whether the work
/// was committed (`Err`: it was undone with its group, and why).
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A job's work: given the store (or why it cannot be opened), it writes and says how to
/// answer once the commit is known.
type Work = Box<dyn FnOnce(Result<&mut Store, String>) -> Finish + Send>;

/// A write for the writer thread.
struct Job {
    /// May share a transaction with other writes (group commit). Imports and rebuilds,
    /// which manage their own large transactions, may not.
    groupable: bool,
    work: Work,
}

/// At most this many writes share one commit.
const MAX_GROUP: usize = 256;

/// The one writer: a thread owning the store's write connection (opened on the first
/// write), fed through a channel. The writes queued while one was being written are
/// written together in one transaction, each in a savepoint of its own, and answered only
/// once that transaction is committed (group commit: one sync for all of them, so many
/// concurrent writers each wait for about one commit). A job that panics is reported as an
/// error to its caller, undoes its group (whose callers are told), and the connection is
/// dropped (reopened by the next job), so the thread lives on.
struct Writer {
    /// The queue, or why the writer thread could not be started (reported on each write).
    jobs: Result<Mutex<mpsc::Sender<Job>>, String>,
    /// The thread, joined when the application is dropped so that queued writes land.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has run what was queued.
        self.jobs = Err("the application is stopping".into());
        if let Ok(mut thread) = self.thread.lock()
            && let Some(thread) = thread.take()
        {
            let _ = thread.join();
        }
    }
}

/// Runs one job's work on `store`; `None` if it panicked (its caller hears of it through
/// its dropped reply).
fn run_job(job: Job, store: &mut Store) -> Option<Finish> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.work)(Ok(store)))).ok()
}

/// The writer thread's loop: takes the next job and every groupable job queued behind it.
fn write_jobs(receive: mpsc::Receiver<Job>, location: String, clock: Arc<dyn Clock>) {
    let mut store: Option<Store> = None;
    let mut next: Option<Job> = None;
    loop {
        let first = match next.take() {
            Some(job) => job,
            None => match receive.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        if store.is_none() {
            match Store::open(&location, clock.clone()) {
                Ok(opened) => store = Some(opened),
                Err(e) => {
                    (first.work)(Err(e.to_string()))(Ok(()));
                    continue;
                }
            }
        }
        let Some(open) = store.as_mut() else { continue };
        let mut group = vec![first];
        if group[0].groupable {
            while group.len() < MAX_GROUP {
                match receive.try_recv() {
                    Ok(job) if job.groupable => group.push(job),
                    Ok(job) => {
                        next = Some(job);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
        if group.len() == 1 {
            let job = group.pop().expect("a group of one");
            match run_job(job, open) {
                Some(finish) => finish(Ok(())),
                None => store = None,
            }
            continue;
        }
        if let Err(e) = open.begin_group() {
            let reason = format!("cannot start a transaction: {e}");
            for job in group {
                (job.work)(Err(reason.clone()))(Ok(()));
            }
            store = None;
            continue;
        }
        let mut finishes = Vec::with_capacity(group.len());
        let mut panicked = false;
        for job in group {
            match run_job(job, open) {
                Some(finish) => finishes.push(finish),
                None => {
                    panicked = true;
                    break;
                }
            }
        }
        let committed =
            if panicked {
                let _ = open.end_group(false);
                Err("another write of the same commit failed; nothing of it was recorded, try again"
                .to_string())
            } else {
                open.end_group(true)
                    .map_err(|e| format!("the commit failed: {e}"))
            };
        if committed.is_err() {
            store = None;
        }
        for finish in finishes {
            finish(committed.clone());
        }
    }
}

impl Writer {
    fn start(location: String, clock: Arc<dyn Clock>) -> Writer {
        let (send, receive) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("valuetree-writer".into())
            .spawn(move || write_jobs(receive, location, clock));
        match started {
            Ok(thread) => Writer {
                jobs: Ok(Mutex::new(send)),
                thread: Mutex::new(Some(thread)),
            },
            Err(e) => Writer {
                jobs: Err(format!("cannot start the writer thread: {e}")),
                thread: Mutex::new(None),
            },
        }
    }

    fn queue(&self, job: Job) -> Result<(), String> {
        self.jobs
            .as_ref()
            .map_err(Clone::clone)?
            .lock()
            .map_err(|_| "the writer's queue is poisoned".to_string())?
            .send(job)
            .map_err(|_| "the writer thread has stopped".to_string())
    }

    /// Runs `work` on the writer thread and answers once it is committed.
    fn run<T: Send + 'static>(
        &self,
        groupable: bool,
        work: impl FnOnce(&mut Store) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let (reply, answer) = mpsc::channel();
        let job = Job {
            groupable,
            work: Box::new(move |store| {
                let result = match store {
                    Ok(store) => work(store),
                    Err(reason) => Err(AppError::Internal(reason)),
                };
                Box::new(move |committed: Result<(), String>| {
                    let answer = match (result, committed) {
                        (Ok(_), Err(reason)) => Err(AppError::Internal(reason)),
                        (result, _) => result,
                    };
                    let _ = reply.send(answer);
                })
            }),
        };
        self.queue(job).map_err(AppError::Internal)?;
        answer.recv().map_err(|_| {
            AppError::Internal("the write failed inside the writer thread (it panicked)".into())
        })?
    }

    /// Queues `work` without waiting for it (its failure is logged).
    fn send(&self, work: impl FnOnce(&mut Store) -> AppResult<()> + Send + 'static) {
        let job = Job {
            groupable: true,
            work: Box::new(move |store| {
                let result = match store {
                    Ok(store) => work(store),
                    Err(reason) => Err(AppError::Internal(reason)),
                };
                Box::new(move |committed: Result<(), String>| {
                    if let Err(e) = result.and(committed.map_err(AppError::Internal)) {
                        tracing::warn!(error = %e, "a queued write failed");
                    }
                })
            }),
        };
        if let Err(e) = self.queue(job) {
            tracing::warn!(error = %e, "a write could not be queued");
        }
    }
}

/// How often a snapshot looks for writes made by other processes.
const POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Events a snapshot applies one by one before it reloads instead.
const CATCH_UP_LIMIT: usize = 10_000;

/// The application: what a face holds, for one command or for days.
pub struct App {
    location: String,
    clock: Arc<dyn Clock>,
    writer: Writer,
    readers: Mutex<Vec<Store>>,
    snapshot: Mutex<Option<Arc<Snapshot>>>,
    /// Writes made through this application (the next read must see them).
    writes: std::sync::atomic::AtomicU64,
    /// When the head was last read from the database, and the writes seen then.
    polled: Mutex<Option<(std::time::Instant, u64)>>,
    throttle: crate::accounts::Throttle,
    account_policy: crate::accounts::AccountPolicy,
}

impl App {
    /// An application over the database at `location` (a SQLite path or a PostgreSQL URL).
    /// Nothing is opened yet: a read opens a reader (and refuses a database that does not
    /// exist), the first write opens the writer.
    pub fn new(location: &str, clock: Arc<dyn Clock>) -> App {
        App {
            location: location.to_string(),
            writer: Writer::start(location.to_string(), clock.clone()),
            clock,
            readers: Mutex::new(Vec::new()),
            snapshot: Mutex::new(None),
            writes: std::sync::atomic::AtomicU64::new(0),
            polled: Mutex::new(None),
            throttle: crate::accounts::Throttle::default(),
            account_policy: crate::accounts::AccountPolicy::default(),
        }
    }

    /// The same application with another session and sign-in policy.
    pub fn with_account_policy(mut self, policy: crate::accounts::AccountPolicy) -> App {
        self.account_policy = policy;
        self
    }

    pub fn account_policy(&self) -> crate::accounts::AccountPolicy {
        self.account_policy.clone()
    }

    pub(crate) fn throttle(&self) -> &crate::accounts::Throttle {
        &self.throttle
    }

    pub fn today(&self) -> NaiveDate {
        self.clock.today()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `work` on a read connection (from the pool, or a new one).
    pub(crate) fn read<T>(&self, work: impl FnOnce(&mut Store) -> AppResult<T>) -> AppResult<T> {
        let pooled = self.readers.lock().ok().and_then(|mut pool| pool.pop());
        let mut store = match pooled {
            Some(store) => store,
            None => Store::open_existing(&self.location, self.clock.clone())?,
        };
        let result = work(&mut store);
        if let Ok(mut pool) = self.readers.lock() {
            pool.push(store);
        }
        result
    }

    /// Runs `work` on the writer thread.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let result = self.writer.run(true, work);
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        result
    }

    /// Queues a write that nothing waits for (an audit entry of a read): the read is not
    /// slowed by it, and the writer thread records it in order with everything else.
    pub(crate) fn write_later(
        &self,
        work: impl FnOnce(&mut Store) -> AppResult<()> + Send + 'static,
    ) {
        self.writer.send(work);
    }

    /// Appends the events `decide` returns, decided from the state they are appended to
    /// (under the writer lock), as `actor`. The snapshot follows.
    pub(crate) fn append_decided(
        &self,
        actor: &Actor,
        preload: Preload,
        decide: impl FnOnce(&State) -> AppResult<Vec<Event>> + Send + 'static,
    ) -> AppResult<Receipt> {
        self.append_deciding(actor, preload, move |state| Ok((decide(state)?, ())))
            .map(|((), receipt)| receipt)
    }

    /// Like [`App::append_decided`], where deciding also yields a report for the caller.
    pub(crate) fn append_deciding<T: Send + 'static>(
        &self,
        actor: &Actor,
        preload: Preload,
        decide: impl FnOnce(&State) -> AppResult<(Vec<Event>, T)> + Send + 'static,
    ) -> AppResult<(T, Receipt)> {
        let name = actor.ledger_name();
        let (summary, report): (ImportSummary, T) = self.write(move |store| {
            let mut report = None;
            let summary = store.append_with(&name, &preload, |state| {
                let (events, decided) = decide(state)?;
                report = Some(decided);
                Ok::<_, AppError>(events.into_iter().map(|e| (e, None)).collect())
            })?;
            let report = report
                .ok_or_else(|| AppError::Internal("the write returned without deciding".into()))?;
            Ok((summary, report))
        })?;
        Ok((report, receipt(&summary)))
    }

    /// Appends events already decided.
    pub(crate) fn append(&self, actor: &Actor, events: Vec<Event>) -> AppResult<Receipt> {
        self.append_decided(actor, Preload::None, move |_| Ok(events))
    }

    /// Runs a write of the store's own (imports, rebuilds) on the writer thread.
    pub fn write_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> AppResult<T> {
        let result = self
            .writer
            .run(false, move |store| work(store).map_err(AppError::from));
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.forget_snapshot();
        result
    }

    /// Runs a read of the store's own (exports, verification) on a reader.
    pub fn read_store<T>(
        &self,
        work: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> AppResult<T> {
        self.read(|store| work(store).map_err(AppError::from))
    }

    pub(crate) fn forget_snapshot(&self) {
        if let Ok(mut current) = self.snapshot.lock() {
            *current = None;
        }
    }

    /// The snapshot at the ledger's current head: the published one if nothing was written
    /// since, else the published one caught up with the events appended since (by this
    /// process's writer or another process: one path for both), else one loaded afresh.
    pub fn snapshot(&self) -> AppResult<Arc<Snapshot>> {
        let mut current = self
            .snapshot
            .lock()
            .map_err(|_| AppError::Internal("the snapshot lock is poisoned".into()))?;
        // Nothing written here since the last look, and another process's writes are looked
        // for at most every POLL: answer from the published snapshot without the database.
        let writes = self.writes.load(std::sync::atomic::Ordering::SeqCst);
        if let Some(published) = current.as_ref()
            && let Ok(polled) = self.polled.lock()
            && polled.is_some_and(|(at, seen)| seen == writes && at.elapsed() < POLL)
        {
            return Ok(published.clone());
        }
        let published = current.take();
        let next = self.read(|store| match published {
            Some(published) => {
                let head = store.head()?;
                if head == published.head {
                    return Ok(published);
                }
                let Some(window) = store.window_after(published.head.as_ref(), CATCH_UP_LIMIT)?
                else {
                    return load_snapshot(store);
                };
                let credit = published.credit_behind();
                // Nobody else reading the published snapshot: take its parts as they are;
                // else share what can be shared (the readers keep theirs).
                let (mut state, memberships, leads, parents, placements) =
                    match Arc::try_unwrap(published) {
                        Ok(owned) => (
                            owned.state,
                            owned.memberships.into_inner(),
                            owned.leads.into_inner(),
                            owned.parents.into_inner(),
                            owned.placements.into_inner().unwrap_or_default(),
                        ),
                        Err(shared) => (
                            shared.state.clone(),
                            shared.memberships.get().cloned(),
                            shared.leads.get().cloned(),
                            shared.parents.get().cloned(),
                            shared
                                .placements
                                .lock()
                                .map(|cache| cache.clone())
                                .unwrap_or_default(),
                        ),
                    };
                if window.events.iter().any(Event::reloads_state) {
                    return load_snapshot(store);
                }
                let facts_only = window.events.iter().all(Event::changes_facts_only);
                // Master data changes: apply them (on a copy if another snapshot shares it).
                if !facts_only && !store.apply_window(Arc::make_mut(&mut state), &window.events)? {
                    return load_snapshot(store);
                }
                let next = Snapshot::new(window.head, state);
                let members_changed = window
                    .events
                    .iter()
                    .any(|e| matches!(e, Event::MemberJoined(_) | Event::MemberLeft { .. }));
                if let Some(index) = memberships
                    && !members_changed
                {
                    let _ = next.memberships.set(index);
                }
                // Placements and leads depend on master data only.
                if facts_only {
                    if let Ok(mut cache) = next.placements.lock() {
                        *cache = placements;
                    }
                    if let Some(leads) = leads {
                        let _ = next.leads.set(leads);
                    }
                    if let Some(parents) = parents {
                        let _ = next.parents.set(parents);
                    }
                }
                if let Some(behind) = credit
                    && window.events.iter().all(credit_can_follow)
                {
                    next.follow_credit(behind.and_then(&window.events));
                }
                Ok(Arc::new(next))
            }
            None => load_snapshot(store),
        })?;
        *current = Some(next.clone());
        if let Ok(mut polled) = self.polled.lock() {
            *polled = Some((std::time::Instant::now(), writes));
        }
        Ok(next)
    }

    /// Loads what a long-running face needs before its first request: the snapshot with its
    /// indexes (memberships, leads) and today's organisation, its credit engine, and the
    /// writer's state (its first write would load it otherwise).
    pub fn warm_up(&self) -> AppResult<()> {
        let snapshot = self.snapshot()?;
        snapshot.memberships_of("");
        snapshot.nodes_led_by("");
        snapshot.placements(self.today());
        self.credit_engine(&snapshot)?;
        self.append_decided(&Actor::Operator, Preload::None, |_| Ok(Vec::new()))?;
        Ok(())
    }

    /// Whether a snapshot has been built in this process (a long-running face keeps one; a
    /// one-shot command may answer without building it).
    pub fn has_snapshot(&self) -> bool {
        self.snapshot.lock().is_ok_and(|current| current.is_some())
    }

    /// The people's names, for views: from the snapshot when one is built, else read alone
    /// (a one-shot command that needs no more of the state does not build it).
    pub(crate) fn directory(&self, actor: &Actor) -> AppResult<Directory> {
        if actor.person_id().is_none() && !self.has_snapshot() {
            let names = self.read(|store| Ok(store.person_names()?))?;
            return Ok(Directory::Names(names, Box::default()));
        }
        Ok(Directory::Snapshot(self.snapshot()?))
    }

    /// The actor for a person id (as the signed-in identity or `--as` gives it).
    pub fn actor_for(&self, person_id: &str) -> AppResult<Actor> {
        let snapshot = self.snapshot()?;
        Actor::person(&snapshot.state, person_id, self.today()).ok_or_else(|| {
            AppError::not_found(
                format!("person {person_id}"),
                "`valuetree org` lists who is here",
            )
        })
    }

    /// The credit engine of `snapshot` over every outcome with the policy in force there,
    /// built on first use.
    pub fn credit_engine(&self, snapshot: &Snapshot) -> AppResult<Arc<Engine>> {
        snapshot
            .credit
            .get_or_init(|| {
                let behind = snapshot
                    .credit_behind
                    .lock()
                    .ok()
                    .and_then(|mut b| b.take());
                if let Some(behind) = behind
                    && let Some(updated) = behind.apply()
                {
                    return Ok(Arc::new(updated));
                }
                let policy = crate::settings::credit_policy_in(&snapshot.state.policies)
                    .map_err(|e| e.to_string())?;
                self.read(|store| {
                    let data = store.credit_data(None, None)?;
                    build_engine(data, policy)
                })
                .map(Arc::new)
                .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(AppError::Internal)
    }

    /// A credit engine for a period and a policy (`None`: the policy in force): the warm one
    /// when that is what is asked, else one built for this query.
    pub fn credit_engine_for(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        policy: Option<&Policy>,
    ) -> AppResult<Arc<Engine>> {
        let policy = match policy {
            Some(policy) => policy.clone(),
            None => self.credit_policy()?,
        };
        if from.is_none() && to.is_none() && self.has_snapshot() {
            let snapshot = self.snapshot()?;
            if crate::settings::credit_policy_in(&snapshot.state.policies)? == policy {
                return self.credit_engine(&snapshot);
            }
        }
        self.read(|store| {
            let data = store.credit_data(from, to)?;
            build_engine(data, policy).map(Arc::new)
        })
    }
}

/// Who is who, for a view: the snapshot, or only the names (for the operator, whose
/// permissions depend on no relation, so an empty state stands in for the ledger's).
pub(crate) enum Directory {
    Snapshot(Arc<Snapshot>),
    Names(HashMap<String, String>, Box<State>),
}

impl Directory {
    /// The state to ask [`crate::authz`] with.
    pub(crate) fn state(&self) -> &State {
        match self {
            Directory::Snapshot(snapshot) => &snapshot.state,
            Directory::Names(_, empty) => empty,
        }
    }

    pub(crate) fn knows(&self, person_id: &str) -> bool {
        match self {
            Directory::Snapshot(snapshot) => snapshot.state.people.contains_key(person_id),
            Directory::Names(names, _) => names.contains_key(person_id),
        }
    }

    pub(crate) fn person(&self, person_id: &str) -> PersonRef {
        match self {
            Directory::Snapshot(snapshot) => PersonRef::of(&snapshot.state, person_id),
            Directory::Names(names, _) => PersonRef {
                person_id: person_id.to_string(),
                name: names.get(person_id).cloned().unwrap_or_default(),
            },
        }
    }
}

/// The credit engine over `data`. The engine works on two threads; one that panics is an
/// internal error here, never half of the credit silently missing.
pub(crate) fn build_engine(data: CreditData, policy: Policy) -> AppResult<Engine> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Engine::new(data, policy)))
        .map_err(|_| AppError::Internal("the credit engine failed (a worker panicked)".into()))?
        .map_err(|e| AppError::Internal(e.to_string()))
}

fn load_snapshot(store: &mut Store) -> AppResult<Arc<Snapshot>> {
    let head = store.head()?;
    let state = store.load_state(&Preload::None)?;
    Ok(Arc::new(Snapshot::new(head, Arc::new(state))))
}

fn receipt(summary: &ImportSummary) -> Receipt {
    Receipt {
        events: summary
            .appended
            .iter()
            .map(|e| e.kind().to_string())
            .collect(),
        head: summary.head.as_ref().map(ToString::to_string),
        seq: summary.head.as_ref().map(|h| h.seq),
        hash: summary.head.as_ref().map(|h| h.hash.clone()),
        already_recorded: false,
    }
}

/// The receipt of a write recorded earlier by the event at `head`.
pub(crate) fn earlier_receipt(head: Option<Head>) -> Receipt {
    Receipt {
        events: Vec::new(),
        head: head.as_ref().map(ToString::to_string),
        seq: head.as_ref().map(|h| h.seq),
        hash: head.map(|h| h.hash),
        already_recorded: true,
    }
}

/// Whether the credit engine can follow `event` without a rebuild: it adds a contribution
/// or an outcome (applied incrementally), or it is something the engine does not read.
fn credit_can_follow(event: &Event) -> bool {
    match event {
        Event::ContributionRecorded(_)
        | Event::OutcomeRecorded(_)
        // Events the credit engine does not read.
        | Event::RoleGranted { .. }
        | Event::RoleRevoked { .. }
        | Event::JoinRequested { .. }
        | Event::JoinAnswered { .. }
        | Event::LedgerExported { .. }
        | Event::PersonErased { .. }
        | Event::RetentionApplied { .. }
        | Event::LedgerUpgraded { .. }
        | Event::CycleOpened(_)
        | Event::CyclePhaseChanged { .. }
        | Event::GoalSet(_)
        | Event::KeyResultMeasured(_)
        | Event::ReviewerAdded(_)
        | Event::ReviewerRemoved(_)
        | Event::SelfReviewLinked(_)
        | Event::BehaviourAssessed(_)
        | Event::RatingRecorded(_)
        | Event::CalibrationRecorded(_)
        | Event::ScoreOverridden(_)
        | Event::PersonHired(_)
        | Event::PersonUpdated(_)
        | Event::PersonLeft { .. }
        | Event::UnitCreated(_)
        | Event::UnitRenamed { .. }
        | Event::UnitMoved { .. }
        | Event::UnitDissolved { .. }
        | Event::UnitUpdated(_)
        | Event::AssignmentChanged(_)
        | Event::MemberJoined(_)
        | Event::MemberLeft { .. }
        | Event::NodeStatusChanged { .. }
        | Event::NodeHandedOver(_) => true,
        Event::PolicySet { kind, .. } => *kind != PolicyKind::Credit,
        // Anything else changes what the engine computed from: rebuild.
        Event::NodeCreated(_)
        | Event::NodeUpdated(_)
        | Event::NodeLinked(_)
        | Event::NodeUnlinked { .. }
        | Event::ContributionConfirmed { .. }
        | Event::ContributionRetracted { .. }
        | Event::ContributionUnconfirmed { .. }
        | Event::PeerPointsGiven(_) => false,
    }
}

/// The engine after `events`, updated incrementally where the engine can be (new
/// contributions and outcomes at nodes it knows); `None` when it must be rebuilt.
fn update_credit(engine: Arc<Engine>, events: &[Event]) -> Option<Engine> {
    if !events.iter().all(credit_can_follow) {
        return None;
    }
    let mut engine = Arc::unwrap_or_clone(engine);
    // Contributions are added a run at a time (a node is re-allocated once per run), and
    // the run is closed before an outcome, which is credited over what came before it.
    let mut run = Vec::new();
    for event in events {
        match event {
            Event::ContributionRecorded(c) => {
                let node = engine.find_node(&c.node_id)?;
                let person = engine.intern_person(&c.person_id);
                run.push(CreditContribution {
                    person,
                    node,
                    phase: c.phase,
                    date: day(c.date),
                    effort: c.effort.value(),
                    status: if c.confirmed {
                        Status::Confirmed
                    } else {
                        Status::Unconfirmed
                    },
                });
            }
            Event::OutcomeRecorded(o) => {
                let node = engine.find_node(&o.node_id)?;
                engine.add_contributions(std::mem::take(&mut run));
                engine.add_outcome(CreditOutcome {
                    id: o.outcome_id.clone(),
                    node,
                    date: day(o.date),
                    value: o.value.value(),
                });
            }
            _ => {}
        }
    }
    engine.add_contributions(run);
    Some(engine)
}
