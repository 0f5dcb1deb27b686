package master

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ownerFile, in a job's scratch directory, names the master that owns it
// as "HOST PID", so a later master can tell a dead job's leftovers from a
// live job's directory.
const ownerFile = "owner"

// makeScratch creates the job's scratch directory in out, with its owner
// file, after removing the scratch directories of masters on this host
// that are no longer running.
func makeScratch(out, name string) (string, error) {
	removeDeadScratch(out)
	dir := filepath.Join(out, name)
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

// removeDeadScratch removes .mr-* directories in out whose owner is a
// process of this host that has exited. Directories of other hosts, of
// live processes, or without a readable owner are left alone.
func removeDeadScratch(out string) {
	dirs, _ := filepath.Glob(filepath.Join(out, ".mr-*"))
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
