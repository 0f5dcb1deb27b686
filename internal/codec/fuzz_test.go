package codec

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReader feeds arbitrary bytes to a Reader. It must not panic, must
// end in io.EOF or an error wrapping ErrCorrupt, and must never hold a
// buffer larger than the decompressed bytes justify, whatever lengths the
// input claims.
func FuzzReader(f *testing.F) {
	for _, c := range codecs {
		f.Add(encode(f, c, nil))
		f.Add(encode(f, c, []kv{{"a", "1"}, {"a", "1"}, {"b", "22"}, {"", ""}}))
		f.Add(rawRun(c, []byte{0x80, 0x80, 0x80, 0x04, 'x'})) // key length 2^21-ish, short
		f.Add(encode(f, c, []kv{{"a", "1"}, {"a", "1"}, {"a", "1"}, {"b", "1"}, {"b", "1"}}))
		f.Add(rawRun(c, []byte{0x04, 'a', 0x00, 0xff, 0xff, 0x7f, 0x00, 0x01})) // repeat over limit
	}
	f.Add([]byte(magic))
	f.Add([]byte("not a run at all"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		defer r.Close()
		for {
			_, _, err := r.Next()
			if limit := max(readBufSize, 2*r.inflated); int64(cap(r.buf)) > limit {
				t.Fatalf("buffer %d bytes after %d decompressed", cap(r.buf), r.inflated)
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err = %v, want ErrCorrupt", err)
				}
				return
			}
		}
	})
}

// FuzzRoundTrip writes records cut from arbitrary bytes and reads them
// back, in both codecs.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add([]byte("\x03key\x05value\x00\x00\xff"), uint8(3))
	f.Add(bytes.Repeat([]byte("\x01a\x011"), 100), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, scale uint8) {
		// Each record is a key-length byte, the key, a value-length byte
		// and the value; scale stretches the value to reach multi-byte
		// lengths and records spanning blocks.
		var pairs []kv
		for len(data) > 0 {
			kl := min(int(data[0]), len(data)-1)
			k := string(data[1 : 1+kl])
			data = data[1+kl:]
			var v string
			if len(data) > 0 {
				vl := min(int(data[0]), len(data)-1)
				v = string(bytes.Repeat(data[1:1+vl], 1+int(scale)%64))
				data = data[1+vl:]
			}
			pairs = append(pairs, kv{k, v})
		}
		for _, c := range codecs {
			got, err := decode(bytes.NewReader(encode(t, c, pairs)))
			if err != nil {
				t.Fatalf("%v: %v", c, err)
			}
			equalPairs(t, got, pairs)
		}
	})
}
