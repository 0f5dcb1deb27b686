// Package scratch makes directories that record which process owns them,
// so that a later process on the same host can remove the leftovers of
// one that was killed before it could clean up.
package scratch

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ownerFile, in a scratch directory, names its owner as "HOST PID".
const ownerFile = "owner"

// Make creates the directory parent/prefix+suffix with its owner file,
// after removing the parent's prefix* directories whose owners were
// processes of this host that have exited.
func Make(parent, prefix, suffix string) (string, error) {
	RemoveDead(parent, prefix)
	dir := filepath.Join(parent, prefix+suffix)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	host, _ := os.Hostname()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), fmt.Appendf(nil, "%s %d\n", host, os.Getpid()), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// Adopt makes this process the owner of dir, a scratch directory whose
// owner has exited, so that RemoveDead leaves it alone from now on.
func Adopt(dir string) error {
	host, _ := os.Hostname()
	return os.WriteFile(filepath.Join(dir, ownerFile), fmt.Appendf(nil, "%s %d\n", host, os.Getpid()), 0o644)
}

// RemoveDead removes prefix* directories in parent whose owner is a
// process of this host that has exited. Directories of other hosts, of
// live processes, or without a readable owner are left alone.
func RemoveDead(parent, prefix string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, prefix+"*"))
	host, _ := os.Hostname()
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		h, p, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
		pid, err := strconv.Atoi(p)
		if !ok || err != nil || h != host || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}
