package mqtt

import "sync"

// values holds per-connection values for the layers above a Conn: a
// middleware's state for one connection, under keys of its own. A
// connection carries few, so a slice beats a map.
type values struct {
	mu sync.Mutex // guards kv; a leaf lock
	kv []keyValue
}

type keyValue struct{ key, val any }

// Value returns the value stored under key on the connection, or nil.
// Keys are compared with ==; use a pointer or an unexported type so that
// layers do not collide.
func (c *Conn) Value(key any) any {
	c.values.mu.Lock()
	defer c.values.mu.Unlock()
	for _, e := range c.values.kv {
		if e.key == key {
			return e.val
		}
	}
	return nil
}

// SetValue stores val under key on the connection, replacing the value
// before. It is safe for concurrent use.
func (c *Conn) SetValue(key, val any) {
	c.values.mu.Lock()
	defer c.values.mu.Unlock()
	for i, e := range c.values.kv {
		if e.key == key {
			c.values.kv[i].val = val
			return
		}
	}
	c.values.kv = append(c.values.kv, keyValue{key, val})
}
