//! A Redis Cluster of private `redis-server --cluster-enabled yes` processes on free
//! ports, one replica per master, joined by `redis-cli --cluster create`; or one that
//! speaks only TLS, with certificates of a CA made for it. Its servers are killed when
//! it is dropped, and by the kernel if the test process dies first.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{TestCertificates, free_port};

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
    tls: Option<Tls>,
    _dir: tempfile::TempDir,
}

/// The certificates of a TLS cluster: a CA made for it, and one server certificate for
/// 127.0.0.1 that every node presents.
pub(crate) struct Tls {
    /// The CA's certificate, PEM; clients trust it.
    pub ca_file: PathBuf,
    ca_pem: String,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl Tls {
    fn generate(dir: &Path) -> Tls {
        let certificates = TestCertificates::new("quire cluster test CA", &["127.0.0.1"]);
        let tls = Tls {
            ca_file: dir.join("ca.pem"),
            ca_pem: certificates.ca_pem,
            cert_file: dir.join("node.pem"),
            key_file: dir.join("node.key"),
        };
        std::fs::write(&tls.ca_file, &tls.ca_pem).unwrap();
        std::fs::write(&tls.cert_file, certificates.cert.pem()).unwrap();
        std::fs::write(&tls.key_file, certificates.key.serialize_pem()).unwrap();
        tls
    }
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
        Cluster::launch(1, false)
    }

    /// Starts 3 masters, without replicas, that take only TLS connections (from one
    /// another too), and waits until every slot is served.
    pub(crate) fn start_tls() -> Cluster {
        Cluster::launch(0, true)
    }

    fn launch(replicas: usize, tls: bool) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let tls = tls.then(|| Tls::generate(dir.path()));
        let nodes: Vec<Node> = (0..MASTERS * (1 + replicas))
            .map(|_| {
                let port = free_port();
                let node_dir = dir.path().join(port.to_string());
                std::fs::create_dir(&node_dir).unwrap();
                let mut command = Command::new("redis-server");
                command.args(["--bind", "127.0.0.1"]);
                match &tls {
                    None => command.args(["--port", &port.to_string()]),
                    Some(tls) => command
                        .args(["--port", "0", "--tls-port", &port.to_string()])
                        .arg("--tls-cert-file")
                        .arg(&tls.cert_file)
                        .arg("--tls-key-file")
                        .arg(&tls.key_file)
                        .arg("--tls-ca-cert-file")
                        .arg(&tls.ca_file)
                        .args(["--tls-cluster", "yes", "--tls-auth-clients", "no"]),
                };
                command
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
        let cluster = Cluster {
            nodes,
            tls,
            _dir: dir,
        };
        for node in &cluster.nodes {
            cluster.wait_for(&format!("node {} answers", node.port), || {
                cluster.query::<String>(node.port, &["PING"]).is_some()
            });
        }
        let mut create = Command::new("redis-cli");
        if let Some(tls) = &cluster.tls {
            create.arg("--tls").arg("--cacert").arg(&tls.ca_file);
        }
        let created = create
            .args(["--cluster", "create"])
            .args(
                cluster
                    .nodes
                    .iter()
                    .map(|node| format!("127.0.0.1:{}", node.port)),
            )
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(created.status.success(), "{created:?}");
        cluster.wait_until_settled();
        cluster
    }

    /// The certificates of a TLS cluster.
    pub(crate) fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// The seed-node URL quire takes.
    pub(crate) fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes
            .iter()
            .take(2)
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let scheme = if self.tls.is_some() {
            "rediss+cluster"
        } else {
            "redis+cluster"
        };
        format!("{scheme}://{}", seeds.join(","))
    }

    /// Waits until every live node reports the cluster ok, every slot is served by a
    /// live master and every master has a replica in sync with it.
    pub(crate) fn wait_until_settled(&self) {
        self.wait_for("the cluster is ok on every node", || {
            self.live_ports().iter().all(|&port| {
                self.query::<String>(port, &["CLUSTER", "INFO"])
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
            self.query::<String>(master.port, &["INFO", "replication"])
                .is_some_and(|info| {
                    let offset = field(&info, "master_repl_offset");
                    info.lines()
                        .filter(|line| line.starts_with("slave"))
                        .any(|line| {
                            line.contains("state=online") && field_in(line, "offset") == offset
                        })
                })
        });
    }

    /// The live masters and their slots.
    pub(crate) fn masters(&self) -> Vec<Master> {
        let Some(text) = self
            .live_ports()
            .into_iter()
            .find_map(|port| self.query::<String>(port, &["CLUSTER", "NODES"]))
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
        self.query(
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
                self.query::<String>(port, &["INFO", "replication"])
                    .is_some_and(|info| {
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
        let promoted: Option<String> = self.query(replica, &["CLUSTER", "FAILOVER", "TAKEOVER"]);
        assert_eq!(promoted.as_deref(), Some("OK"));
        self.wait_for("the replica serves the slot", || {
            self.masters()
                .iter()
                .any(|m| m.port == replica && m.slots.iter().any(|&(f, t)| (f..=t).contains(&slot)))
        });
        self.wait_for("every live node agrees on the new master", || {
            self.live_ports().iter().all(|&port| {
                self.query::<String>(port, &["CLUSTER", "INFO"])
                    .is_some_and(|info| info.contains("cluster_state:ok"))
            })
        });
        (old, self.owner(slot))
    }

    /// `args` sent to the node on `port`; `None` when it does not answer.
    fn query<T: redis::FromRedisValue>(&self, port: u16, args: &[&str]) -> Option<T> {
        let client = match &self.tls {
            None => redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?,
            Some(tls) => redis::Client::build_with_tls(
                format!("rediss://127.0.0.1:{port}"),
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(tls.ca_pem.clone().into_bytes()),
                },
            )
            .ok()?,
        };
        let mut conn = client
            .get_connection_with_timeout(Duration::from_millis(300))
            .ok()?;
        let mut command = redis::cmd(args[0]);
        for arg in &args[1..] {
            command.arg(*arg);
        }
        command.query(&mut conn).ok()
    }

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|node| self.query::<String>(node.port, &["PING"]).is_some())
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
