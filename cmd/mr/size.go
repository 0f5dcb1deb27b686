package main

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeFlag is a byte count written as 123, 64KiB, 64MiB or 1GiB (K, M and
// G alone mean the same powers of two).
type sizeFlag int64

func (s *sizeFlag) String() string { return formatSize(int64(*s)) }
func (s *sizeFlag) Type() string   { return "size" }

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"G", 30}, {"M", 20}, {"K", 10}, {"B", 0}}

func parseSize(v string) (int64, error) {
	num, shift := v, uint(0)
	for _, u := range sizeUnits {
		if p, ok := strings.CutSuffix(v, u.suffix); ok {
			num, shift = p, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size; write bytes, or e.g. 64KiB, 64MiB, 1GiB", v)
	}
	return n << shift, nil
}

func formatSize(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}
