// Package cli holds what the example binaries share: flag types.
package cli

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// ByteSize is a flag.Value for sizes such as 4096, 64K, 256M, 1G or 2GiB
// (binary multiples).
type ByteSize int64

func (b *ByteSize) String() string {
	if b == nil || *b == 0 {
		return ""
	}
	return strconv.FormatInt(int64(*b), 10)
}

func (b *ByteSize) Set(s string) error {
	n, err := ParseSize(s)
	if err != nil {
		return err
	}
	*b = ByteSize(n)
	return nil
}

// sizePattern is a count, an optional binary unit, and an optional "iB"
// or "B" after the unit.
var sizePattern = regexp.MustCompile(`^([0-9]+)\s*(?:([KMGT])(?:I?B)?|B)?$`)

// ParseSize reads a positive byte count with an optional K, M, G or T
// suffix (powers of 1024; "KiB", "MB" and friends mean the same).
func ParseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(strings.ToUpper(strings.TrimSpace(s)))
	var n int64
	var err error
	if m != nil {
		n, err = strconv.ParseInt(m[1], 10, 64)
	}
	if m == nil || err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes with an optional K, M, G or T suffix", s)
	}
	shift := 0
	if m[2] != "" {
		shift = 10 * (strings.Index("KMGT", m[2]) + 1)
	}
	if n > (1<<63-1)>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n << shift, nil
}
