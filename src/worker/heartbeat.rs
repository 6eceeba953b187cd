//! One heartbeat per worker renews the leases of all its attempts, and the locks they
//! hold, in one batched call every third of the lease, and refreshes the worker's
//! registry entry. Each attempt watches its own lease: when it could not be renewed in
//! time, or a renewal was refused, the attempt cancels itself rather than risk running
//! beside a new holder.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::retry::Outage;
use crate::queue::{Claim, Queue, WorkerInfo};

/// An attempt stops this far into its lease unless it was renewed: the rest of the lease
/// is the margin for winding down before Redis may hand the job to someone else.
pub(crate) fn safe_deadline(renewed_at: Instant, lease: Duration) -> Instant {
    renewed_at + lease * 3 / 4
}

/// How long a cancelled attempt may take to wind down; with [`safe_deadline`] it ends
/// before the lease lapses in Redis.
pub(crate) fn wind_down(lease: Duration) -> Duration {
    lease / 8
}

/// Held attempts by job id: the attempt's token and the sender of its lease deadline
/// (`None`: the lease is lost).
type Attempts = HashMap<String, (String, watch::Sender<Option<Instant>>)>;

/// The attempts a worker holds.
#[derive(Default)]
pub(crate) struct Held {
    attempts: Mutex<Attempts>,
}

/// An attempt's view of its lease.
pub(crate) struct LeaseWatch {
    deadline: watch::Receiver<Option<Instant>>,
}

impl LeaseWatch {
    /// Resolves once the lease is lost: refused by Redis, or not renewed in time.
    pub(super) async fn lost(&mut self) {
        loop {
            let Some(deadline) = *self.deadline.borrow_and_update() else {
                return;
            };
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    if *self.deadline.borrow() == Some(deadline) {
                        return;
                    }
                }
                changed = self.deadline.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep_until(deadline).await;
                        return;
                    }
                }
            }
        }
    }
}

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts watching an attempt reserved at `reserved_at`.
    pub(super) fn insert(
        &self,
        claim: &Claim,
        reserved_at: Instant,
        lease: Duration,
    ) -> LeaseWatch {
        let (sender, deadline) = watch::channel(Some(safe_deadline(reserved_at, lease)));
        self.lock()
            .insert(claim.job_id.clone(), (claim.token.clone(), sender));
        LeaseWatch { deadline }
    }

    /// Stops watching an attempt that ended.
    pub(super) fn remove(&self, claim: &Claim) {
        let mut attempts = self.lock();
        if attempts
            .get(&claim.job_id)
            .is_some_and(|(token, _)| *token == claim.token)
        {
            attempts.remove(&claim.job_id);
        }
    }

    /// Ids of the held jobs.
    pub(super) fn job_ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn claims(&self) -> Vec<Claim> {
        self.lock()
            .iter()
            .map(|(job_id, (token, _))| Claim {
                job_id: job_id.clone(),
                token: token.clone(),
            })
            .collect()
    }

    fn renewed(&self, claims: &[Claim], flags: &[bool], sent: Instant, lease: Duration) {
        let attempts = self.lock();
        for (claim, renewed) in claims.iter().zip(flags) {
            if let Some((token, sender)) = attempts.get(&claim.job_id)
                && *token == claim.token
            {
                sender.send_replace(renewed.then(|| safe_deadline(sent, lease)));
            }
        }
    }
}

/// Renews every held lease each `lease / 3` (sooner after a failure) until `stop`, and
/// refreshes `registry` when given.
pub(crate) async fn run(
    queue: Queue,
    held: Arc<Held>,
    lease: Duration,
    mut registry: Option<WorkerInfo>,
    stop: CancellationToken,
) {
    let mut outage = Outage::new("renewing leases");
    loop {
        let claims = held.claims();
        let sent = Instant::now();
        let renewed = tokio::time::timeout(lease / 3, queue.renew(&claims, lease)).await;
        let next = match renewed {
            Ok(Ok(flags)) => {
                outage.over();
                held.renewed(&claims, &flags, sent, lease);
                sent + lease / 3
            }
            Ok(Err(error)) => {
                outage.failed(&error);
                Instant::now() + lease / 12
            }
            Err(_) => {
                outage.failed(&"no answer in time");
                Instant::now() + lease / 12
            }
        };
        if let Some(worker) = &mut registry {
            worker.jobs = held.job_ids();
            worker.heartbeat_ms = chrono::Utc::now().timestamp_millis();
            if let Err(error) = queue.register_worker(worker, lease).await {
                tracing::debug!(%error, "could not refresh the worker registry");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep_until(next) => {}
        }
    }
}
