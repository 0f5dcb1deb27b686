package format

import (
	"syscall"
	"unsafe"
)

// alloc returns a buffer of n bytes for a split's text. One of 4 MiB or
// more is advised to the kernel as huge pages before anything touches it:
// reading a 64 MiB split into 4 KiB pages takes 16,384 page faults, and a
// sort that writes a split's records out in key order touches them at
// random, missing the TLB on nearly every record; in 2 MiB pages both
// nearly vanish. Where transparent huge pages are set to madvise, the
// common default, nothing else gets them. It is only advice: an error
// changes nothing, so it is ignored.
func alloc(n int) []byte {
	b := make([]byte, n)
	if n >= 4<<20 {
		syscall.Madvise(unsafe.Slice(unsafe.SliceData(b), n), syscall.MADV_HUGEPAGE)
	}
	return b
}
