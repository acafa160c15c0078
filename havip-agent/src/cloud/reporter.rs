//! The [`Reporter`] abstraction and the task that drives one: it waits for the instance's
//! latest [`Ownership`], carries it out ([`Reporter::apply`]), then checks it periodically
//! ([`Reporter::reconcile`]) for as long as the state holds. A newer state cancels whatever the
//! reporter is doing for an older one: only the latest state matters to the cloud. The
//! providers that move a VIP themselves share the loop that confirms a takeover ([`confirm`]).

use std::{
    future::Future,
    time::{Duration, Instant},
};

use tokio::sync::watch;
use tracing::debug;

use super::{Ownership, stats::CloudStats, tencent::pause};

/// Something that tells the cloud (or anyone) who owns an instance's VIPs.
pub trait Reporter: Send + 'static {
    /// The provider's name in logs and metrics (`tencent-havip`).
    fn provider(&self) -> &'static str;

    /// The instance reported.
    fn instance(&self) -> &str;

    /// Carries out `change`. May take long (waiting for the cloud); it is dropped, mid-way, when
    /// a newer change arrives.
    fn apply(&mut self, change: &Ownership) -> impl Future<Output = ()> + Send;

    /// How often to re-check while `change` is the current state; `None`: never.
    fn reconcile_interval(&self, change: &Ownership) -> Option<Duration>;

    /// One re-check of `change` (also cancelled by a newer change).
    fn reconcile(&mut self, change: &Ownership) -> impl Future<Output = ()> + Send;

    /// Called when `change` was cancelled by a newer one before `apply` finished.
    fn superseded(&mut self, change: &Ownership);
}

/// One look at the cloud while confirming a takeover ([`confirm`]).
pub enum Step {
    /// The cloud agrees: the VIP is on this node.
    Agreed,
    /// Not yet: look again.
    Retry,
    /// Retrying cannot help.
    Stop,
}

/// A reporter that confirms a takeover by looking at the cloud until it agrees; each provider
/// says how to look and what to log, [`confirm`] does the rest.
pub trait Confirm: Reporter {
    /// What every look is about (the private IP moved; `()` when the configuration names it).
    type Target: Copy + Send + Sync;

    /// The counters of reports.
    fn stats(&self) -> &CloudStats;

    /// The pause between two looks.
    fn recheck_interval(&self) -> Duration;

    /// Remembers that the cloud agreed with the takeover made at `takeover`.
    fn set_agreed(&mut self, takeover: Instant);

    /// One look at the cloud and, if needed, one request to change it, within `deadline`.
    fn step(
        &mut self,
        target: Self::Target,
        deadline: Instant,
    ) -> impl Future<Output = Step> + Send;

    /// Logs that the cloud agreed, `took` after the start of the confirmation.
    fn log_agreed(&self, target: Self::Target, took: Duration);

    /// Logs that the deadline passed before the cloud agreed, after `waited`.
    fn log_timeout(&self, target: Self::Target, waited: Duration);
}

/// Looks through `c` every `recheck_interval` until the cloud agrees, a look says retrying
/// cannot help, or the next look would pass `deadline`; counts the outcome (with the time
/// since `since` when the cloud agrees, then remembered as agreeing with `takeover`).
pub async fn confirm<C: Confirm>(
    c: &mut C,
    target: C::Target,
    takeover: Instant,
    since: Instant,
    deadline: Instant,
) {
    loop {
        match c.step(target, deadline).await {
            Step::Agreed => {
                let took = since.elapsed();
                c.set_agreed(takeover);
                c.stats().agreed(c.provider(), c.instance(), took);
                c.stats().report(c.provider(), c.instance(), "agreed");
                c.log_agreed(target, took);
                return;
            }
            Step::Stop => {
                c.stats().report(c.provider(), c.instance(), "failed");
                return;
            }
            Step::Retry => {}
        }
        if Instant::now() + c.recheck_interval() > deadline {
            c.stats().report(c.provider(), c.instance(), "timeout");
            c.log_timeout(target, since.elapsed());
            return;
        }
        pause(c.recheck_interval()).await;
    }
}

/// What ended a wait.
enum Woken {
    /// The work finished.
    Done,
    /// A newer state arrived.
    Changed,
    /// The daemon closed the slot: stop.
    Closed,
}

/// Waits for `rx` to change; `Closed` when the sender is gone with nothing new.
async fn changed(rx: &mut watch::Receiver<Option<Ownership>>) -> Woken {
    match rx.changed().await {
        Ok(()) => Woken::Changed,
        Err(_) => Woken::Closed,
    }
}

/// Drives `r` with the states published on `rx` until the daemon closes it.
pub async fn run<R: Reporter>(mut r: R, mut rx: watch::Receiver<Option<Ownership>>) {
    let mut current: Option<Ownership> = rx.borrow_and_update().clone();
    let mut fresh = current.is_some();
    loop {
        if fresh && let Some(change) = current.clone() {
            fresh = false;
            let woken = {
                let apply = r.apply(&change);
                tokio::pin!(apply);
                tokio::select! {
                () = &mut apply => Woken::Done,
                w = changed(&mut rx) => match w {
                    // Closed with nothing newer: this is the final state (shutdown), finish it.
                    Woken::Closed => {
                        apply.await;
                        Woken::Closed
                    }
                    other => other,
                },
                }
            };
            match woken {
                Woken::Done => {}
                Woken::Changed => {
                    r.superseded(&change);
                    current.clone_from(&rx.borrow_and_update());
                    fresh = current.is_some();
                    continue;
                }
                Woken::Closed => return,
            }
        }
        let interval = current.as_ref().and_then(|c| r.reconcile_interval(c));
        let woken = match interval {
            Some(every) => tokio::select! {
                () = tokio::time::sleep(every) => Woken::Done,
                w = changed(&mut rx) => w,
            },
            None => changed(&mut rx).await,
        };
        match woken {
            Woken::Closed => return,
            Woken::Changed => {
                current.clone_from(&rx.borrow_and_update());
                fresh = current.is_some();
            }
            Woken::Done => {
                let Some(change) = current.clone() else {
                    continue;
                };
                debug!(
                    provider = r.provider(),
                    instance = r.instance(),
                    "reconciling"
                );
                let woken = tokio::select! {
                    () = r.reconcile(&change) => Woken::Done,
                    w = changed(&mut rx) => w,
                };
                match woken {
                    Woken::Done => {}
                    Woken::Changed => {
                        current.clone_from(&rx.borrow_and_update());
                        fresh = current.is_some();
                    }
                    Woken::Closed => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, sync::Mutex, time::SystemTime};

    use super::*;
    use crate::vrrp::State;

    /// Records what it was asked to do; `apply` takes `work` of (real) time.
    struct Recorder {
        log: Arc<Mutex<Vec<String>>>,
        work: Duration,
        reconcile: Option<Duration>,
    }

    impl Reporter for Recorder {
        fn provider(&self) -> &'static str {
            "test"
        }
        fn instance(&self) -> &'static str {
            "VI_1"
        }
        async fn apply(&mut self, c: &Ownership) {
            self.log
                .lock()
                .expect("lock")
                .push(format!("start {}", c.state));
            tokio::time::sleep(self.work).await;
            self.log
                .lock()
                .expect("lock")
                .push(format!("done {}", c.state));
        }
        fn reconcile_interval(&self, c: &Ownership) -> Option<Duration> {
            self.reconcile.filter(|_| c.state == State::Master)
        }
        async fn reconcile(&mut self, c: &Ownership) {
            self.log
                .lock()
                .expect("lock")
                .push(format!("check {}", c.state));
        }
        fn superseded(&mut self, c: &Ownership) {
            self.log
                .lock()
                .expect("lock")
                .push(format!("superseded {}", c.state));
        }
    }

    fn change(state: State) -> Ownership {
        Ownership {
            state,
            previous: State::Initialize,
            reason: String::new(),
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    fn lines(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
        log.lock().expect("lock").clone()
    }

    #[tokio::test]
    async fn quick_flaps_deliver_the_final_state_only() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(run(
            Recorder {
                log: Arc::clone(&log),
                work: Duration::from_millis(50),
                reconcile: None,
            },
            rx,
        ));
        // Published faster than the reporter can look: only the last one is seen.
        for s in [State::Master, State::Backup, State::Master, State::Backup] {
            tx.send(Some(change(s))).expect("send");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(tx);
        task.await.expect("task");
        assert_eq!(lines(&log), ["start BACKUP", "done BACKUP"]);
    }

    #[tokio::test]
    async fn a_newer_state_cancels_the_work_on_an_older_one() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(run(
            Recorder {
                log: Arc::clone(&log),
                work: Duration::from_millis(300),
                reconcile: None,
            },
            rx,
        ));
        tx.send(Some(change(State::Master))).expect("send");
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.send(Some(change(State::Backup))).expect("send");
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(tx);
        task.await.expect("task");
        assert_eq!(
            lines(&log),
            [
                "start MASTER",
                "superseded MASTER",
                "start BACKUP",
                "done BACKUP"
            ]
        );
    }

    #[tokio::test]
    async fn reconciles_while_master_and_sees_the_last_state_on_close() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = watch::channel(None);
        let task = tokio::spawn(run(
            Recorder {
                log: Arc::clone(&log),
                work: Duration::ZERO,
                reconcile: Some(Duration::from_millis(40)),
            },
            rx,
        ));
        tx.send(Some(change(State::Master))).expect("send");
        tokio::time::sleep(Duration::from_millis(150)).await;
        // The final state is published and the slot closed at once, as at shutdown.
        tx.send(Some(change(State::Initialize))).expect("send");
        drop(tx);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stops")
            .expect("task");
        let l = lines(&log);
        let checks = l.iter().filter(|x| *x == "check MASTER").count();
        assert!((2..=4).contains(&checks), "{l:?}");
        assert_eq!(l.last().map(String::as_str), Some("done INIT"), "{l:?}");
    }
}
