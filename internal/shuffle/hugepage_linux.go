package shuffle

import (
	"syscall"
	"unsafe"
)

// adviseHuge asks the kernel to back a large table's slots with huge
// pages. Slots are reached at random, one cache line per pair, and over
// 4 KiB pages a table of a split's vocabulary (16 MiB for 100,000 keys)
// misses the TLB on most lookups. Where transparent huge pages are set to
// madvise, the common default, nothing else gets them. It is only advice:
// an error changes nothing, so it is ignored.
func adviseHuge(slots []group) {
	n := len(slots) * groupBytes
	if n < 4<<20 {
		return
	}
	syscall.Madvise(unsafe.Slice((*byte)(unsafe.Pointer(&slots[0])), n), syscall.MADV_HUGEPAGE)
}
