// Command colsum sums an integer column per value of a key column, like
// SELECT key, SUM(value) ... GROUP BY key, over Parquet or Arrow inputs:
//
//	mr run --param key=KEYCOL --param value=VALUECOL colsum.so data.parquet
//
// With MapBatch it reads the columns typed, straight from the Arrow
// record batches, with no text in between; the engine reads only the
// columns a split's --columns name, so pass --columns KEYCOL,VALUECOL to
// read no others. A null value adds nothing (as SQL's SUM), a null key is
// the empty key. The key's text is the value's natural text form.
//
// Map handles text inputs, and Parquet or Arrow ones read as text by an
// engine without MapBatch: each line is KEY<tab>VALUE, as --columns
// KEYCOL,VALUECOL gives it.
//
// Output: one row per key, the sum as an int64 (ValueType).
package main

import (
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"

	"gomr.dev/mr"
)

// MapBatch sums the value column per key within the batch and emits one
// pair per key it saw.
func MapBatch(filename string, batch arrow.Record, emit func(key, value string)) {
	kc, vc := column(batch, "key"), column(batch, "value")
	value := integers(batch.Column(vc), batch.Schema().Field(vc))
	keys := batch.Column(kc)
	str, _ := keys.(*array.String)
	sums := map[string]int64{}
	var order []string
	for i := range int(batch.NumRows()) {
		v, ok := value(i)
		if !ok {
			continue
		}
		var k string
		switch {
		case keys.IsNull(i):
		case str != nil:
			k = str.Value(i)
		default:
			k = keys.ValueStr(i)
		}
		if _, seen := sums[k]; !seen {
			order = append(order, strings.Clone(k)) // Value aliases the batch's buffer
		}
		sums[k] += v
	}
	for _, k := range order {
		emit(k, strconv.FormatInt(sums[k], 10))
	}
}

// column returns the index of the column that job parameter param names,
// or panics with a message that lists those there are, which fails the
// task with it.
func column(batch arrow.Record, param string) int {
	name, ok := mr.LookupParam(param)
	if !ok {
		panic(fmt.Sprintf("colsum: set --param %s=COLUMN", param))
	}
	if idx := batch.Schema().FieldIndices(name); len(idx) > 0 {
		return idx[0]
	}
	var names []string
	for _, f := range batch.Schema().Fields() {
		names = append(names, f.Name)
	}
	panic(fmt.Sprintf("colsum: --param %s=%s: no such column; the batch has %s", param, name, strings.Join(names, ", ")))
}

// integers returns a getter of row i of an integer column: its value and
// whether it is not null.
func integers(col arrow.Array, f arrow.Field) func(i int) (int64, bool) {
	switch a := col.(type) {
	case *array.Int64:
		return func(i int) (int64, bool) { return a.Value(i), a.IsValid(i) }
	case *array.Int32:
		return func(i int) (int64, bool) { return int64(a.Value(i)), a.IsValid(i) }
	case *array.Int16:
		return func(i int) (int64, bool) { return int64(a.Value(i)), a.IsValid(i) }
	case *array.Int8:
		return func(i int) (int64, bool) { return int64(a.Value(i)), a.IsValid(i) }
	case *array.Uint32:
		return func(i int) (int64, bool) { return int64(a.Value(i)), a.IsValid(i) }
	case *array.Uint16:
		return func(i int) (int64, bool) { return int64(a.Value(i)), a.IsValid(i) }
	case *array.Uint8:
		return func(i int) (int64, bool) { return int64(a.Value(i)), a.IsValid(i) }
	}
	panic(fmt.Sprintf("colsum: value column %q is %s, not an integer", f.Name, f.Type))
}

// Map reads KEY<tab>VALUE lines; an empty VALUE (a null) adds nothing.
func Map(filename string, contents string, emit func(key, value string)) {
	for line := range strings.Lines(contents) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
		if !ok || v == "" {
			continue
		}
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			panic(fmt.Sprintf("colsum: %s: value %q of key %q is not an integer; read KEYCOL,VALUECOL with --columns", filename, v, k))
		}
		emit(k, v)
	}
}

// Combine and Reduce add decimal sums.
func Combine(key string, values []string) string {
	var n int64
	for _, v := range values {
		x, _ := strconv.ParseInt(v, 10, 64)
		n += x
	}
	return strconv.FormatInt(n, 10)
}

func Reduce(key string, values iter.Seq[string]) string {
	var n int64
	for v := range values {
		x, _ := strconv.ParseInt(v, 10, 64)
		n += x
	}
	return strconv.FormatInt(n, 10)
}

// ValueType makes the sum an int64 column in Parquet and Arrow output.
func ValueType() string { return "int64" }

// main never runs: an app is loaded as a plugin. It is here so that
// `go build ./...` can build the package too.
func main() {}
