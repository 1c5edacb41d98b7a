package topic

import (
	"sync"
	"sync/atomic"
)

// Tree is a subscription tree: topic filters, each with the subscribers to
// it. A subscriber is identified by a key K (a client, a session) and carries
// a value V (its subscription options). Matching a topic name walks only the
// branches that can match and allocates nothing.
//
// A Tree is safe for concurrent use: Add and Remove take a write lock, Match
// and Get a read lock. The visit function of Match runs under the read lock,
// so it must not call back into the tree.
//
// Every change raises the tree's version, which AddVersion returns and
// MatchStamp records: a caller comparing the two knows whether a match saw
// a subscription.
type Tree[K comparable, V any] struct {
	mu      sync.RWMutex
	root    node[K, V]
	count   int    // subscriptions: (filter, key) pairs
	version uint64 // raised by every Add and Remove that changes the tree
}

// indexAt is the number of subscribers on one filter past which a node keeps
// a map from key to position, so that adding and removing stay O(1) for a
// filter with many subscribers while the common case (one or a few) stays a
// small slice.
const indexAt = 8

type entry[K comparable, V any] struct {
	key K
	val V
}

type node[K comparable, V any] struct {
	children map[string]*node[K, V] // literal levels
	plus     *node[K, V]            // the '+' level
	hash     *node[K, V]            // the '#' level: its subscribers match here and below
	subs     []entry[K, V]
	index    map[K]int // key → position in subs, once len(subs) > indexAt
}

// Add subscribes key to filter with value v, replacing the value if key is
// already subscribed to this filter. It reports whether the subscription is
// new. The filter is assumed valid (see ValidateFilter).
func (t *Tree[K, V]) Add(filter string, key K, v V) bool {
	added, _ := t.AddVersion(filter, key, v)
	return added
}

// AddVersion is Add that also returns the tree's version with the
// subscription in place. A match stamped (see MatchStamp) with a lower
// version did not see it; one stamped with this version or a higher one
// did, unless it was removed again.
func (t *Tree[K, V]) AddVersion(filter string, key K, v V) (added bool, version uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.version++
	n := &t.root
	for {
		level, rest, more := cut(filter)
		n = n.child(level)
		if !more {
			break
		}
		filter = rest
	}
	if i, ok := n.find(key); ok {
		n.subs[i].val = v
		return false, t.version
	}
	n.subs = append(n.subs, entry[K, V]{key, v})
	if n.index != nil {
		n.index[key] = len(n.subs) - 1
	} else if len(n.subs) > indexAt {
		n.index = make(map[K]int, len(n.subs))
		for i, e := range n.subs {
			n.index[e.key] = i
		}
	}
	t.count++
	return true, t.version
}

// child returns n's child for level, creating it.
func (n *node[K, V]) child(level string) *node[K, V] {
	var slot **node[K, V]
	switch level {
	case "+":
		slot = &n.plus
	case "#":
		slot = &n.hash
	default:
		if c := n.children[level]; c != nil {
			return c
		}
		c := new(node[K, V])
		if n.children == nil {
			n.children = make(map[string]*node[K, V])
		}
		// The tree outlives the caller's string: keep a copy of the level,
		// not a slice of a filter that may alias a packet's body.
		n.children[string([]byte(level))] = c
		return c
	}
	if *slot == nil {
		*slot = new(node[K, V])
	}
	return *slot
}

func (n *node[K, V]) find(key K) (int, bool) {
	if n.index != nil {
		i, ok := n.index[key]
		return i, ok
	}
	for i := range n.subs {
		if n.subs[i].key == key {
			return i, true
		}
	}
	return 0, false
}

// Remove unsubscribes key from filter. It reports whether the subscription
// existed. Branches left empty are pruned.
func (t *Tree[K, V]) Remove(filter string, key K) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	removed, _ := t.root.remove(filter, key)
	if removed {
		t.count--
		t.version++
	}
	return removed
}

// remove removes key from the node for filter below n, and reports whether
// it did and whether n is left empty.
func (n *node[K, V]) remove(filter string, key K) (removed, empty bool) {
	level, rest, more := cut(filter)
	var c *node[K, V]
	switch level {
	case "+":
		c = n.plus
	case "#":
		c = n.hash
	default:
		c = n.children[level]
	}
	if c == nil {
		return false, false
	}
	var cEmpty bool
	if more {
		removed, cEmpty = c.remove(rest, key)
	} else {
		removed = c.drop(key)
		cEmpty = c.isEmpty()
	}
	if cEmpty {
		switch level {
		case "+":
			n.plus = nil
		case "#":
			n.hash = nil
		default:
			delete(n.children, level)
		}
	}
	return removed, n.isEmpty()
}

// drop removes key from n's subscribers, swapping the last one into its
// place.
func (n *node[K, V]) drop(key K) bool {
	i, ok := n.find(key)
	if !ok {
		return false
	}
	last := len(n.subs) - 1
	if i != last {
		n.subs[i] = n.subs[last]
		if n.index != nil {
			n.index[n.subs[i].key] = i
		}
	}
	n.subs[last] = entry[K, V]{}
	n.subs = n.subs[:last]
	if n.index != nil {
		delete(n.index, key)
		if len(n.subs) <= indexAt/2 {
			n.index = nil
		}
	}
	return true
}

func (n *node[K, V]) isEmpty() bool {
	return len(n.subs) == 0 && len(n.children) == 0 && n.plus == nil && n.hash == nil
}

// Get returns the value key subscribed to filter with.
func (t *Tree[K, V]) Get(filter string, key K) (V, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := &t.root
	for n != nil {
		level, rest, more := cut(filter)
		switch level {
		case "+":
			n = n.plus
		case "#":
			n = n.hash
		default:
			n = n.children[level]
		}
		if !more {
			break
		}
		filter = rest
	}
	if n != nil {
		if i, ok := n.find(key); ok {
			return n.subs[i].val, true
		}
	}
	var zero V
	return zero, false
}

// Len returns the number of subscriptions: (filter, key) pairs.
func (t *Tree[K, V]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.count
}

// Match calls visit for every subscription whose filter matches the topic
// name. A key subscribed through several matching filters is visited once
// for each: collapsing them to one delivery [MQTT-3.3.5-1] is the caller's
// choice. A name starting with '$' is not matched by filters that start with
// a wildcard [MQTT-4.7.2-1]. visit runs under the tree's read lock.
func (t *Tree[K, V]) Match(name string, visit func(key K, v V)) {
	t.MatchStamp(name, nil, visit)
}

// MatchStamp is Match that first stores the tree's version in stamp, if
// stamp is not nil, under the same read lock: the stamp then tells which
// subscriptions the match saw (see AddVersion), and is in place before any
// subscription added after the match returns its version.
func (t *Tree[K, V]) MatchStamp(name string, stamp *atomic.Uint64, visit func(key K, v V)) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if stamp != nil {
		stamp.Store(t.version)
	}
	dollar := name != "" && name[0] == '$'
	t.root.match(name, !dollar, visit)
}

// match visits the subscriptions below n that match the levels of name.
// wild is false only at the root for a '$' name.
func (n *node[K, V]) match(name string, wild bool, visit func(K, V)) {
	if wild && n.hash != nil {
		n.hash.visitAll(visit)
	}
	level, rest, more := cut(name)
	if wild && n.plus != nil {
		n.plus.matchBelow(rest, more, visit)
	}
	if c := n.children[level]; c != nil {
		c.matchBelow(rest, more, visit)
	}
}

// matchBelow continues a match at n, the node of a level that matched: with
// more levels it descends; at the name's last level n's own subscribers match,
// and so do those of its '#' child ("a/#" matches "a").
func (n *node[K, V]) matchBelow(rest string, more bool, visit func(K, V)) {
	if more {
		n.match(rest, true, visit)
		return
	}
	n.visitAll(visit)
	if n.hash != nil {
		n.hash.visitAll(visit)
	}
}

func (n *node[K, V]) visitAll(visit func(K, V)) {
	for i := range n.subs {
		visit(n.subs[i].key, n.subs[i].val)
	}
}
