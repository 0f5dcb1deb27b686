package format

import (
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
)

// The row text form, what Map sees of a Parquet or Arrow input: one line
// per row, '\n'-terminated, made of the selected columns' values in
// schema (or --columns) order, separated by tabs. A null is empty. Inside a
// value, a tab, newline or backslash is written as `\t`, `\n` or `\\`, so
// a line is always one row and splitting it at tabs always gives the
// columns. Values take their natural text form:
//
//   - strings as they are; binary as its bytes (many writers store text as
//     unannotated binary), escaped the same way;
//   - integers in decimal; floats in the shortest form that reads back to
//     the same value (strconv 'g', so 1e+21, NaN, +Inf);
//   - booleans as true or false;
//   - dates as YYYY-MM-DD; timestamps in RFC 3339 in UTC, with as many
//     fractional digits as needed (a timestamp without a zone is taken to
//     be UTC);
//   - dictionary-encoded columns as their values;
//   - anything else flat (decimals, times of day, durations, intervals,
//     float16) as Arrow's ValueStr gives it.
//
// Nested columns (lists, structs, maps, unions) have no such form: a job
// that selects one fails, and must leave it out with --columns or read it
// with MapBatch.

// appendValue appends row i of a column to b.
type appendValue func(b []byte, i int) []byte

// nested reports whether a column's type has no row text form.
func nested(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.LIST_VIEW, arrow.LARGE_LIST_VIEW,
		arrow.STRUCT, arrow.MAP, arrow.SPARSE_UNION, arrow.DENSE_UNION, arrow.RUN_END_ENCODED:
		return true
	case arrow.DICTIONARY:
		return nested(dt.(*arrow.DictionaryType).ValueType)
	}
	return false
}

// errNested is the error for a selected nested column of file.
func errNested(file string, f arrow.Field) error {
	return fmt.Errorf("input %s: column %q is %s, which has no row text form; leave it out with --columns, or read it in the app with MapBatch", file, f.Name, f.Type)
}

// appendRows appends the row text of every row of rec to b.
func appendRows(b []byte, rec arrow.Record) ([]byte, error) {
	cols := make([]appendValue, rec.NumCols())
	for j := range cols {
		f := rec.Schema().Field(j)
		if nested(f.Type) {
			return b, fmt.Errorf("column %q is %s, which has no row text form", f.Name, f.Type)
		}
		cols[j] = valueAppender(rec.Column(j))
	}
	for i := range int(rec.NumRows()) {
		for j, app := range cols {
			if j > 0 {
				b = append(b, '\t')
			}
			b = app(b, i)
		}
		b = append(b, '\n')
	}
	return b, nil
}

// valueAppender returns how to append a value of arr; a null appends
// nothing.
func valueAppender(arr arrow.Array) appendValue {
	v := flatAppender(arr)
	return func(b []byte, i int) []byte {
		if arr.IsNull(i) {
			return b
		}
		return v(b, i)
	}
}

func flatAppender(arr arrow.Array) appendValue {
	switch a := arr.(type) {
	case *array.String:
		return func(b []byte, i int) []byte { return appendEscaped(b, a.Value(i)) }
	case *array.LargeString:
		return func(b []byte, i int) []byte { return appendEscaped(b, a.Value(i)) }
	case *array.StringView:
		return func(b []byte, i int) []byte { return appendEscaped(b, a.Value(i)) }
	case *array.Binary:
		return func(b []byte, i int) []byte { return appendEscaped(b, a.Value(i)) }
	case *array.LargeBinary:
		return func(b []byte, i int) []byte { return appendEscaped(b, a.Value(i)) }
	case *array.BinaryView:
		return func(b []byte, i int) []byte { return appendEscaped(b, a.Value(i)) }
	case *array.FixedSizeBinary:
		return func(b []byte, i int) []byte { return appendEscaped(b, a.Value(i)) }
	case *array.Int8:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(a.Value(i)), 10) }
	case *array.Int16:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(a.Value(i)), 10) }
	case *array.Int32:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(a.Value(i)), 10) }
	case *array.Int64:
		return func(b []byte, i int) []byte { return strconv.AppendInt(b, a.Value(i), 10) }
	case *array.Uint8:
		return func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(a.Value(i)), 10) }
	case *array.Uint16:
		return func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(a.Value(i)), 10) }
	case *array.Uint32:
		return func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(a.Value(i)), 10) }
	case *array.Uint64:
		return func(b []byte, i int) []byte { return strconv.AppendUint(b, a.Value(i), 10) }
	case *array.Float32:
		return func(b []byte, i int) []byte { return strconv.AppendFloat(b, float64(a.Value(i)), 'g', -1, 32) }
	case *array.Float64:
		return func(b []byte, i int) []byte { return strconv.AppendFloat(b, a.Value(i), 'g', -1, 64) }
	case *array.Boolean:
		return func(b []byte, i int) []byte { return strconv.AppendBool(b, a.Value(i)) }
	case *array.Date32:
		return func(b []byte, i int) []byte { return a.Value(i).ToTime().AppendFormat(b, time.DateOnly) }
	case *array.Date64:
		return func(b []byte, i int) []byte { return a.Value(i).ToTime().AppendFormat(b, time.DateOnly) }
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return func(b []byte, i int) []byte {
			return a.Value(i).ToTime(unit).UTC().AppendFormat(b, time.RFC3339Nano)
		}
	case *array.Null:
		return func(b []byte, i int) []byte { return b }
	case *array.Dictionary:
		dict := valueAppender(a.Dictionary())
		return func(b []byte, i int) []byte { return dict(b, a.GetValueIndex(i)) }
	}
	return func(b []byte, i int) []byte { return appendEscaped(b, arr.ValueStr(i)) }
}

// appendEscaped appends s with tab, newline and backslash escaped.
func appendEscaped[T string | []byte](b []byte, s T) []byte {
	for k := 0; k < len(s); k++ {
		switch c := s[k]; c {
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\':
			b = append(b, '\\', '\\')
		default:
			b = append(b, c)
		}
	}
	return b
}
