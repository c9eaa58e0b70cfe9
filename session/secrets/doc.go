// Package secrets seals the credentials the library stores — TOTP secrets,
// signing private keys, anything a database dump must not reveal — with
// AES-256-GCM under envelope encryption.
//
// # Envelope
//
// [Sealer.Seal] draws a fresh 256-bit data key for every value, encrypts the
// value with it (AES-256-GCM, random 96-bit nonce) and asks a [KeyProvider]
// to wrap the data key under the provider's current key-encryption key. The
// result is one printable string:
//
//	v1.<key id>.<wrapped data key>.<nonce and ciphertext>
//
// (the last two in unpadded base64url). The key id travels beside the
// ciphertext, so a provider can hold several keys: the newest wraps, every
// key it still holds unwraps, and values sealed under an older key keep
// opening until they are resealed ([Sealer.Reseal], [KeyID]). Keys rotate
// without a flag day.
//
// A [KeyProvider] has two methods, Wrap and Unwrap, so that an HSM or a
// cloud KMS can implement it without ever revealing its key-encryption key.
// [StaticKeys] is the implementation that ships: keys read from a file
// ([LoadKeyFile]), an environment variable ([KeysFromEnv]) or given in code.
//
// [Sealer.SealPrivateKey] and [Sealer.OpenPrivateKey] do the same for a
// private key (a session signing key) in PKCS #8 form.
//
// # Binding to a row
//
// Every value is sealed for a [Binding] — table, column and row id — which
// becomes GCM's associated data together with the key id. A sealed value
// copied to another row, another column or another table does not open
// there: [Sealer.Open] fails with [ErrDecrypt]. So does any change to a
// single byte.
//
// # Errors
//
// Open fails closed and says why with a sentinel: [ErrMalformed] (not a
// sealed value, truncated, oversized), [ErrUnknownKey] (the provider does
// not hold the key id), [ErrDecrypt] (authentication failed: tampered,
// moved to another row, or a key id that names a different key). No error
// carries plaintext or key material.
package secrets
