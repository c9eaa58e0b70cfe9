// Package storetest is the conformance suite of the policy stores in
// adapters/ (memstore, sqlitestore, pgstore). Each store's tests call [Run],
// so that all of them accept and refuse the same changes, keep revisions
// the same way and load back the models they were given; the SQL stores
// also prove that gorm-adapter itself loads their rows into a Casbin
// enforcer that answers like the compiled model.
//
// It imports package testing and is meant for tests only. [CityModel],
// [Normalize], [Equal] and [Agree] are useful on their own.
package storetest
