// Package testdb gives tests their own PostgreSQL schema or Redis key prefix
// on the machine's services, so that tests run in parallel and leave nothing
// behind.
//
// Addresses come from the environment (IAM_TEST_POSTGRES_DSN, IAM_TEST_REDIS_ADDR)
// with the local defaults 127.0.0.1:5432 (database test, trust auth) and
// 127.0.0.1:6379. When a service is unreachable the test is skipped with a
// message saying how to start it, unless IAM_REQUIRE_SERVICES=1 (as in CI), in
// which case the test fails.
package testdb
