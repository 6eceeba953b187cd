//! The Redis deployment a queue talks to: one server (`redis://`, `rediss://` with
//! TLS), or a Redis Cluster named by its seed nodes
//! (`redis+cluster://host:port,host:port`, `rediss+cluster://` with TLS). Every key of a
//! prefix shares one hash tag, so every script and pipeline of the queue lands on the
//! one node that owns the prefix's slot; the cluster connection follows that slot when
//! it moves (a failover, a resharding). TLS verifies the servers against the system's
//! trust store, which `SSL_CERT_FILE` may name, as for other TLS clients.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// The schemes of a cluster's seed nodes, and the scheme of each node they name.
const CLUSTER_SCHEMES: [(&str, &str); 2] = [
    ("redis+cluster://", "redis://"),
    ("rediss+cluster://", "rediss://"),
];

/// Where Redis is: how to open the queue's shared connection and dedicated ones.
#[derive(Clone)]
pub(crate) enum RedisTarget {
    /// One server (boxed: with TLS support, a client is several times a cluster's size).
    Single(Box<Client>),
    /// A Redis Cluster, by its seed nodes (`redis://host:port` each).
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// Reads `url`: `redis://…` or `rediss://…` for one server,
    /// `redis+cluster://host:port[,host:port…]` or `rediss+cluster://…` for a cluster
    /// (credentials, if any, given on the first node apply to all).
    ///
    /// # Errors
    /// When the URL is not a Redis URL.
    pub(crate) fn parse(url: &str) -> RedisResult<RedisTarget> {
        let Some((nodes, scheme)) = CLUSTER_SCHEMES
            .iter()
            .find_map(|(cluster, node)| Some((url.strip_prefix(cluster)?, node)))
        else {
            return Ok(RedisTarget::Single(Box::new(Client::open(url)?)));
        };
        let nodes = nodes.trim_end_matches('/');
        let credentials = nodes
            .split_once('@')
            .map_or("", |(credentials, _)| credentials);
        let seeds: Vec<String> = nodes
            .split(',')
            .map(|node| {
                let address = node.rsplit_once('@').map_or(node, |(_, address)| address);
                if credentials.is_empty() {
                    format!("{scheme}{address}")
                } else {
                    format!("{scheme}{credentials}@{address}")
                }
            })
            .collect();
        // Fails early on a malformed node, as `Client::open` does for one server.
        ClusterClient::new(seeds.clone())?;
        Ok(RedisTarget::Cluster(seeds))
    }

    /// The shared connection: reconnecting, with `response_timeout` per command.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub(crate) async fn shared(&self, response_timeout: Duration) -> RedisResult<Connection> {
        match self {
            RedisTarget::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_response_timeout(Some(response_timeout))
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_number_of_retries(1);
                let manager = client.get_connection_manager_with_config(config).await?;
                Ok(Connection::Single(manager))
            }
            RedisTarget::Cluster(seeds) => self.cluster(seeds, response_timeout).await,
        }
    }

    /// A connection of its own, for a command that blocks it (BLPOP) for up to
    /// `response_timeout`.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub(crate) async fn dedicated(&self, response_timeout: Duration) -> RedisResult<Connection> {
        match self {
            RedisTarget::Single(client) => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(response_timeout));
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                Ok(Connection::Dedicated(conn))
            }
            RedisTarget::Cluster(seeds) => self.cluster(seeds, response_timeout).await,
        }
    }

    async fn cluster(
        &self,
        seeds: &[String],
        response_timeout: Duration,
    ) -> RedisResult<Connection> {
        let client = ClusterClient::builder(seeds.to_vec())
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(response_timeout)
            .retries(CLUSTER_RETRIES)
            .build()?;
        Ok(Connection::Cluster(client.get_async_connection().await?))
    }
}

/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the cluster connection retries a command that met a moved slot or a node
/// that went away, refreshing its slot map between tries: a failover takes a few
/// seconds, which the worker loops wait out themselves.
const CLUSTER_RETRIES: u32 = 3;

/// A connection to one server or to a cluster; cheap to clone, commands on clones are
/// pipelined on the same sockets.
#[derive(Clone)]
pub enum Connection {
    /// The shared, self-reconnecting connection to one server.
    Single(ConnectionManager),
    /// A connection of its own to one server.
    Dedicated(redis::aio::MultiplexedConnection),
    /// A cluster connection, routing each command by its key's slot.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(conn) => conn.req_packed_command(cmd),
            Connection::Dedicated(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Connection::Dedicated(conn) => conn.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(conn) => conn.get_db(),
            Connection::Dedicated(conn) => conn.get_db(),
            Connection::Cluster(conn) => conn.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RedisTarget;

    #[test]
    fn a_cluster_url_names_every_seed_node_and_shares_its_credentials() {
        let target =
            RedisTarget::parse("redis+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2:7001/").unwrap();
        let RedisTarget::Cluster(seeds) = target else {
            panic!("not a cluster");
        };
        assert_eq!(
            seeds,
            [
                "redis://app:s3cret@10.0.0.1:7000",
                "redis://app:s3cret@10.0.0.2:7001"
            ]
        );
        let RedisTarget::Cluster(tls_seeds) =
            RedisTarget::parse("rediss+cluster://10.0.0.1:7000,10.0.0.2:7001").unwrap()
        else {
            panic!("not a cluster");
        };
        assert_eq!(
            tls_seeds,
            ["rediss://10.0.0.1:7000", "rediss://10.0.0.2:7001"]
        );
        for single in ["redis://127.0.0.1:6379", "rediss://127.0.0.1:6380"] {
            assert!(matches!(
                RedisTarget::parse(single).unwrap(),
                RedisTarget::Single(_)
            ));
        }
        assert!(RedisTarget::parse("http://127.0.0.1:6379").is_err());
    }
}
