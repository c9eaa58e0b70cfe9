// Package pgoutbox relays the domain events that the SQL policy stores
// (adapters/pgstore, and adapters/sqlitestore for the embedded case) write
// to their iam_outbox table in the same transaction as each policy change,
// so that no event is lost when a process dies between the change and its
// announcement.
//
// # How it fits
//
// An iam.Admin built with iam.NewOutboxAdmin over the store hands it each
// change's events (Apply, Assign, Revoke, ActivateEmergency, the reaper…),
// complete with id, schema version and time; the store inserts
// them into iam_outbox inside the transaction that writes the change. They
// commit or roll back together. A [Relay] then reads undelivered rows in
// order, hands each event to a sink (any iam.AuditSink: it has the same
// Record method as [Sink]), and marks it delivered.
//
// # Delivery guarantees
//
// At least once: a row is marked delivered in the same transaction that
// read it, after the sink returned. If the relay dies (or its transaction
// fails) after the sink accepted an event but before the commit, the next
// relay delivers it again, with the same event ID. Exactly once per
// idempotency key: every event has a unique ID (also unique in the table),
// so a consumer that records the IDs it has processed — as [Dedupe] does in
// memory, or a unique index does in the audit service — processes each
// event once. Order: by insertion (the seq column); a sink error stops the
// batch at that row, so later events wait for it (the error and the attempt
// count are kept on the row).
//
// On PostgreSQL rows are read FOR UPDATE SKIP LOCKED, so several relays (one
// per process is fine) share the outbox without handing one row to two
// sinks at once.
//
// # Table
//
//	iam_outbox (
//		seq          bigint autoincrement primary key,
//		event_id     varchar(64) not null unique,  -- the idempotency key
//		type         varchar(100) not null,        -- "role.assigned", ...
//		payload      text not null,                -- the event's versioned JSON
//		created_at   timestamp not null,
//		delivered_at timestamp null,               -- null until relayed
//		attempts     bigint not null default 0,
//		last_error   text
//	)
//
// pgstore.Migrate and sqlitestore.Migrate create it; [Migrate] creates it
// alone. Delete delivered rows on your own schedule ([Relay.Purge]).
package pgoutbox
