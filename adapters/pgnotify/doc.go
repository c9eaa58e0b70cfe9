// Package pgnotify tells every process sharing a PostgreSQL policy store
// (adapters/pgstore) that the policy changed, within milliseconds, through
// LISTEN/NOTIFY.
//
// # Sending
//
// Nothing in the writers has to remember to notify. [Migrate] installs a
// trigger on iam_policy_revision, the one-row counter that every pgstore
// write bumps inside its transaction: after each update it runs
// pg_notify(channel, NEW.revision::text). A notification is delivered when,
// and only if, the transaction commits, so every committed change is
// announced with its revision and a rolled-back one never is.
//
// # Receiving
//
// A [Listener] holds one dedicated connection (not one from the service's
// pool), LISTENs on the channel and implements iam.Notifier:
//
//   - every notification calls changed; the Authorizer coalesces a burst
//     into one reload, and a reload loads whatever is newest;
//   - after every connect and reconnect it calls changed once more, since
//     notifications sent while it was disconnected are lost for good: this
//     resync is what Casbin's PostgreSQL watcher does not do;
//   - a lost connection is retried with exponential backoff and jitter
//     ([WithBackoff]), forever, until the Watch context ends;
//   - every poll interval ([WithPollInterval], default 30 s) it reads the
//     revision on the same connection and reports a change if it moved, as
//     a second line of defence that also finds a silently dead connection.
//
// Listener also implements iam.ConnectionReporter, so iam's Health says
// whether the watcher is connected or reconnecting. A Listener does not
// bound staleness by itself: the Authorizer does (iam.DefaultMaxStaleness,
// 30 s, over pgstore; iam.WithMaxStaleness changes it), confirming through
// the store every quarter of the bound while the Listener is connected and
// every second (iam.DefaultPollInterval) while it is not.
//
// # Plain Casbin
//
// [CasbinWatcher] implements Casbin's persist.Watcher on the same
// machinery for services that run Casbin enforcers over gorm-adapter's
// casbin_rule table; its Update bumps the revision so that iam processes
// see changes written through Casbin, too.
//
// # Channels
//
// Notification channels belong to a database, not a schema. Services whose
// policies live in different schemas of one database must use different
// channels ([WithChannel], and the same name in [Migrate]); otherwise they
// only cause each other harmless extra reloads.
//
// Listener and CasbinWatcher are safe for concurrent use. The package
// imports pgx for its connection and gorm only for [Migrate]; it imports no
// policy store (it names the revision table it listens on and nothing
// else), so linking it adds no driver beyond pgx.
package pgnotify
