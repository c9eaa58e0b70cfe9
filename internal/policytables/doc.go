// Package policytables names the tables of the SQL policy stores and the
// error they report while those tables are missing. It imports nothing but
// the standard library, so that a package which only needs the names
// (adapters/pgnotify, which listens and notifies) does not link a store.
package policytables
