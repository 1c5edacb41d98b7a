//go:build !unix

package mqtt

import "io"

// newDirectWriter returns nil: without non-blocking socket writes, a
// connection's answers always go through its writer goroutine.
func newDirectWriter(io.ReadWriteCloser) directWriter { return nil }
