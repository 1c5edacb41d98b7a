// Package topic validates MQTT topic names and filters, matches names against
// filters, parses shared subscriptions ($share/{group}/{filter}) and keeps
// the subscription tree a broker routes with.
//
// # Concurrency
//
// The functions are pure. Tree is safe for concurrent use; see its doc for
// the one rule (Match's visit function must not call back into the tree).
//
// # Caveats
//
// Match and Tree assume valid names and filters: validate what a client
// sends with ValidateName, ValidateFilter and ParseShared first.
package topic
