// Package apikey gives non-human callers — integrations, nightly jobs,
// other services — credentials of their own: service accounts, which are
// subjects of the policy like people, and API keys for them, with the
// governance a city's IT administrator and CISO review every quarter.
//
// # Service accounts
//
// A service account is the subject svc:<id>, owned by a person (user:<id>)
// and a department, with a description and a status. It receives roles
// through the policy like any subject (iam.Admin.Assign), so WhoCan,
// segregation-of-duties checks and access reviews include it.
// Manager.CreateAccount, Manager.DisableAccount, Manager.EnableAccount
// and Manager.DeleteAccount emit service_account.created, .disabled,
// .enabled and .deleted; a disabled account's keys are refused at once,
// and deleting an account also revokes its own grants through the policy.
//
// # Keys
//
// A key reads
//
//	civic_<id>_<secret><checksum>
//
// a fixed prefix that secret scanners match, a public id of 16 characters
// (80 random bits), a secret of 52 characters (256 bits from
// crypto/rand) and a 7-character CRC-32 of everything before it, all in
// lower-case base32; KeyLen bytes in all. Parse refuses a key of any other
// length (a truncated or a 1 MB key), prefix or alphabet (ErrMalformed)
// and a key whose checksum does not match — a typo — (ErrChecksum)
// without any lookup. The secret is returned once by Manager.CreateKey
// or Manager.Rotate and is stored only as HMAC-SHA-256 under a server key
// given to New: with 256 bits of entropy a slow hash adds nothing. A key
// is looked up by its id and its secret compared in constant time; an id
// that does not exist is compared against a dummy and refused with the
// same error (ErrUnknownKey) as a wrong secret.
//
// A key may carry a narrowing: a subset of the account's permissions and
// scopes. Manager.CreateKey refuses a narrowing that asks for more than
// the account holds now (ErrNarrowingExceeds). Manager.Authorize refuses
// a request outside the narrowing (ErrNarrowed) and asks the live policy
// for every request (ErrDenied), so an account that loses a role loses
// it through all its keys at once; nothing about permissions is cached
// with the key.
//
// # Verification and the process cache
//
// Manager.Verify parses the key, then answers from an in-process LRU
// cache (hashicorp/golang-lru): a warm verification compares a SHA-256
// of the presented secret with the one cached when the secret last passed
// the HMAC check, touches no store and allocates nothing. A miss reads
// the store once (the key and its account in one read), checks the HMAC
// and caches. Unknown ids are cached too, briefly, so that a warm refusal
// costs the same whether the id exists or not.
//
// # Rotation, revocation and the feed
//
// Manager.Rotate issues a new key and keeps the old one valid until an
// overlap deadline (WithOverlap, default 7 days); from then on the old key
// is refused by time alone (ErrRetired; apikey.used_after_overlap is
// emitted for a refused use, at most once a minute per key and process).
// Manager.Revoke ends a key at once.
//
// Processes that share a Store share invalidations through a Feed, the way
// session Managers share their store's change feed: every change is
// published after it is committed, each Manager drops what it hears, and
// a Manager serves cached keys only while its feed has confirmed it is
// connected within the staleness bound (WithMaxStaleness, default 5 s);
// otherwise it reads the store for every verification. A feed that
// (re)connects drops the whole cache, since messages may have been missed.
// MemoryFeed connects Managers in one process; adapters/redisstore's
// KeyFeed uses Redis pub/sub between processes. Without a feed a cached
// key is re-read from the store once it is older than the staleness
// bound.
//
// # Last use
//
// Each accepted verification stores the time in the cached entry (one
// atomic store). One goroutine per Manager writes those times to the
// store in one batch every flush interval (WithFlushInterval, default one
// minute) and once more on Close. The stored Key.LastUsed is therefore
// accurate to the flush interval: it may trail the real last use by up to
// one interval, and a process that crashes loses at most one interval.
//
// # Governance report
//
// Manager.Report lists every key with its account, owner, department,
// creation, last rotation, age, rotation due date (90 days by default),
// rotation status (ok, due within 14 days, overdue), last use, whether it
// has been unused for 60 days, its overlap state (retiring, and whether
// the replacement has been adopted and whether the old key is still used
// near its deadline) and what it may do now (permission@scope from the
// live policy, within the narrowing). Its summary counts active keys,
// accounts, keys due soon, overdue and unused, and names the controls it
// evidences (SOC 2 CC6.1/CC6.2, NIST CSF PR.AA-01/PR.AA-05, ISO 27001
// A.5.17/A.5.18). Report.WriteCSV writes through internal/csvsafe, with
// English or French column headers (ReportOptions.Language);
// Report.WriteJSON writes JSON.
//
// # Events
//
// apikey.created, apikey.rotated, apikey.revoked, apikey.expired (once
// per key per process), apikey.used_after_overlap and service_account.*
// go to the EventSink (an iam.AuditSink). No event, error or log line
// carries a secret.
//
// # Storage
//
// MemoryStore is for tests; adapters/pgstore and adapters/sqlitestore
// provide SQL stores (MigrateAPIKeys, NewAPIKeyStore).
//
// A Manager is safe for concurrent use. It owns a flusher goroutine and,
// with a feed, a follower; Close stops both.
package apikey
