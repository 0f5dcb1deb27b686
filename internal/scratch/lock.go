package scratch

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// ErrLocked is wrapped by Lock's error when another process holds the lock.
var ErrLocked = errors.New("locked")

// Lock takes an exclusive lock on the file at path (flock(2)), creating it,
// and writes "HOST PID" into it. The lock lasts until release is called,
// which removes the file, or the process ends, however it ends: the kernel
// drops the lock of a killed process, so a stale file never blocks the
// next taker. When another process holds it, the error wraps ErrLocked and
// names the holder.
func Lock(path string) (release func(), err error) {
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			holder, _ := os.ReadFile(path)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w by %s", ErrLocked, describeOwner(string(holder)))
			}
			return nil, err
		}
		// A holder removes the file as it releases it. If it did so
		// between our open and our flock, we hold a lock on a file no
		// longer at path, which locks nothing: try again.
		if same(f, path) {
			host, _ := os.Hostname()
			if err := f.Truncate(0); err == nil {
				f.WriteAt(fmt.Appendf(nil, "%s %d\n", host, os.Getpid()), 0)
			}
			return func() {
				os.Remove(path) // while still locked, so no one locks the old file
				f.Close()
			}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("%s: removed and made again while locking it, ten times over", path)
}

// same reports whether the open file f is still the file at path.
func same(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// describeOwner turns "HOST PID" into words.
func describeOwner(s string) string {
	host, pid, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return "a process that has not said which"
	}
	return fmt.Sprintf("process %s on host %s", pid, host)
}
