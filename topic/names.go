package topic

// Names indexes values by topic name, to find those whose names match a
// filter: the retained messages a new subscription receives. A filter is
// walked level by level, so a match visits only the branches it can match.
//
// Names is not safe for concurrent use; its owner guards it.
type Names[V any] struct {
	root  nameNode[V]
	count int
}

type nameNode[V any] struct {
	children map[string]*nameNode[V]
	val      V
	set      bool
}

// Set stores v under name, replacing what was there.
func (n *Names[V]) Set(name string, v V) {
	node := &n.root
	for {
		level, rest, more := cut(name)
		c := node.children[level]
		if c == nil {
			c = new(nameNode[V])
			if node.children == nil {
				node.children = make(map[string]*nameNode[V])
			}
			node.children[string([]byte(level))] = c
		}
		node = c
		if !more {
			break
		}
		name = rest
	}
	if !node.set {
		n.count++
	}
	node.val, node.set = v, true
}

// Get returns the value stored under name.
func (n *Names[V]) Get(name string) (V, bool) {
	node := &n.root
	for node != nil {
		level, rest, more := cut(name)
		node = node.children[level]
		if !more {
			break
		}
		name = rest
	}
	if node == nil || !node.set {
		var zero V
		return zero, false
	}
	return node.val, true
}

// Delete removes the value under name, pruning empty branches, and reports
// whether there was one.
func (n *Names[V]) Delete(name string) bool {
	if n.root.delete(name) {
		n.count--
		return true
	}
	return false
}

func (node *nameNode[V]) delete(name string) bool {
	level, rest, more := cut(name)
	c := node.children[level]
	if c == nil {
		return false
	}
	var deleted bool
	if more {
		deleted = c.delete(rest)
	} else if c.set {
		var zero V
		c.val, c.set, deleted = zero, false, true
	}
	if !c.set && len(c.children) == 0 {
		delete(node.children, level)
	}
	return deleted
}

// Len returns the number of names stored.
func (n *Names[V]) Len() int { return n.count }

// Match calls fn with each stored name matching filter and its value, until
// fn returns false. Names starting with '$' are not matched by a filter whose
// first level is a wildcard [MQTT-4.7.2-1]. The name is rebuilt for each
// call into a buffer reused across calls: fn must copy it to keep it.
func (n *Names[V]) Match(filter string, fn func(name string, v V) bool) {
	buf := make([]byte, 0, 128)
	n.root.match(filter, true, buf, fn)
}

// match walks filter's levels below node. path is the name so far, with a
// trailing '/' when not at the root. It returns false when fn asked to stop.
func (node *nameNode[V]) match(filter string, root bool, path []byte, fn func(string, V) bool) bool {
	level, rest, more := cut(filter)
	switch level {
	case "#":
		// '#' matches the parent level itself ("a/#" matches "a")...
		if !root && node.set && !fn(string(path[:len(path)-1]), node.val) {
			return false
		}
		// ...and everything below it.
		for l, c := range node.children {
			if root && l != "" && l[0] == '$' {
				continue
			}
			if !c.all(append(path, l...), fn) {
				return false
			}
		}
		return true
	case "+":
		for l, c := range node.children {
			if root && l != "" && l[0] == '$' {
				continue
			}
			if !c.step(rest, more, append(path, l...), fn) {
				return false
			}
		}
		return true
	}
	if c := node.children[level]; c != nil {
		return c.step(rest, more, append(path, level...), fn)
	}
	return true
}

// step continues a match at node, whose level matched.
func (node *nameNode[V]) step(rest string, more bool, path []byte, fn func(string, V) bool) bool {
	if more {
		return node.match(rest, false, append(path, '/'), fn)
	}
	if node.set {
		return fn(string(path), node.val)
	}
	return true
}

// all visits node and every name below it.
func (node *nameNode[V]) all(path []byte, fn func(string, V) bool) bool {
	if node.set && !fn(string(path), node.val) {
		return false
	}
	for l, c := range node.children {
		if !c.all(append(append(path, '/'), l...), fn) {
			return false
		}
	}
	return true
}
