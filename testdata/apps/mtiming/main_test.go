package main

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

func TestReduce(t *testing.T) {
	if got := Reduce("parallel", []string{"1", "3", "2"}); got != "3" {
		t.Errorf("Reduce(parallel) = %q, want the maximum, 3", got)
	}
	if got := Reduce("times-42", []string{"1.5", "2.5"}); got != "2" {
		t.Errorf("Reduce(times-42) = %q, want the count, 2", got)
	}
}

// TestNparallel runs nparallel next to markers of a live process and of a
// dead one: it counts this process and the live one, and cleans up.
func TestNparallel(t *testing.T) {
	t.Chdir(t.TempDir())
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	for _, name := range []string{
		fmt.Sprintf("mr-worker-map-%d-1", os.Getppid()),
		fmt.Sprintf("mr-worker-map-%d-7", dead.Process.Pid),
		"mr-worker-map-junk",
		"mr-worker-reduce-1-1", // another phase, and pid 1 is alive
	} {
		if err := os.WriteFile(name, nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	if n := nparallel("map"); n != 2 {
		t.Errorf("nparallel = %d, want 2 (this process and its parent)", n)
	}
	if _, err := os.Stat(fmt.Sprintf("mr-worker-map-%d-%d", os.Getpid(), seq.Load())); !os.IsNotExist(err) {
		t.Errorf("own marker left behind: %v", err)
	}
}
