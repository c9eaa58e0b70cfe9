// Command sqliteonly is a service on the embedded store: it opens a SQLite
// file, migrates it, builds an Authorizer over sqlitestore and asks one
// question. Its real purpose is to be linked (see package depcheck).
package main
