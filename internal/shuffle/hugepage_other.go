//go:build !linux

package shuffle

// adviseHuge does nothing where there is no madvise(MADV_HUGEPAGE).
func adviseHuge([]group) {}
