// Package store defines what a midge broker persists and the Store
// interface a backend implements: sessions and their subscriptions, the
// messages owed to each session (queued or in flight, in order), the QoS 2
// packet identifiers a client has not released yet, and retained messages.
//
// The in-memory backend is store/memory; every backend passes the shared
// suite in store/storetest.
//
// # Concurrency
//
// A Store is safe for concurrent use. Values passed in belong to the store
// after the call returns; values handed out (to fn callbacks, or returned)
// must be treated as read-only by the caller.
//
// # Caveats
//
// The broker keeps the live state of connected sessions itself and writes
// through to the store for sessions that outlive their connection; a store
// is the copy a broker restarts from, not a cache it reads on every packet.
package store
