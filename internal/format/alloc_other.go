//go:build !linux

package format

// alloc returns a buffer of n bytes for a split's text.
func alloc(n int) []byte { return make([]byte, n) }
