// Package apikeytest is the conformance suite every apikey.Store passes:
// the memory store and the SQL stores run the same tests.
package apikeytest
