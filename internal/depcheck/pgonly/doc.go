// Command pgonly is a service that keeps its policy in PostgreSQL: it
// migrates the tables, builds an Authorizer over pgstore with pgnotify's
// listener, and asks one question. Set IAM_TEST_DSN to run it; its real
// purpose is to be linked (see package depcheck).
package main
