//! Acks of a worker's finished attempts, committed in batches (group commit): while one
//! `ack_many` call is in flight, the acks of attempts finishing meanwhile gather and go
//! out together in the next call, so under load one script call acks many jobs, while a
//! lone ack still goes out at once. Each ack stays fenced by its own claim, and each
//! attempt waits for its own outcome before it reports success.

use tokio::sync::{mpsc, oneshot};
use tokio_util::task::AbortOnDropHandle;

use crate::queue::{Claim, Queue, QueueError};

/// At most this many acks per script call, so one call never blocks Redis for long.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<bool, QueueError>>;

/// The sending side of a worker's ack batcher; its task is owned by it and ends with it.
pub(crate) struct Acker {
    sender: mpsc::UnboundedSender<(Claim, Reply)>,
    _batcher: AbortOnDropHandle<()>,
}

impl Acker {
    /// Starts the batcher on the current Tokio runtime.
    pub(super) fn start(queue: Queue) -> Acker {
        let (sender, receiver) = mpsc::unbounded_channel();
        let batcher = AbortOnDropHandle::new(tokio::spawn(run(queue, receiver)));
        Acker {
            sender,
            _batcher: batcher,
        }
    }

    /// Acks the attempt of `claim`, batched with whatever else is being acked.
    ///
    /// # Errors
    /// [`QueueError::LeaseLost`] when the claim is stale; Redis failing.
    pub(super) async fn ack(&self, claim: &Claim) -> Result<(), QueueError> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || QueueError::Reply("the ack batcher stopped".into());
        self.sender
            .send((claim.clone(), reply))
            .map_err(|_| stopped())?;
        match outcome.await.map_err(|_| stopped())? {
            Ok(true) => Ok(()),
            Ok(false) => Err(QueueError::LeaseLost {
                job_id: claim.job_id.clone(),
            }),
            Err(error) => Err(error),
        }
    }
}

async fn run(queue: Queue, mut requests: mpsc::UnboundedReceiver<(Claim, Reply)>) {
    let mut batch: Vec<(Claim, Reply)> = Vec::new();
    while let Some(first) = requests.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let claims: Vec<Claim> = batch.iter().map(|(claim, _)| claim.clone()).collect();
        match queue.ack_many(&claims).await {
            Ok(flags) => {
                for ((_, reply), acked) in batch.drain(..).zip(flags) {
                    let _ = reply.send(Ok(acked));
                }
            }
            Err(error) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}
