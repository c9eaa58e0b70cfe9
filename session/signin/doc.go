// Package signin is local sign-in for staff: email and password, an
// optional TOTP second factor, lockout, and the user records they rest on.
//
// A [Service] is built from a [Store] (memory: [NewMemStore]; SQL:
// pgstore.NewIdentityStore and sqlitestore.NewIdentityStore after
// MigrateIdentity) and a secrets.Sealer for TOTP secrets. On success it
// asks a [Sessions] implementation (the session package's manager,
// adapted) for a new session carrying the methods used and whether a
// second factor was verified: a new session id on every sign-in and on
// every step-up, so no session is fixed before authentication.
//
// # Passwords
//
// Hashes are argon2id at OWASP parameters (package password), rehashed on
// the next sign-in when the parameters are raised. A capped number of
// hashes run at once, so a burst of attempts queues rather than exhausting
// memory. Passwords are normalised to NFKC, so the NFC and NFD spellings
// of one password both sign in. An empty password, one over 4 KiB,
// invalid UTF-8 or NUL is refused with [ErrInvalidInput] before any
// counter or hash is touched.
//
// # No enumeration
//
// A wrong password, an unknown email, an account without a password and
// an inactive account all return [ErrInvalidCredentials] with the same
// message, after the same work: an unknown account is verified against a
// dummy hash made with the same parameters. Lockout counters are keyed by
// the email as typed (normalised), so unknown emails lock exactly like
// known ones. Events for unknown emails carry no login name.
//
// # Lockout
//
// See [Lockout]. Each attempt reserves a slot on its client's counter,
// then on its account's, by compare-and-set in the store, before any
// verification; a full counter refuses with a [LockedError]. Under any
// number of parallel attempts at most the limit reach verification. A
// lock's length doubles with each consecutive lock up to a maximum and
// ends by itself; [Service.Unlock] ends it early. Per-client limits are
// checked first and are lower than the account limit, so one client
// cannot lock an account; a device token from an earlier successful
// sign-in ([Result.DeviceToken]) moves its holder to a counter of its own,
// so an attack from elsewhere does not lock the account's owner out.
//
// # TOTP
//
// [Service.BeginTOTP] makes a secret (sealed at rest, bound to the user's
// row in iam_totp) with an otpauth:// URI and a QR code;
// [Service.ConfirmTOTP] confirms it with a first code and returns ten
// recovery codes, stored hashed ([Service.RegenerateRecoveryCodes]
// replaces them). A code is accepted only if the store can advance the
// user's last accepted time step to the code's step by compare-and-set,
// so a code works once: not twice in a row, not an older code from the
// skew window after a newer one, not in two parallel requests. A user with
// TOTP who signs in with a password alone gets [Result.MFARequired] and a
// five-minute challenge for [Service.CompleteMFA]; [Service.StepUp] adds
// the second factor to an existing session's methods. Wrong codes count
// towards the account lock.
//
// # Events
//
// login.succeeded, login.failed (detail "reason"), account.locked,
// account.unlocked, mfa.enrolled, mfa.verified, mfa.failed and mfa.reset
// go to the [EventSink]. No event or error carries a password, a code or
// a secret.
package signin
