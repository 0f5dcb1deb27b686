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
// and writes "HOST PID" into it. The lock lasts until release is called or
// the process ends, however it ends: the kernel drops the lock of a killed
// process, so a stale file never blocks the next taker. When another
// process holds it, the error wraps ErrLocked and names the holder.
func Lock(path string) (release func(), err error) {
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
	host, _ := os.Hostname()
	if err := f.Truncate(0); err == nil {
		f.WriteAt(fmt.Appendf(nil, "%s %d\n", host, os.Getpid()), 0)
	}
	return func() { f.Close() }, nil
}

// describeOwner turns "HOST PID" into words.
func describeOwner(s string) string {
	host, pid, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return "a process that has not said which"
	}
	return fmt.Sprintf("process %s on host %s", pid, host)
}
