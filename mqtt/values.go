package mqtt

import (
	"sync"
	"sync/atomic"
)

// values holds per-connection values for the layers above a Conn: a
// middleware's state for one connection, under keys of its own. Values are
// set mostly when a connection starts and read on every packet, so reads are
// lock-free: SetValue replaces the whole list, and Value reads the current
// one. A connection carries few, so a slice beats a map.
type values struct {
	mu   sync.Mutex // serialises SetValue; readers take no lock
	list atomic.Pointer[[]keyValue]
}

type keyValue struct{ key, val any }

// Value returns the value stored under key on the connection, or nil.
// Keys are compared with ==; use a pointer or an unexported type so that
// layers do not collide. It takes no lock.
func (c *Conn) Value(key any) any {
	if l := c.values.list.Load(); l != nil {
		for _, e := range *l {
			if e.key == key {
				return e.val
			}
		}
	}
	return nil
}

// SetValue stores val under key on the connection, replacing the value
// before. It is safe for concurrent use.
func (c *Conn) SetValue(key, val any) {
	c.values.mu.Lock()
	defer c.values.mu.Unlock()
	var next []keyValue
	if old := c.values.list.Load(); old != nil {
		next = make([]keyValue, len(*old), len(*old)+1)
		copy(next, *old)
	}
	for i, e := range next {
		if e.key == key {
			next[i].val = val
			c.values.list.Store(&next)
			return
		}
	}
	next = append(next, keyValue{key, val})
	c.values.list.Store(&next)
}
