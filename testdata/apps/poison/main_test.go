package main

import "testing"

func panicOf(f func()) (msg any) {
	defer func() { msg = recover() }()
	f()
	return nil
}

func TestPoison(t *testing.T) {
	if msg := panicOf(func() { Map("in/p.txt", "fine\nthen POISON here") }); msg != "poison: found POISON in in/p.txt" {
		t.Errorf("Map panic %v", msg)
	}
	if msg := panicOf(func() { Reduce("poisonreduce", []string{"1"}) }); msg != "poison: poisoned key poisonreduce" {
		t.Errorf("Reduce panic %v", msg)
	}
	if got := Reduce("poison", []string{"1", "1"}); got != "2" {
		t.Errorf("Reduce(poison) = %q", got)
	}
	if kvs := Map("f", "poison poisonreduce"); len(kvs) != 2 {
		t.Errorf("Map of lowercase words = %v", kvs)
	}
}
