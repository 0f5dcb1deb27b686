// Command sort sorts lines by their first 10 bytes, TeraSort-style: its
// mr-out-* files, taken in order mr-out-0, mr-out-1, ..., are one sorted
// sequence, because it exports SampleSize and partitions with
// mr.RangePartition. The engine samples the input's keys before the map
// phase and cuts the key space into nReduce ranges of about equal size.
//
//	mr gen --kind records --files 4 --out data
//	mr run --nreduce 5 sort.so data
//	cat mr-out-0 mr-out-1 mr-out-2 mr-out-3 mr-out-4   # sorted
//
// Records are newline-terminated lines (a last line without a newline
// counts too; its output gets one). A record's key is its first 10 bytes,
// or the whole line if it is shorter, compared byte by byte as in
// LC_ALL=C sort. Records with equal keys keep their input order (the
// inputs in order, and lines within an input in order), so the output is a
// stable sort by key; when keys are unique, as in `mr gen --kind records`,
// it equals LC_ALL=C sort of the inputs byte for byte.
//
// The engine writes each record as "KEY VALUE\n", so Map strips the space
// that follows the key in a record like mr gen's (10 key bytes, a space,
// the payload), and such records come out exactly as they went in. A line
// whose byte 10 is not a space comes out with a space inserted after its
// 10th byte, and a line of 10 bytes or fewer with a space appended: its
// bytes and their order are kept, and the key is followed by a space like
// every other output line.
package main

import (
	"iter"
	"strings"

	"gomr.dev/mr"
)

// keySize is the length of a record's key.
const keySize = 10

// Map emits (key, value) for every line of contents: the first keySize
// bytes, and the rest of the line without the one space that follows the
// key in a well-formed record.
func Map(filename string, contents string, emit func(key, value string)) {
	for len(contents) > 0 {
		line, rest, _ := strings.Cut(contents, "\n")
		contents = rest
		emit(split(line))
	}
}

func split(line string) (key, value string) {
	if len(line) <= keySize {
		return line, ""
	}
	key, value = line[:keySize], line[keySize:]
	if value[0] == ' ' {
		value = value[1:]
	}
	return key, value
}

// Reduce outputs every record with the key, in input order. The engine
// writes "key " before what Reduce returns and "\n" after it, so joining
// the values with "\n" + key + " " puts each record on a line of its own.
// Nearly every key has one value, which it returns as it is, without
// building a string.
func Reduce(key string, values iter.Seq[string]) string {
	var b strings.Builder
	var one string
	n := 0
	for v := range values {
		switch n++; n {
		case 1:
			one = v
			continue
		case 2:
			b.WriteString(one)
		}
		b.WriteString("\n")
		b.WriteString(key)
		b.WriteString(" ")
		b.WriteString(v)
	}
	if n <= 1 {
		return one
	}
	return b.String()
}

// Partition sends each key to the reduce task whose range holds it, so the
// outputs concatenate in order.
func Partition(key string, nReduce int) int { return mr.RangePartition(key, nReduce) }

// SampleSize asks the engine for a sample of up to 100,000 keys (TeraSort's
// default) to place the cut points between ranges. The engine reads at
// most 4 MiB of input for it, about 42,000 of mr gen's records, so a large
// input yields fewer keys; either way each range's share of the records is
// off its fair share by about 1/sqrt(sample/nReduce): a few per cent with
// tens of reduce tasks.
func SampleSize() int { return 100_000 }

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
