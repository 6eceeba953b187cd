//! A Redis Cluster of private `redis-server --cluster-enabled yes` processes on free
//! ports, one replica per master, joined by `redis-cli --cluster create`. Its servers
//! are killed when it is dropped, and by the kernel if the test process dies first.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::free_port;

/// How long a cluster may take to form or to settle after a failover.
const SETTLE: Duration = Duration::from_secs(30);

/// The masters of every cluster the tests start; each has one replica.
const MASTERS: usize = 3;

/// One cluster node: its port and server process.
struct Node {
    port: u16,
    child: Child,
}

/// A running cluster.
pub(crate) struct Cluster {
    nodes: Vec<Node>,
    _dir: tempfile::TempDir,
}

/// A master as `CLUSTER NODES` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Master {
    pub id: String,
    pub port: u16,
    /// Its slot ranges, inclusive.
    pub slots: Vec<(u16, u16)>,
}

impl Cluster {
    /// Starts 3 masters with a replica each and waits until every slot is served.
    pub(crate) fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<Node> = (0..MASTERS * 2)
            .map(|_| {
                let port = free_port();
                let node_dir = dir.path().join(port.to_string());
                std::fs::create_dir(&node_dir).unwrap();
                let mut command = Command::new("redis-server");
                command
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                    .args(["--save", "", "--appendonly", "no"])
                    .arg("--dir")
                    .arg(&node_dir)
                    .stdout(Stdio::null());
                // SAFETY: prctl is async-signal-safe and touches only the child.
                unsafe {
                    command.pre_exec(|| {
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                        Ok(())
                    });
                }
                Node {
                    port,
                    child: command.spawn().expect("redis-server starts"),
                }
            })
            .collect();
        let cluster = Cluster { nodes, _dir: dir };
        for node in &cluster.nodes {
            cluster.wait_for(&format!("node {} answers", node.port), || {
                query::<String>(node.port, &["PING"]).is_some()
            });
        }
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(
                cluster
                    .nodes
                    .iter()
                    .map(|node| format!("127.0.0.1:{}", node.port)),
            )
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(created.status.success(), "{created:?}");
        cluster.wait_until_settled();
        cluster
    }

    /// The seed-node URL quire takes.
    pub(crate) fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .take(2)
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        format!("redis+cluster://{}", seeds.join(","))
    }

    /// Waits until every live node reports the cluster ok, every slot is served by a
    /// live master and every master has a replica in sync with it.
    pub(crate) fn wait_until_settled(&self) {
        self.wait_for("the cluster is ok on every node", || {
            self.live_ports().iter().all(|&port| {
                query::<String>(port, &["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            }) && self
                .masters()
                .iter()
                .map(|m| slot_count(&m.slots))
                .sum::<u32>()
                == 16384
        });
    }

    /// Waits until the replica of the master serving `slot` has every write the master
    /// acknowledged, so that killing the master loses nothing.
    pub(crate) fn wait_until_replicated(&self, slot: u16) {
        let master = self.owner(slot);
        self.wait_for("the replica caught up with its master", || {
            query::<String>(master.port, &["INFO", "replication"]).is_some_and(|info| {
                let offset = field(&info, "master_repl_offset");
                info.lines()
                    .filter(|line| line.starts_with("slave"))
                    .any(|line| line.contains("state=online") && field_in(line, "offset") == offset)
            })
        });
    }

    /// The live masters and their slots.
    pub(crate) fn masters(&self) -> Vec<Master> {
        let Some(text) = self
            .live_ports()
            .into_iter()
            .find_map(|port| query::<String>(port, &["CLUSTER", "NODES"]))
        else {
            return Vec::new();
        };
        text.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let flags = fields.get(2)?;
                if !flags.contains("master") || flags.contains("fail") {
                    return None;
                }
                let port = fields[1]
                    .split(['@'])
                    .next()?
                    .rsplit(':')
                    .next()?
                    .parse()
                    .ok()?;
                let slots = fields[8..]
                    .iter()
                    .filter(|range| !range.starts_with('['))
                    .map(|range| match range.split_once('-') {
                        Some((from, to)) => (from.parse().unwrap(), to.parse().unwrap()),
                        None => (range.parse().unwrap(), range.parse().unwrap()),
                    })
                    .collect();
                Some(Master {
                    id: fields[0].to_owned(),
                    port,
                    slots,
                })
            })
            .collect()
    }

    /// The master serving `slot`.
    pub(crate) fn owner(&self, slot: u16) -> Master {
        self.masters()
            .into_iter()
            .find(|master| {
                master
                    .slots
                    .iter()
                    .any(|&(from, to)| (from..=to).contains(&slot))
            })
            .unwrap_or_else(|| panic!("no live master serves slot {slot}"))
    }

    /// The slot of every key of quire's `prefix` (their shared hash tag).
    pub(crate) fn slot_of_prefix(&self, prefix: &str) -> u16 {
        query(
            self.nodes[0].port,
            &["CLUSTER", "KEYSLOT", &format!("{{{prefix}}}:x")],
        )
        .unwrap()
    }

    /// Kills the master serving `slot` (SIGKILL) and promotes its replica at once
    /// (`CLUSTER FAILOVER TAKEOVER`), then waits until the cluster is ok again.
    pub(crate) fn fail_over(&mut self, slot: u16) -> (Master, Master) {
        let old = self.owner(slot);
        let replica = self
            .live_ports()
            .into_iter()
            .find(|&port| {
                query::<String>(port, &["INFO", "replication"]).is_some_and(|info| {
                    info.contains("role:slave")
                        && field(&info, "master_port") == old.port.to_string()
                })
            })
            .expect("the master has a replica");
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port == old.port)
            .unwrap();
        node.child.kill().unwrap();
        node.child.wait().unwrap();
        let promoted: Option<String> = query(replica, &["CLUSTER", "FAILOVER", "TAKEOVER"]);
        assert_eq!(promoted.as_deref(), Some("OK"));
        self.wait_for("the replica serves the slot", || {
            self.masters()
                .iter()
                .any(|m| m.port == replica && m.slots.iter().any(|&(f, t)| (f..=t).contains(&slot)))
        });
        self.wait_for("every live node agrees on the new master", || {
            self.live_ports().iter().all(|&port| {
                query::<String>(port, &["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            })
        });
        (old, self.owner(slot))
    }

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|node| query::<String>(node.port, &["PING"]).is_some())
            .map(|node| node.port)
            .collect()
    }

    fn wait_for(&self, what: &str, mut condition: impl FnMut() -> bool) {
        let deadline = Instant::now() + SETTLE;
        while !condition() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.child.kill();
            let _ = node.child.wait();
        }
    }
}

/// The cluster every test of this binary shares (each on its own prefix, so its own
/// slot). Started once, from a thread that lives as long as the process, so the
/// kernel kills its servers when the process exits.
pub(crate) fn shared() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let cluster = Cluster::start();
            sender.send(cluster.url()).unwrap();
            loop {
                std::thread::park();
            }
        });
        receiver.recv().expect("the shared cluster starts")
    })
}

/// `args` sent to the node on `port`; `None` when it does not answer.
fn query<T: redis::FromRedisValue>(port: u16, args: &[&str]) -> Option<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_millis(300))
        .ok()?;
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query(&mut conn).ok()
}

fn slot_count(ranges: &[(u16, u16)]) -> u32 {
    ranges
        .iter()
        .map(|&(from, to)| u32::from(to - from) + 1)
        .sum()
}

/// `name:value` of an INFO section.
fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// `name=value` of one INFO line such as `slave0:ip=…,port=…,state=online,offset=42`.
fn field_in(line: &str, name: &str) -> String {
    line.split([':', ','])
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_default()
        .to_owned()
}
