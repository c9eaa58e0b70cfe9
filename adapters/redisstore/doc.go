// Package redisstore keeps session records in Redis for services that run
// many processes: a session.Store built on github.com/redis/rueidis.
//
// # Why rueidis
//
// A session.Manager caches verified sessions in each process and must drop
// them as soon as they end anywhere. rueidis speaks RESP3 and uses Redis's
// server-assisted client-side caching (CLIENT TRACKING): every record this
// process has read is tracked by the server, which pushes an invalidation
// on the same connection when that key is changed, deleted, expires or the
// database is flushed, by whoever did it — another process's logout, an
// operator's DEL, a FLUSHALL. A connection that breaks invalidates
// everything. go-redis/v9 with a pub/sub channel was the alternative: it
// hears only the changes that our own code publishes, so a FLUSHALL or a
// key deleted by hand would leave processes serving cached sessions whose
// record is gone, and a message lost while the subscriber reconnects is
// lost for good. Measured here (BENCHMARKS.md, "Sessions"): an
// invalidation reaches another OS process's cache with a p99 of a few
// milliseconds on loopback, and a record read that misses both caches takes
// well under a millisecond at p99 with 16 concurrent callers.
//
// # Replication
//
// [New] takes rueidis's own ClientOption, so Sentinel (MasterSet) and
// Cluster deployments are configured the way rueidis documents.
// [WithReplicaAck] makes each deletion wait (Redis WAIT) until replicas hold
// it, so that a failover does not bring a logged-out session's record
// back. Independently, the session.Manager writes every revocation to the
// policy store (session.EpochStore) before it deletes the record, so a
// revoked session stays refused even when Redis loses or rolls back data
// altogether (FLUSHALL, a restart from an old snapshot, a replica promoted
// before it saw a deletion that was not acknowledged).
//
// # Keys
//
// prefix+"s:"+id is a hash holding the record ("v", see encode), the last
// activity ("last", Unix ns), and the absolute expiry and idle timeout in
// milliseconds for the refresh script; it expires at the session's idle
// deadline, which a refresh moves. prefix+"u:"+subject is the set of the
// subject's session ids, for List; stale ids in it are skipped and
// removed.
package redisstore
