package scratch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestDeadScratchIsRemoved(t *testing.T) {
	out := t.TempDir()
	host, _ := os.Hostname()
	// A process that has exited, for a dead owner.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	for name, owner := range map[string]string{
		".mr-dead":    fmt.Sprintf("%s %d\n", host, dead),
		".mr-live":    fmt.Sprintf("%s %d\n", host, os.Getpid()),
		".mr-remote":  fmt.Sprintf("%s-elsewhere %d\n", host, dead),
		".mr-noowner": "",
	} {
		d := filepath.Join(out, name)
		os.Mkdir(d, 0o755)
		if owner != "" {
			os.WriteFile(filepath.Join(d, ownerFile), []byte(owner), 0o644)
		}
	}
	dir, err := Make(out, ".mr-", "new")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{".mr-dead": false, ".mr-live": true, ".mr-remote": true, ".mr-noowner": true, ".mr-new": true} {
		_, err := os.Stat(filepath.Join(out, name))
		if (err == nil) != want {
			t.Errorf("%s exists: %v; want %v", name, err == nil, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ownerFile)); string(b) != fmt.Sprintf("%s %d\n", host, os.Getpid()) {
		t.Errorf("owner file = %q", b)
	}
}
