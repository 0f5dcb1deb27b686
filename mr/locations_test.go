package mr

import (
	"reflect"
	"strings"
	"testing"
)

func TestLocationsRoundTrip(t *testing.T) {
	srcs := []Source{
		{Addr: "", Maps: []MapRange{{First: 0, Count: 3, Attempt: 1}, {First: 7, Count: 1, Attempt: 2}}},
		{Addr: "10.0.0.2:7070", Maps: []MapRange{{First: 3, Count: 4, Attempt: 1, Epoch: 1}, {First: 8, Count: 2, Attempt: 1, Epoch: 1}}},
		{Addr: "10.0.0.3:7070", Maps: []MapRange{{First: 10, Count: 1, Attempt: 3, Epoch: 2}}},
	}
	got, err := EncodeLocations(srcs).Sources(11)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, srcs) {
		t.Fatalf("decoded %+v; want %+v", got, srcs)
	}
	if _, err := EncodeLocations(srcs).Sources(12); err == nil || !strings.Contains(err.Error(), "leave out map task 11") {
		t.Fatalf("with a 12th map task: %v; want it named as left out", err)
	}
	if got := srcs[2].Maps[0].Ref(10).File("m"); got != "m10-e2-a3" {
		t.Fatalf("file = %s; want m10-e2-a3", got)
	}
}

// A run of first attempts costs a few bytes a range.
func TestLocationsAreSmall(t *testing.T) {
	var src Source
	for first := 0; first < 200_000; first += 10 {
		src.Maps = append(src.Maps, MapRange{First: first, Count: 5, Attempt: 1})
	}
	if n := len(EncodeLocations([]Source{src})); n > 3*len(src.Maps) {
		t.Fatalf("%d ranges took %d bytes; want at most 3 a range", len(src.Maps), n)
	}
}

func TestLocationsRejectsNonsense(t *testing.T) {
	for name, srcs := range map[string][]Source{
		"a map named twice": {{Maps: []MapRange{{First: 0, Count: 2, Attempt: 1}}}, {Addr: "h:1", Maps: []MapRange{{First: 1, Count: 1, Attempt: 1}}}},
		"past the last map": {{Maps: []MapRange{{First: 0, Count: 5, Attempt: 1}}}},
		"an empty range":    {{Maps: []MapRange{{First: 0, Count: 0, Attempt: 1}}}},
	} {
		if _, err := EncodeLocations(srcs).Sources(4); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("%s: Sources = %v; want an error", name, err)
		}
	}
	good := EncodeLocations([]Source{{Addr: "h:1", Maps: []MapRange{{First: 0, Count: 4, Attempt: 1}}}})
	for n := range len(good) {
		if _, err := good[:n].Sources(4); err == nil {
			t.Errorf("cut to %d of %d bytes: no error", n, len(good))
		}
	}
	if _, err := append(good, 0).Sources(4); err == nil {
		t.Error("a trailing byte: no error")
	}
}
