package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"gomr.dev/mr"
)

func batch() arrow.Record {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"oslo", "rome", "oslo", "", "rome"}, []bool{true, true, true, false, true})
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{1, 10, 2, 5, 0}, []bool{true, true, true, true, false})
	return b.NewRecord()
}

func TestMapBatchSumsPerKey(t *testing.T) {
	mr.SetParams(map[string]string{"key": "city", "value": "n"})
	rec := batch()
	defer rec.Release()
	var got []string
	MapBatch("f", rec, func(k, v string) { got = append(got, k+"="+v) })
	if want := []string{"oslo=3", "rome=10", "=5"}; !slices.Equal(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
}

func TestMapBatchMissingColumn(t *testing.T) {
	mr.SetParams(map[string]string{"key": "town", "value": "n"})
	rec := batch()
	defer rec.Release()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "no such column; the batch has city, n") {
			t.Errorf("panic %v", r)
		}
	}()
	MapBatch("f", rec, func(k, v string) {})
}

func TestMapTextRows(t *testing.T) {
	var got []string
	Map("f", "oslo\t1\nrome\t\noslo\t2\n", func(k, v string) { got = append(got, k+"="+v) })
	if want := []string{"oslo=1", "oslo=2"}; !slices.Equal(got, want) {
		t.Errorf("got %v; want %v", got, want)
	}
	if Combine("k", []string{"1", "2", "-4"}) != "-1" {
		t.Error("Combine")
	}
}
