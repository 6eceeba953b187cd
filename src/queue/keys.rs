//! Redis key names, built in one place. The Lua side builds the same names from the
//! same base in `lua/common.lua`; a test checks that both agree.
//!
//! Every key of a prefix starts with the hash tag `{prefix}`, so a prefix is one Redis
//! Cluster slot and every script, a reserve across several queues included, runs there
//! unchanged. The restart broadcast and the worker registry live under the prefix too:
//! they are global to the installation and never scoped by tenant.

/// The key names of one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    base: String,
}

impl Keys {
    /// Keys under `prefix` (validated by the settings: no braces, no spaces).
    pub fn new(prefix: &str) -> Keys {
        Keys {
            base: format!("{{{prefix}}}:"),
        }
    }

    /// The base every key starts with, `{prefix}:`; every script receives it.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The hash holding one job.
    pub fn job(&self, id: &str) -> String {
        format!("{}job:{id}", self.base)
    }

    /// The list of ready job ids of a queue.
    pub fn ready(&self, queue: &str) -> String {
        format!("{}ready:{queue}", self.base)
    }

    /// The list of ready job ids of one fairness key in a queue (the default key's is
    /// [`Keys::ready`]).
    pub fn fair(&self, queue: &str, key: &str) -> String {
        format!("{}fair:{queue}:{key}", self.base)
    }

    /// The ring of a queue: the fairness keys with ready jobs, in turn order.
    pub fn ring(&self, queue: &str) -> String {
        format!("{}ring:{queue}", self.base)
    }

    /// The sorted set of a queue's fairness keys, scored by their ready jobs.
    pub fn backlog(&self, queue: &str) -> String {
        format!("{}backlog:{queue}", self.base)
    }

    /// The hash of running attempts per fairness key.
    pub fn running(&self) -> String {
        format!("{}running", self.base)
    }

    /// The set of queues where a fairness key waits at its running limit.
    pub fn blocked(&self, key: &str) -> String {
        format!("{}blocked:{key}", self.base)
    }

    /// The wake-up list idle workers of a queue block on.
    pub fn wake(&self, queue: &str) -> String {
        format!("{}wake:{queue}", self.base)
    }

    /// A lock of kind `unique` or `overlap`.
    pub fn lock(&self, kind: &str, name: &str) -> String {
        format!("{}lock:{kind}:{name}", self.base)
    }

    /// The sorted set of ids waiting for that lock.
    pub fn waiters(&self, kind: &str, name: &str) -> String {
        format!("{}waiters:{kind}:{name}", self.base)
    }

    /// The sorted set of dead job ids, scored by when they died.
    pub fn dead(&self) -> String {
        format!("{}dead", self.base)
    }

    /// The counters hash.
    pub fn stats(&self) -> String {
        format!("{}stats", self.base)
    }

    /// The restart broadcast: the Redis time (ms) of the last `quire restart`.
    pub fn restart(&self) -> String {
        format!("{}restart", self.base)
    }

    /// The set of paused queue names.
    pub fn paused(&self) -> String {
        format!("{}paused", self.base)
    }

    /// The set of registered worker ids.
    pub fn workers(&self) -> String {
        format!("{}workers", self.base)
    }

    /// One worker's registry entry; it expires when the worker stops heartbeating.
    pub fn worker(&self, id: &str) -> String {
        format!("{}worker:{id}", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_prefix_carries_the_prefix_as_its_hash_tag() {
        let keys = Keys::new("quire");
        for key in [
            keys.job("a{b}"),
            keys.ready("high"),
            keys.lock("overlap", "acme"),
            keys.restart(),
            keys.worker("w1"),
        ] {
            assert!(key.starts_with("{quire}:"), "{key}");
        }
    }
}
