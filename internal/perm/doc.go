// Package perm is the permission grammar shared by the engine packages.
//
// A permission is `module.entity.action` or, for a field, `module.entity.field.action`:
// three or four lower-case segments of [a-z0-9_], joined by dots. A grant may
// also name a wildcard — one to three leading segments followed by `.*`
// (`permits.*`, `permits.application.*`, `crm.citizen.sin.*`) — which covers
// every permission that starts with that prefix. A request never holds a
// wildcard.
package perm
